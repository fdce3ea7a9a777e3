//! Re-reads the profiles when a file changes: the directory's config files
//! and the JSON are polled (mtime and size) every two seconds, so no
//! inotify dependency is needed.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tracing::{info, warn};

use super::{LastGood, ProfileError, load};
use crate::engine::{EngineHandle, Thresholds};
use crate::metrics::PtpMetrics;

const POLL: Duration = Duration::from_secs(2);

/// What identifies the current content of the watched files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fingerprint(Vec<(String, Option<SystemTime>, u64)>);

impl Fingerprint {
    #[must_use]
    pub(crate) fn take(dir: &Path, json: &Path) -> Self {
        let stat = |p: &Path| {
            std::fs::metadata(p)
                .map(|m| (m.modified().ok(), m.len()))
                .unwrap_or((None, 0))
        };
        let mut v = Vec::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.filter_map(Result::ok) {
                if let Ok(n) = e.file_name().into_string()
                    && super::file::is_candidate(&n)
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

/// Loads the profiles into the engine, remembering the last good version
/// of each file and the errors already reported.
pub(crate) struct Reloader {
    pub dir: PathBuf,
    pub json: PathBuf,
    pub defaults: Thresholds,
    pub engine: EngineHandle,
    pub metrics: PtpMetrics,
    last: LastGood,
    reported: Vec<String>,
    seen: Option<Fingerprint>,
}

impl Reloader {
    #[must_use]
    pub(crate) fn new(
        dir: PathBuf,
        json: PathBuf,
        defaults: Thresholds,
        engine: EngineHandle,
        metrics: PtpMetrics,
    ) -> Self {
        Self {
            dir,
            json,
            defaults,
            engine,
            metrics,
            last: LastGood::default(),
            reported: Vec::new(),
            seen: None,
        }
    }

    /// Re-loads when the files changed since the last call (or on the
    /// first). An error is counted and logged once, until it goes away.
    pub(crate) fn reload(&mut self) {
        let fp = Fingerprint::take(&self.dir, &self.json);
        if self.seen.as_ref() == Some(&fp) {
            return;
        }
        self.seen = Some(fp);
        let (set, errors) = load(&self.dir, &self.json, self.defaults, &mut self.last);
        let now: Vec<String> = errors.iter().map(ToString::to_string).collect();
        for (e, text) in errors.iter().zip(&now) {
            if self.reported.contains(text) {
                continue;
            }
            let kind = match e {
                ProfileError::Syntax { file, .. } if file.ends_with(".config") => "ptp_config",
                ProfileError::Read { path, .. }
                    if path.extension().is_some_and(|x| x == "config") =>
                {
                    "ptp_config"
                }
                _ => "ptp_profiles",
            };
            self.metrics.config_errors.with_label_values(&[kind]).inc();
            warn!(error = %e, "PTP profile file does not parse; its last good version stays");
        }
        self.reported = now;
        info!(
            configs = set.configs.len(),
            profiles = set.thresholds.len(),
            "PTP profiles loaded"
        );
        self.engine.with(|e, sink| e.set_profiles(set, sink));
    }
}

/// Re-loads whenever the files change, and on SIGHUP even when they look
/// unchanged.
pub(crate) async fn watch(mut r: Reloader) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup()).ok();
    loop {
        let hangup = async {
            match hup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            Some(()) = hangup => r.seen = None,
        }
        r.reload();
    }
}
