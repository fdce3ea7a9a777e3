//! The state engine: log lines and kernel records in, O-RAN events out, on
//! change only. Synchronous and single-owner; sources call it through
//! [`EngineHandle`], which also runs its timers (holdover).
//!
//! `fact.rs` is what sources hand in (typed facts tagged with their daemon
//! and time), `parse/` reads lines in place, `clock.rs` is one clock's
//! state machine, `node.rs` the node's sync-state, `state/` ties them per
//! instance (a running daemon; for the log socket, a config name).

pub(crate) mod alias;
mod changes;
pub(crate) mod clock;
mod fact;
mod handle;
pub(crate) mod node;
pub(crate) mod parse;
pub(crate) mod profiles;
mod state;
#[cfg(test)]
pub(crate) mod tests;

pub use clock::Thresholds;
pub use fact::Origin;
pub(crate) use fact::{Daemon, Pid, What};
pub(crate) use handle::{Deferred, EngineHandle};
#[cfg(test)]
pub(crate) use state::DEAD_OFFSET;
pub use state::Engine;
pub(crate) use state::Ingest;

use crate::event::{DataValue, Event, EventKind, NODE_PREFIX, SyncState};

/// What the engine is told (built by `config`).
#[derive(Clone, Debug)]
pub(crate) struct EngineConfig {
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
    /// No PTP data seen yet (`ptp-not-set`).
    NotSet,
    /// This kind has no data on this node (`event-not-found`).
    NotFound,
}

impl Snapshot {
    /// The values to send: real ones, or the placeholder.
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
