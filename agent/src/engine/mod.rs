//! The state engine: log lines and kernel records in, O-RAN events out, on
//! change only. Synchronous and single-owner; sources call it through
//! [`EngineHandle`], which also runs its timers (holdover).
//!
//! `fact.rs` is what sources hand in (typed facts tagged with their daemon
//! and time), `parse/` reads lines in place, `clock.rs` is one clock's
//! state machine, `node.rs` the node's sync-state, `state/` ties them per
//! instance (a running daemon; for the log socket, a config name).

pub mod alias;
mod changes;
pub mod clock;
mod fact;
mod handle;
pub mod node;
pub mod parse;
pub mod profiles;
mod state;
#[cfg(test)]
pub(crate) mod tests;

pub use clock::Thresholds;
pub use fact::{Daemon, Origin, Pid, What};
pub use handle::{Deferred, EngineHandle};
pub use state::{DEAD_OFFSET, Engine, Ingest};

use crate::event::{DataValue, Event, EventKind, NODE_PREFIX, SyncState};

/// What the engine is told (built by `config`).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Defaults for instances without a profile.
    pub thresholds: Thresholds,
    /// Directory of the `ptp4l.N.config` files.
    pub ptp_config_dir: std::path::PathBuf,
    /// The ptp-configmap JSON with per-profile thresholds.
    pub ptp_profiles: std::path::PathBuf,
}

/// Where published events go (the delivery dispatcher). Must not block.
pub trait Sink: Send + Sync {
    fn publish(&self, event: Event);

    /// `event`, caused by a line or record the source read at `read` (the
    /// first stage of the stage timing; see [`EngineHandle::apply`]).
    fn publish_read(&self, event: Event, read: std::time::Instant) {
        let _ = read;
        self.publish(event);
    }
}

/// The current state of one event kind, for CurrentState and the initial
/// notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Snapshot {
    Values(Vec<DataValue>),
    /// No PTP data seen yet (§2.6 `ptp-not-set`).
    NotSet,
    /// This kind has no data on this node (§2.6 `event-not-found`).
    NotFound,
}

impl Snapshot {
    /// The values to send: real ones, or the §2.6 placeholder.
    #[must_use]
    pub fn values_or_placeholder(self, kind: EventKind, node: &str) -> Vec<DataValue> {
        let leaf = match self {
            Self::Values(v) => return v,
            Self::NotSet => "ptp-not-set",
            Self::NotFound => "event-not-found",
        };
        let addr = format!("{NODE_PREFIX}{node}/{leaf}");
        match kind {
            EventKind::ClockClass => vec![DataValue::metric(addr, 0)],
            EventKind::SyncState => vec![DataValue::state(addr, SyncState::Freerun)],
            _ => vec![
                DataValue::state(addr.clone(), SyncState::Freerun),
                DataValue::metric(addr, 0),
            ],
        }
    }
}
