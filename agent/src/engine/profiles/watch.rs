//! Re-reads the profiles when a file changes: the directory's config files
//! and the JSON are polled (mtime and size) every two seconds, so no
//! inotify dependency is needed.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

use super::{ProfileError, load};
use crate::engine::{EngineHandle, Thresholds};
use crate::metrics::PtpMetrics;

const POLL: Duration = Duration::from_secs(2);

/// What identifies the current content of the watched files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fingerprint(Vec<(String, Option<SystemTime>, u64)>);

impl Fingerprint {
    #[must_use]
    pub fn take(dir: &Path, json: &Path) -> Self {
        let stat = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| (m.modified().ok(), m.len()))
                .unwrap_or((None, 0))
        };
        let mut v = Vec::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.filter_map(Result::ok) {
                if let Ok(n) = e.file_name().into_string()
                    && super::file::is_config_name(&n)
                {
                    let (m, l) = stat(&e.path());
                    v.push((n, m, l));
                }
            }
        }
        v.sort();
        let (m, l) = stat(json);
        v.push((json.display().to_string(), m, l));
        Self(v)
    }
}

/// Loads the profiles into the engine; returns what was read. Parse errors
/// are counted and logged (once per change of the files).
pub fn load_into(
    dir: &Path,
    json: &Path,
    defaults: Thresholds,
    engine: &EngineHandle,
    metrics: &PtpMetrics,
) -> Fingerprint {
    let fp = Fingerprint::take(dir, json);
    let (set, errors) = load(dir, json, defaults);
    for e in &errors {
        let kind = match e {
            ProfileError::Syntax { file, .. } if file.ends_with(".config") => "ptp_config",
            ProfileError::Read { path, .. } if path.extension().is_some_and(|x| x == "config") => {
                "ptp_config"
            }
            _ => "ptp_profiles",
        };
        metrics.config_errors.with_label_values(&[kind]).inc();
        warn!(error = %e, "PTP profile file ignored.");
    }
    info!(
        configs = set.configs.len(),
        profiles = set.thresholds.len(),
        "PTP profiles loaded."
    );
    engine.with(|e, sink| e.set_profiles(set, sink));
    fp
}

/// Re-loads whenever the files differ from `last`.
pub async fn watch(
    dir: PathBuf,
    json: PathBuf,
    defaults: Thresholds,
    engine: EngineHandle,
    metrics: PtpMetrics,
    mut last: Fingerprint,
) {
    loop {
        tokio::time::sleep(POLL).await;
        if Fingerprint::take(&dir, &json) != last {
            last = load_into(&dir, &json, defaults, &engine, &metrics);
        }
    }
}
