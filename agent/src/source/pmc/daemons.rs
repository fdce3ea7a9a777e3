//! The running ptp4l processes a source found (eBPF: exec and exit), with
//! their management sockets: when a source keeps this directory, the
//! management clients follow it instead of the profiles' configs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::engine::{Origin, Pid};

/// Shared directory of live ptp4l daemons.
#[derive(Clone, Debug, Default)]
pub struct Daemons(Arc<Mutex<Dir>>);

#[derive(Debug, Default)]
struct Dir {
    /// A source keeps the directory (else the profiles name the sockets).
    kept: bool,
    live: HashMap<Pid, (Origin, PathBuf)>,
}

/// More ptp4l than any node runs: a bound against a flood of processes.
const MAX: usize = 256;

impl Daemons {
    /// The source will keep the directory.
    pub fn keep(&self) {
        self.0.lock().kept = true;
    }

    /// A ptp4l came up, with its socket as the agent reaches it.
    pub fn up(&self, origin: &Origin, uds: PathBuf) {
        let Some(d) = origin.daemon else {
            return;
        };
        let mut dir = self.0.lock();
        if dir.live.len() < MAX || dir.live.contains_key(&d) {
            dir.live.insert(d, (origin.clone(), uds));
        }
    }

    pub fn down(&self, origin: &Origin) {
        if let Some(d) = origin.daemon {
            self.0.lock().live.remove(&d);
        }
    }

    /// The sockets to follow, or `None` when no source keeps the directory.
    #[must_use]
    pub fn targets(&self) -> Option<Vec<(Origin, PathBuf)>> {
        let dir = self.0.lock();
        dir.kept.then(|| dir.live.values().cloned().collect())
    }
}

/// Whether the socket at `outer` (`/proc/<pid>/root/<path>`) is bound by
/// `pid` itself: several ptp4l of one mount namespace share ptp4l's
/// default socket path unless each config sets `uds_address`, and the
/// socket file then belongs to one of them only. Read from
/// `/proc/<pid>/net/unix` (bound path and inode) and `/proc/<pid>/fd`.
#[must_use]
pub(super) fn owned_by(pid: u32, outer: &Path) -> bool {
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    let Ok(inner) = outer.strip_prefix(&root) else {
        return true;
    };
    let inner = Path::new("/").join(inner);
    let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/unix")) else {
        return false;
    };
    let inodes: Vec<&str> = table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(7).map(Path::new) == Some(inner.as_path())).then(|| f.get(6).copied())?
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|e| {
        std::fs::read_link(e.path()).is_ok_and(|t| {
            t.to_str()
                .and_then(|t| t.strip_prefix("socket:["))
                .and_then(|t| t.strip_suffix(']'))
                .is_some_and(|i| inodes.contains(&i))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_bound_here_is_ours_and_no_other() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("s");
        let _s = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        let me = std::process::id();
        let outer = PathBuf::from(format!("/proc/{me}/root")).join(path.strip_prefix("/").unwrap());
        assert!(owned_by(me, &outer));
        let other = outer.with_file_name("t");
        assert!(!owned_by(me, &other));
    }
}
