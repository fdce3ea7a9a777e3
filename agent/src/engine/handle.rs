//! Shared access to the engine from many sources, and its timer task.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::{Engine, Ingest, Origin, Sink, Snapshot};
use crate::event::{Event, EventKind};

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

    /// One line; what the engine made of it, for the source's counters.
    pub fn ingest_line(&self, origin: &Origin, line: &[u8]) -> Ingest {
        self.ingest_line_at(origin, line, Instant::now())
    }

    /// One line the source read at `read`: the events it causes carry that
    /// time to the delivery's stage timing.
    pub fn ingest_line_at(&self, origin: &Origin, line: &[u8], read: Instant) -> Ingest {
        let sink = Stamp {
            sink: &*self.sink,
            read,
        };
        let mut e = self.engine.lock();
        let before = e.next_deadline();
        let r = e.ingest_line(origin, line, Instant::now(), &sink);
        if e.next_deadline() != before {
            self.timer.notify_one();
        }
        r
    }

    /// Forgets all clock state (`CMD RESTART`).
    pub fn reset(&self) {
        self.with(|e, _| e.reset());
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

/// Passes events on with the time their cause was read.
struct Stamp<'a> {
    sink: &'a dyn Sink,
    read: Instant,
}

impl Sink for Stamp<'_> {
    fn publish(&self, event: Event) {
        self.sink.publish_read(event, self.read);
    }
}
