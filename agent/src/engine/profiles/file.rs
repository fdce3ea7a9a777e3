//! One linuxptp config file (`/var/run/ptp4l.0.config`): the
//! daemon's `#profile: <name>` header, the interface sections (numbered as
//! ptp4l numbers its ports) and the `uds_address` of `[global]`. Besides
//! the names the daemon writes, a user's own `*.cfg` / `*.conf` (the
//! README's socket mode: `ptp4l -f slave.cfg`) is one when it has a
//! `[global]` section.

use std::path::PathBuf;

use super::ProfileError;

/// Sections that are not interfaces.
const NOT_PORTS: &[&str] = &["global", "nmea", "unicast_master_table"];

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// The file name: `ptp4l.0.config`.
    pub name: String,
    pub profile: Option<String>,
    /// Interface sections in file order: port N is `interfaces[N - 1]`.
    pub interfaces: Vec<String>,
    pub uds_address: Option<PathBuf>,
    /// `message_tag` as the config name it carries (`[ptp4l.7.config]`
    /// gives `ptp4l.7.config`; a `:level` suffix is dropped).
    pub message_tag: Option<String>,
    /// It has a `[global]` section: what makes a file of any name a
    /// linuxptp config.
    pub global: bool,
}

/// Whether `name` is a config the daemon writes:
/// `(ptp4l|ts2phc|phc2sys|synce4l|chronyd).N.config`.
#[must_use]
pub(crate) fn is_config_name(name: &str) -> bool {
    let Some(rest) = name.strip_suffix(".config") else {
        return false;
    };
    let Some((proc_name, n)) = rest.rsplit_once('.') else {
        return false;
    };
    matches!(
        proc_name,
        "ptp4l" | "ts2phc" | "phc2sys" | "synce4l" | "chronyd"
    ) && n.bytes().all(|c| c.is_ascii_digit())
}

/// Whether the file `name` of the config directory is read: a daemon's
/// name, or a `*.cfg` / `*.conf` of the user's (kept only when it is a
/// linuxptp config, see [`ConfigFile::is_linuxptp`]).
#[must_use]
pub(crate) fn is_candidate(name: &str) -> bool {
    is_config_name(name)
        || (!name.starts_with('.') && (name.ends_with(".cfg") || name.ends_with(".conf")))
}

impl ConfigFile {
    /// A daemon's name is a config whatever it holds; any other file only
    /// with a `[global]` section (not some other program's `.conf`).
    #[must_use]
    pub fn is_linuxptp(&self) -> bool {
        self.global || is_config_name(&self.name)
    }
}

/// `[ptp4l.7.config:6]` -> `ptp4l.7.config`.
fn tag_name(v: &str) -> Option<String> {
    let v = v.trim_start_matches('[').trim_end_matches(']');
    let v = v.rsplit_once(':').map_or(v, |(n, _)| n);
    (!v.is_empty()).then(|| v.to_owned())
}

/// Parses `text`, the content of the file `name`.
///
/// # Errors
/// A section header that is not closed (with its line number).
pub fn parse(name: &str, text: &str) -> Result<ConfigFile, ProfileError> {
    let mut f = ConfigFile {
        name: name.to_owned(),
        ..ConfigFile::default()
    };
    let mut section = String::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if let Some(p) = line.strip_prefix("#profile:") {
            f.profile = Some(p.trim().to_owned()).filter(|p| !p.is_empty());
            continue;
        }
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(s) = line.strip_prefix('[') {
            let s = s.strip_suffix(']').ok_or_else(|| ProfileError::Syntax {
                file: name.to_owned(),
                line: n + 1,
                reason: "unterminated section header",
            })?;
            section = s.trim().to_owned();
            f.global |= section == "global";
            // synce4l's `[<synce1>]` names a device, not a port.
            if !NOT_PORTS.contains(&section.as_str())
                && !section.starts_with('<')
                && !section.is_empty()
            {
                f.interfaces.push(section.clone());
            }
            continue;
        }
        if section == "global" {
            let mut kv = line.split_whitespace();
            match (kv.next(), kv.next()) {
                (Some("uds_address"), Some(v)) => f.uds_address = Some(PathBuf::from(v)),
                (Some("message_tag"), Some(v)) => f.message_tag = tag_name(v),
                _ => {}
            }
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_config_name("ptp4l.0.config"));
        assert!(is_config_name("ts2phc.12.config"));
        assert!(is_config_name("chronyd.0.config"));
        assert!(!is_config_name("ts2phc.0.cfg"));
        assert!(!is_config_name("ptp4l.x.config"));
        assert!(!is_config_name("foo.0.config"));
    }

    #[test]
    fn any_name_with_a_global_section() {
        assert!(is_candidate("ptp4l.0.config"));
        assert!(is_candidate("slave.cfg"));
        assert!(is_candidate("gm.conf"));
        assert!(!is_candidate(".slave.cfg"));
        assert!(!is_candidate("ptp-profiles.json"));
        assert!(!is_candidate("slave.cfg.bak"));
        assert!(
            parse("slave.cfg", "[global]\n[eth0]\n")
                .unwrap()
                .is_linuxptp()
        );
        assert!(
            !parse("other.conf", "[server]\nport 1\n")
                .unwrap()
                .is_linuxptp()
        );
        assert!(!parse("empty.cfg", "").unwrap().is_linuxptp());
        assert!(parse("ptp4l.0.config", "").unwrap().is_linuxptp());
    }

    #[test]
    fn daemon_style_file() {
        let text = "#profile: test-slave\n[global]\nslaveOnly 1\nuds_address /tmp/x/ptp4l\n\
                    [ens3f0]\nmasterOnly 0\n[ens3f1]\n[unicast_master_table]\ntable_id 1\n";
        let f = parse("ptp4l.1.config", text).unwrap();
        assert_eq!(f.profile.as_deref(), Some("test-slave"));
        assert_eq!(f.interfaces, ["ens3f0", "ens3f1"]);
        assert_eq!(f.uds_address, Some(PathBuf::from("/tmp/x/ptp4l")));
        let f = parse("slave.cfg", "[global]\nmessage_tag [ptp4l.7.config]\n").unwrap();
        assert_eq!(f.message_tag.as_deref(), Some("ptp4l.7.config"));
    }

    #[test]
    fn recorded_slave_config() {
        let text = include_str!("../../../../tests/data/ptp4l-slave-sw-ts.cfg");
        let f = parse("ptp4l.0.config", text).unwrap();
        assert_eq!(f.profile.as_deref(), Some("slave1"));
        assert_eq!(f.interfaces, ["veth-s"]);
    }

    #[test]
    fn bad_header() {
        let e = parse("ptp4l.0.config", "[global]\n[ens1f0\n").unwrap_err();
        assert!(e.to_string().contains("ptp4l.0.config:2"), "{e}");
    }
}
