//! Profiles and thresholds: the linuxptp config files of
//! `--ptp-config-dir` and the ptp-configmap JSON of `--ptp-profiles`,
//! resolved into what the engine needs per config. Files are re-read when
//! they change (see `watch`).

pub(crate) mod file;
pub(crate) mod json;
mod watch;

use std::path::{Path, PathBuf};

pub(crate) use file::ConfigFile;
pub(crate) use json::Profile;
pub(crate) use watch::{Reloader, watch};

use super::Thresholds;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{file}:{line}: {reason}")]
    Syntax {
        file: String,
        line: usize,
        reason: &'static str,
    },
    #[error("{file}:{line}: {source}")]
    Json {
        file: String,
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What the engine knows about one config (`ptp4l.0.config`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigInfo {
    pub config: String,
    pub profile: Option<String>,
    /// Port N is `interfaces[N - 1]`.
    pub interfaces: Vec<String>,
    pub thresholds: Thresholds,
    pub tbc: bool,
    pub ha: bool,
    pub phc2sys: bool,
    pub chronyd: bool,
    pub uds_address: Option<PathBuf>,
}

/// Every config and profile, resolved.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProfileSet {
    pub configs: Vec<ConfigInfo>,
    /// Profiles with their effective thresholds (the threshold metric).
    pub thresholds: Vec<(String, Thresholds)>,
}

impl ProfileSet {
    /// Joins the config files with the JSON profiles. A config whose
    /// profile has no threshold entry takes the first profile's that has
    /// one (the anchor's rule); an unknown profile takes the defaults.
    #[must_use]
    pub fn resolve(files: Vec<ConfigFile>, profiles: &[Profile], defaults: Thresholds) -> Self {
        let first = profiles.iter().find_map(|p| p.thresholds);
        let configs = files
            .into_iter()
            .map(|f| {
                let p = f
                    .profile
                    .as_deref()
                    .and_then(|n| profiles.iter().find(|p| p.name == n));
                ConfigInfo {
                    thresholds: p.map_or(defaults, |p| p.thresholds.or(first).unwrap_or(defaults)),
                    tbc: p.is_some_and(|p| p.tbc),
                    ha: p.is_some_and(|p| p.ha),
                    phc2sys: p.is_some_and(|p| p.phc2sys),
                    chronyd: p.is_some_and(|p| p.chronyd),
                    config: f.name,
                    profile: f.profile,
                    interfaces: f.interfaces,
                    uds_address: f.uds_address,
                }
            })
            .collect();
        let thresholds = profiles
            .iter()
            .map(|p| (p.name.clone(), p.thresholds.or(first).unwrap_or(defaults)))
            .collect();
        Self {
            configs,
            thresholds,
        }
    }

    #[must_use]
    pub fn config(&self, name: &str) -> Option<&ConfigInfo> {
        self.configs.iter().find(|c| c.config == name)
    }
}

/// The last version of each file that parsed: a file that breaks keeps
/// its previous content in force until it is fixed or removed.
#[derive(Clone, Debug, Default)]
pub(crate) struct LastGood {
    files: Vec<ConfigFile>,
    profiles: Vec<Profile>,
}

/// Reads every config file of `dir` and the profiles JSON. A file that does
/// not parse is reported, and its last good version (if any) used; a
/// missing JSON is no profiles.
#[must_use]
pub(crate) fn load(
    dir: &Path,
    json_path: &Path,
    defaults: Thresholds,
    last: &mut LastGood,
) -> (ProfileSet, Vec<ProfileError>) {
    let mut errors = Vec::new();
    let mut files = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        let mut names: Vec<String> = rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| file::is_candidate(n))
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            match read(&path).and_then(|t| file::parse(&name, &t)) {
                Ok(f) if f.is_linuxptp() => files.push(f),
                Ok(_) => {}
                Err(e) => {
                    errors.push(e);
                    if let Some(f) = last.files.iter().find(|f| f.name == name) {
                        files.push(f.clone());
                    }
                }
            }
        }
    }
    let profiles = match std::fs::read_to_string(json_path) {
        Ok(t) => json::parse(&json_path.display().to_string(), &t).unwrap_or_else(|e| {
            errors.push(e);
            last.profiles.clone()
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(source) => {
            errors.push(ProfileError::Read {
                path: json_path.to_owned(),
                source,
            });
            Vec::new()
        }
    };
    last.files.clone_from(&files);
    last.profiles.clone_from(&profiles);
    (ProfileSet::resolve(files, &profiles, defaults), errors)
}

fn read(path: &Path) -> Result<String, ProfileError> {
    let bytes = std::fs::read(path).map_err(|source| ProfileError::Read {
        path: path.to_owned(),
        source,
    })?;
    String::from_utf8(bytes).map_err(|e| ProfileError::Syntax {
        file: path.display().to_string(),
        line: 1 + e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|c| **c == b'\n')
            .count(),
        reason: "not UTF-8",
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn loads_dir_and_json() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("ptp4l.0.config"),
            "#profile: slave1\n[global]\n[ens1f0]\n[ens1f1]\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("ptp4l.1.config"),
            "#profile: other\n[ens2f0]\n",
        )
        .unwrap();
        std::fs::write(d.path().join("ptp4l.2.config"), "[global\n").unwrap();
        std::fs::write(d.path().join("ptp4l.3.config"), b"[ens\xff]\n").unwrap();
        std::fs::write(d.path().join("notes.txt"), "x").unwrap();
        // A user's own name: a config when it has `[global]`.
        std::fs::write(d.path().join("slave.cfg"), "[global]\n[ens3f0]\n").unwrap();
        std::fs::write(d.path().join("other.conf"), "[server]\nport 1\n").unwrap();
        let json = d.path().join("profiles.json");
        std::fs::write(
            &json,
            r#"[{"name":"slave1","ptpClockThreshold":{"holdOverTimeout":2,"maxOffsetThreshold":5000,"minOffsetThreshold":-5000}},
                {"name":"other"}]"#,
        )
        .unwrap();
        let mut last = LastGood::default();
        let (set, errors) = load(d.path(), &json, Thresholds::default(), &mut last);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(set.configs.len(), 3);
        assert_eq!(set.config("slave.cfg").unwrap().interfaces, ["ens3f0"]);
        assert!(set.config("other.conf").is_none());
        let c0 = set.config("ptp4l.0.config").unwrap();
        assert_eq!(c0.interfaces, ["ens1f0", "ens1f1"]);
        assert_eq!(c0.thresholds.max_offset, 5000);
        assert_eq!(c0.thresholds.holdover, Duration::from_secs(2));
        // No threshold entry: the first profile's.
        assert_eq!(
            set.config("ptp4l.1.config").unwrap().thresholds.max_offset,
            5000
        );
        assert_eq!(set.thresholds.len(), 2);
        // A broken JSON keeps the last good profiles; a broken config its
        // last good version.
        std::fs::write(&json, "[{").unwrap();
        std::fs::write(d.path().join("ptp4l.0.config"), "[ens1f0\n").unwrap();
        let (set, errors) = load(d.path(), &json, Thresholds::default(), &mut last);
        assert_eq!(errors.len(), 4, "{errors:?}");
        let c0 = set.config("ptp4l.0.config").unwrap();
        assert_eq!((c0.thresholds.max_offset, c0.interfaces.len()), (5000, 2));
        // Missing JSON: defaults.
        let none = d.path().join("none");
        let (set, _) = load(d.path(), &none, Thresholds::default(), &mut last);
        assert_eq!(
            set.config("ptp4l.0.config").unwrap().thresholds,
            Thresholds::default()
        );
    }
}
