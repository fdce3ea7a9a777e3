//! Start-up scan of the store directory. Loads every `<uuid>*.json` (the
//! anchor loads each file whose name before the first `.` is a UUID); a file
//! that does not parse is moved aside as `.corrupt` and the others load.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tracing::{info, warn};
use uuid::Uuid;

use super::atomic::{self, TMP_PREFIX};
use super::format::ClientFile;

/// One client file that parsed.
pub(super) struct Loaded {
    pub path: PathBuf,
    pub file: ClientFile,
}

/// Whether `name` is a client file: `<uuid>[.anything].json`.
#[must_use]
pub(super) fn is_client_file(name: &str) -> bool {
    let Some(stem) = name.split('.').next() else {
        return false;
    };
    name.ends_with(".json") && Uuid::try_parse(stem).is_ok()
}

/// Reads the client files of `dir` in name order. Leftover temporary files
/// of an interrupted write are removed.
///
/// # Errors
/// The directory cannot be listed.
pub(super) fn client_files(dir: &Path) -> io::Result<Vec<Loaded>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with(TMP_PREFIX) {
            remove_leftover(&entry.path());
        } else if is_client_file(&name) {
            names.push(name);
        }
    }
    names.sort();
    Ok(names
        .into_iter()
        .filter_map(|name| read_one(&dir.join(name)))
        .collect())
}

fn remove_leftover(path: &Path) {
    match fs::remove_file(path) {
        Ok(()) => {
            info!(file = %path.display(), "removed the temporary file of an interrupted write");
        }
        Err(e) => warn!(file = %path.display(), error = %e, "cannot remove a temporary file"),
    }
}

fn read_one(path: &Path) -> Option<Loaded> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            warn!(file = %path.display(), error = %e, "cannot read subscription file; skipped");
            return None;
        }
    };
    match serde_json::from_slice::<ClientFile>(&bytes) {
        Ok(file) => Some(Loaded {
            path: path.to_owned(),
            file,
        }),
        Err(e) => {
            set_aside(path, &e);
            None
        }
    }
}

/// Moves a file that does not parse out of the way, with a log line naming
/// it and where the parse failed.
pub(super) fn set_aside(path: &Path, e: &serde_json::Error) {
    match atomic::move_aside(path) {
        Ok(to) => warn!(
            file = %path.display(),
            line = e.line(),
            column = e.column(),
            error = %e,
            moved_to = %to.display(),
            "store file does not parse; moved aside"
        ),
        Err(io) => warn!(
            file = %path.display(),
            line = e.line(),
            column = e.column(),
            error = %e,
            rename_error = %io,
            "store file does not parse and cannot be moved aside; ignored"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_files_are_client_files() {
        assert!(is_client_file("03dc46b6-2493-37fa-82e2-7545714a17d6.json"));
        assert!(is_client_file(
            "03dc46b6-2493-37fa-82e2-7545714a17d6.old.json"
        ));
        assert!(!is_client_file(
            "03dc46b6-2493-37fa-82e2-7545714a17d6.json.corrupt"
        ));
        assert!(!is_client_file("pub.json"));
        assert!(!is_client_file("metrics.json"));
        assert!(!is_client_file(
            ".tmp.03dc46b6-2493-37fa-82e2-7545714a17d6.json.1.2"
        ));
    }

    #[test]
    fn corrupt_files_are_moved_aside_others_load() {
        let d = tempfile::tempdir().unwrap();
        let good = include_str!("../../../tests/data/store/anchor-client.json");
        fs::write(
            d.path().join("03dc46b6-2493-37fa-82e2-7545714a17d6.json"),
            good,
        )
        .unwrap();
        let bad = "11111111-2222-3333-4444-555555555555.json";
        fs::write(d.path().join(bad), "{\n \"clientID\": ").unwrap();
        let tmp = ".tmp.11111111-2222-3333-4444-555555555555.json.9.9";
        fs::write(d.path().join(tmp), "{").unwrap();
        fs::write(d.path().join("notes.txt"), "x").unwrap();

        let loaded = client_files(d.path()).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].file.sub_store.store.len(), 1);
        assert!(d.path().join(format!("{bad}.corrupt")).exists());
        assert!(!d.path().join(bad).exists());
        assert!(!d.path().join(tmp).exists());
        assert!(d.path().join("notes.txt").exists());
    }
}
