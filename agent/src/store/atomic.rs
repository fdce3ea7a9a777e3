//! Durable file updates: a reader (or a restart after `kill -9` or a power
//! cut) sees the old content or the new one, never a mix.
//!
//! Write: temporary file in the same directory, fsync, rename over the
//! target, fsync of the directory (so the rename itself is on disk).
//! Blocking: call from a blocking thread.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Temporary files start with this and are ignored (then removed) at load.
pub(super) const TMP_PREFIX: &str = ".tmp.";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `dir/name` with `bytes`, durably.
///
/// # Errors
/// Any I/O error; the temporary file is removed and the old content stays.
pub(super) fn write(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = dir.join(format!(
        "{TMP_PREFIX}{name}.{}.{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = write_tmp(&tmp, bytes).and_then(|()| fs::rename(&tmp, dir.join(name)));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(dir)
}

fn write_tmp(tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    // 0600 as the anchor writes client files: they name consumer endpoints.
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Removes `dir/name` durably; `Ok(false)` when it did not exist.
///
/// # Errors
/// Any I/O error other than the file not existing.
pub(super) fn remove(dir: &Path, name: &str) -> io::Result<bool> {
    match fs::remove_file(dir.join(name)) {
        Ok(()) => sync_dir(dir).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Renames `path` to `<path>.corrupt` (or `.corrupt.N` when taken), durably;
/// returns the new path.
///
/// # Errors
/// Any I/O error.
pub(super) fn move_aside(path: &Path) -> io::Result<PathBuf> {
    let mut target = PathBuf::from(format!("{}.corrupt", path.display()));
    let mut n = 1;
    while target.exists() {
        target = PathBuf::from(format!("{}.corrupt.{n}", path.display()));
        n += 1;
    }
    fs::rename(path, &target)?;
    if let Some(dir) = path.parent() {
        sync_dir(dir)?;
    }
    Ok(target)
}

/// fsync of a directory: makes creations, renames and removals in it durable.
///
/// # Errors
/// Any I/O error.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.json", b"one").unwrap();
        write(d.path(), "a.json", b"two, longer").unwrap();
        assert_eq!(fs::read(d.path().join("a.json")).unwrap(), b"two, longer");
        assert_eq!(names(d.path()), ["a.json"]);
        let mode = fs::metadata(d.path().join("a.json")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777,
            0o600
        );
    }

    #[test]
    fn failed_write_keeps_old_content_and_no_temp() {
        let d = tempfile::tempdir().unwrap();
        // A non-empty directory in the way: the rename fails.
        fs::create_dir(d.path().join("b.json")).unwrap();
        fs::write(d.path().join("b.json/x"), b"").unwrap();
        assert!(write(d.path(), "b.json", b"new").is_err());
        assert_eq!(names(d.path()), ["b.json"]);
        assert!(write(&d.path().join("missing"), "c.json", b"x").is_err());
    }

    #[test]
    fn remove_and_move_aside() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.json", b"x").unwrap();
        assert!(remove(d.path(), "a.json").unwrap());
        assert!(!remove(d.path(), "a.json").unwrap());
        fs::write(d.path().join("c.json"), b"{").unwrap();
        let p1 = move_aside(&d.path().join("c.json")).unwrap();
        fs::write(d.path().join("c.json"), b"{").unwrap();
        let p2 = move_aside(&d.path().join("c.json")).unwrap();
        assert_ne!(p1, p2);
        assert_eq!(names(d.path()), ["c.json.corrupt", "c.json.corrupt.1"]);
    }
}
