//! The state engine: log lines and kernel records in, O-RAN events out, on
//! change only. Synchronous and single-owner; sources call it through
//! [`EngineHandle`], which also runs its timers (holdover).

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::event::{DataValue, Event, EventKind, NODE_PREFIX, SyncState};

/// Where published events go (the delivery dispatcher). Must not block.
pub trait Sink: Send + Sync + 'static {
    fn publish(&self, event: Event);
}

/// What the source knows about the writer of a line, for lines that carry
/// no `[ptp4l.N.config]` tag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// Process name (`ptp4l`, `phc2sys`, ...), when known.
    pub process: Option<Arc<str>>,
    /// Config name (`ptp4l.0.config`), when known.
    pub config: Option<Arc<str>>,
    pub pid: Option<u32>,
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

/// The engine. Interim: accepts lines and knows nothing yet.
pub struct Engine {
    node: String,
}

impl Engine {
    #[must_use]
    pub fn new(node: String) -> Self {
        Self { node }
    }

    #[must_use]
    pub fn node(&self) -> &str {
        &self.node
    }

    /// One log line (without its newline).
    pub fn ingest_line(&mut self, _origin: &Origin, _line: &[u8], _now: Instant, _sink: &dyn Sink) {
    }

    /// Fires timers that are due.
    pub fn tick(&mut self, _now: Instant, _sink: &dyn Sink) {}

    /// The earliest timer deadline, if any.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        None
    }

    /// Forgets all clock state (`CMD RESTART`).
    pub fn reset(&mut self) {}

    #[must_use]
    pub fn snapshot(&self, _kind: EventKind) -> Snapshot {
        Snapshot::NotSet
    }
}

/// Shared access to the engine plus its timer task.
#[derive(Clone)]
pub struct EngineHandle {
    engine: Arc<Mutex<Engine>>,
    sink: Arc<dyn Sink>,
    timer: Arc<tokio::sync::Notify>,
}

impl EngineHandle {
    /// Wraps `engine`; call [`EngineHandle::run_timers`] on a task.
    pub fn new(engine: Engine, sink: Arc<dyn Sink>) -> Self {
        Self {
            engine: Arc::new(Mutex::new(engine)),
            sink,
            timer: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub fn ingest_line(&self, origin: &Origin, line: &[u8]) {
        let mut e = self.engine.lock();
        let before = e.next_deadline();
        e.ingest_line(origin, line, Instant::now(), &*self.sink);
        if e.next_deadline() != before {
            self.timer.notify_one();
        }
    }

    /// Runs `f` on the engine under its lock (rare paths: resets, exits).
    pub fn with<R>(&self, f: impl FnOnce(&mut Engine, &dyn Sink) -> R) -> R {
        let mut e = self.engine.lock();
        let r = f(&mut e, &*self.sink);
        drop(e);
        self.timer.notify_one();
        r
    }

    #[must_use]
    pub fn snapshot(&self, kind: EventKind) -> Snapshot {
        self.engine.lock().snapshot(kind)
    }

    /// Sleeps until the engine's next deadline, fires it, repeats.
    pub async fn run_timers(self) {
        loop {
            let next = self.engine.lock().next_deadline();
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at.into()) => {
                            self.engine.lock().tick(Instant::now(), &*self.sink);
                        }
                        () = self.timer.notified() => {}
                    }
                }
                None => self.timer.notified().await,
            }
        }
    }
}
