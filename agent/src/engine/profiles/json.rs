//! The ptp-configmap JSON: an array of profiles with thresholds and
//! the options that tell T-BC, PTP-HA, phc2sys and chronyd profiles apart.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;

use super::ProfileError;
use crate::engine::Thresholds;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    name: Option<String>,
    ptp_clock_threshold: Option<RawThreshold>,
    #[serde(default)]
    ptp_settings: HashMap<String, serde_json::Value>,
    ts2_phc_opts: Option<String>,
    phc2sys_opts: Option<String>,
    chronyd_opts: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawThreshold {
    hold_over_timeout: Option<i64>,
    max_offset_threshold: Option<i64>,
    min_offset_threshold: Option<i64>,
}

/// One profile as the engine needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    pub name: String,
    /// `None`: no `ptpClockThreshold` entry.
    pub thresholds: Option<Thresholds>,
    /// `ptpSettings.controllingProfile`, or `external_pps` in ts2phc options.
    pub tbc: bool,
    /// `ptpSettings.haProfiles`.
    pub ha: bool,
    pub phc2sys: bool,
    pub chronyd: bool,
}

/// The anchor's validation: max must be > 0, holdover > 0 (else the
/// defaults); min above max becomes max - 1.
fn validate(t: RawThreshold) -> Thresholds {
    let d = Thresholds::default();
    let max = t
        .max_offset_threshold
        .filter(|m| *m > 0)
        .unwrap_or(d.max_offset);
    let mut min = t.min_offset_threshold.unwrap_or(d.min_offset);
    if min > max {
        min = max.saturating_sub(1);
    }
    let holdover = t
        .hold_over_timeout
        .and_then(|h| u64::try_from(h).ok())
        .filter(|h| *h > 0)
        .map_or(d.holdover, Duration::from_secs);
    Thresholds {
        max_offset: max,
        min_offset: min,
        holdover,
    }
}

/// Parses the configmap text.
///
/// # Errors
/// Not a JSON array of profiles (with line and column).
pub(crate) fn parse(file: &str, text: &str) -> Result<Vec<Profile>, ProfileError> {
    let raw: Vec<Raw> = serde_json::from_str(text).map_err(|source| ProfileError::Json {
        file: file.to_owned(),
        line: source.line(),
        source,
    })?;
    Ok(raw
        .into_iter()
        .filter_map(|r| {
            let name = r.name.filter(|n| !n.is_empty())?;
            let opt = |o: &Option<String>| o.as_deref().is_some_and(|s| !s.trim().is_empty());
            Some(Profile {
                thresholds: r.ptp_clock_threshold.map(validate),
                tbc: r.ptp_settings.contains_key("controllingProfile")
                    || r.ts2_phc_opts
                        .as_deref()
                        .is_some_and(|o| o.contains("external_pps")),
                ha: r.ptp_settings.contains_key("haProfiles"),
                phc2sys: opt(&r.phc2sys_opts),
                chronyd: opt(&r.chronyd_opts),
                name,
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_validated_like_the_anchor() {
        let text = r#"[
          {"name":"a","ptpClockThreshold":{"holdOverTimeout":30,"maxOffsetThreshold":100,"minOffsetThreshold":-100},
           "phc2sysOpts":"-a -r","ptp4lOpts":"-2"},
          {"name":"b","ptpClockThreshold":{"holdOverTimeout":0,"maxOffsetThreshold":-5,"minOffsetThreshold":500}},
          {"name":"tbc","ptpSettings":{"controllingProfile":"x"},"unknownKey":1},
          {"name":"ha","ptpSettings":{"haProfiles":"p1,p2"},"chronydOpts":"-d"},
          {"name":"pps","ts2PhcOpts":"-s generic --ts2phc.external_pps 1"},
          {"interface":"nameless"}
        ]"#;
        let p = parse("profiles.json", text).unwrap();
        assert_eq!(p.len(), 5);
        let a = p[0].thresholds.unwrap();
        assert_eq!(
            (a.max_offset, a.min_offset, a.holdover),
            (100, -100, Duration::from_secs(30))
        );
        assert!(p[0].phc2sys && !p[0].tbc);
        let b = p[1].thresholds.unwrap();
        assert_eq!(
            (b.max_offset, b.min_offset, b.holdover),
            (100, 99, Duration::from_secs(5))
        );
        assert!(p[2].tbc && p[2].thresholds.is_none());
        assert!(p[3].ha && p[3].chronyd);
        assert!(p[4].tbc);
    }

    #[test]
    fn syntax_error_names_the_line() {
        let e = parse("p.json", "[\n{\"name\": }\n]").unwrap_err();
        assert!(e.to_string().contains("p.json:2"), "{e}");
        assert!(parse("p.json", "{}").is_err());
    }
}
