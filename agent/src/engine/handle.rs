//! Shared access to the engine from many sources, and its timer task.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::changes::ChangeLog;
use super::{Engine, Ingest, Origin, Sink, Snapshot, What};
use crate::event::EventKind;

/// A fact that must wait for the log lines written before it.
pub(crate) type Deferred = (Origin, Instant, What<'static>);

/// How many deferred facts may wait for the line source.
const ORDER_QUEUE: usize = 1024;

/// Shared access to the engine plus its timer task.
#[derive(Clone)]
pub struct EngineHandle {
    engine: Arc<Mutex<Engine>>,
    /// The sink, wrapped to log each state change with its cause.
    sink: Arc<ChangeLog>,
    timer: Arc<tokio::sync::Notify>,
    /// The line source that orders other sources' facts after its lines.
    order: Arc<Mutex<Option<tokio::sync::mpsc::Sender<Deferred>>>>,
}

impl EngineHandle {
    /// Wraps `engine`; call [`EngineHandle::run_timers`] on a task.
    pub fn new(engine: Engine, sink: Arc<dyn Sink>) -> Self {
        Self {
            engine: Arc::new(Mutex::new(engine)),
            sink: Arc::new(ChangeLog::new(sink)),
            timer: Arc::new(tokio::sync::Notify::new()),
            order: Arc::new(Mutex::new(None)),
        }
    }

    /// Makes the caller (a line source) the one that applies other
    /// sources' facts: it reads every line already written, then applies
    /// each fact it receives, so a daemon's facts are applied in the order
    /// they happened.
    pub fn order_after_lines(&self) -> tokio::sync::mpsc::Receiver<Deferred> {
        let (tx, rx) = tokio::sync::mpsc::channel(ORDER_QUEUE);
        *self.order.lock() = Some(tx);
        rx
    }

    /// A fact of another source (the management socket): through the line
    /// source when there is one, else at once.
    pub fn apply_in_order(&self, origin: Origin, at: Instant, what: What<'static>) {
        let tx = self.order.lock().clone();
        let (origin, at, what) = match tx {
            None => (origin, at, what),
            Some(tx) => match tx.try_send((origin, at, what)) {
                Ok(()) => return,
                Err(
                    tokio::sync::mpsc::error::TrySendError::Full(f)
                    | tokio::sync::mpsc::error::TrySendError::Closed(f),
                ) => f,
            },
        };
        self.apply(&origin, at, what);
    }

    /// One line; what the engine made of it, for the source's counters.
    pub fn ingest_line(&self, origin: &Origin, line: &[u8]) -> Ingest {
        self.apply(origin, Instant::now(), What::Line(line))
    }

    /// One fact of `origin`'s daemon that happened `at` (a line read, a
    /// record's kernel time): the events it causes carry `at` to the
    /// delivery's stage timing.
    pub fn apply(&self, origin: &Origin, at: Instant, what: What<'_>) -> Ingest {
        let cause: &[u8] = match &what {
            What::Line(l) => l,
            What::Started(_) => b"daemon started",
            What::Exited => b"daemon exited or stopped answering",
            What::Step { .. } => b"clock step",
            What::PortState { .. } => b"port state from the management socket",
            What::ClockClass(_) => b"clock class from the management socket",
            What::TimeStatus { .. } => b"TIME_STATUS_NP from the management socket",
        };
        let mut e = self.engine.lock();
        self.sink.set_cause(cause, Some(at));
        let before = e.next_deadline();
        let r = e.apply(origin, at, what, &*self.sink);
        if e.next_deadline() != before {
            self.timer.notify_one();
        }
        r
    }

    /// A line of a connection that names its writer only in tagged lines:
    /// a tagged line sets `origin`'s config and process for the untagged
    /// lines after it. `read`: when the source read it.
    pub fn ingest_learning(&self, origin: &mut Origin, line: &[u8], read: Instant) -> Ingest {
        super::parse::common::learn(origin, line);
        self.apply(origin, read, What::Line(line))
    }

    /// Forgets all clock state (`CMD RESTART`).
    pub fn reset(&self) {
        self.with(|e, _| e.reset());
    }

    /// Runs `f` on the engine under its lock (rare paths: resets, exits).
    pub fn with<R>(&self, f: impl FnOnce(&mut Engine, &dyn Sink) -> R) -> R {
        let mut e = self.engine.lock();
        self.sink
            .set_cause(b"profile, interface or restart update", None);
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
                            let mut e = self.engine.lock();
                            self.sink.set_cause(b"holdover timeout", None);
                            e.tick(Instant::now(), &*self.sink);
                        }
                        () = self.timer.notified() => {}
                    }
                }
                None => self.timer.notified().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::engine::Thresholds;
    use crate::engine::parse::port::PortState;
    use crate::engine::tests::Recorder;
    use crate::event::EventKind;
    use crate::metrics::PtpMetrics;

    /// A port state read from the socket waits for the line source, which
    /// applies the lines written before it first: the daemon's `s0` then
    /// its port leaving SLAVE is FREERUN, not HOLDOVER then FREERUN.
    #[test]
    fn facts_of_other_sources_wait_for_the_lines_before_them() {
        let rec = Arc::new(Recorder::default());
        let e = Engine::new(
            "n1".into(),
            Thresholds::default(),
            PtpMetrics::unregistered().unwrap(),
        );
        let h = EngineHandle::new(e, rec.clone() as Arc<dyn Sink>);
        let origin = Origin {
            process: Some("ptp4l".into()),
            config: Some("ptp4l.0.config".into()),
            ..Origin::default()
        };
        h.ingest_line(
            &origin,
            b"ptp4l[1.0]: port 1: UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED",
        );
        h.ingest_line(
            &origin,
            b"ptp4l[1.0]: master offset 5 s2 freq 1 path delay 2",
        );
        let mut rx = h.order_after_lines();
        // The management client reads the port's new state...
        let port = What::PortState {
            port: 1,
            state: PortState::Listening,
        };
        h.apply_in_order(origin.clone(), Instant::now(), port);
        // ...while the `s0` ptp4l printed before it is still in the ring.
        let lock = |r: &Recorder| -> Vec<String> {
            r.states()
                .into_iter()
                .filter(|(k, _)| *k == EventKind::LockState)
                .map(|(_, s)| s)
                .collect()
        };
        assert_eq!(lock(&rec), ["LOCKED"]);
        // The line source drains its lines, then applies the fact.
        h.ingest_line(
            &origin,
            b"ptp4l[1.1]: master offset 5 s0 freq 1 path delay 2",
        );
        let (o, at, what) = rx.try_recv().unwrap();
        h.apply(&o, at, what);
        assert_eq!(lock(&rec), ["FREERUN"]);
    }
}
