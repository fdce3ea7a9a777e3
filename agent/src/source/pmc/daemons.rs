//! The running ptp4l processes a source found (eBPF: exec and exit), with
//! their management sockets: when a source keeps this directory, the
//! management clients follow it instead of the profiles' configs.

use std::collections::HashMap;
use std::path::PathBuf;
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
