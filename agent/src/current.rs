//! The current state of every event kind: its one owner, and the only
//! thing its readers ask (v2 and v1 CurrentState, the v1-era transport's
//! CurrentState, the initial notification, status pings, AMQP status
//! requests, and what a consumer sidecar serves from what it relayed).
//!
//! A kind's state is the engine's values when the engine has any, read
//! from the engine itself rather than from a copy of its events, so a
//! reset (`CMD RESTART`) or a daemon's death is never masked by a stale
//! copy. Otherwise it is the last event published from outside the engine
//! (`create/event`, a sidecar's relayed events); those are published only
//! through [`Current::publish`], which keeps them here.

use std::sync::Arc;

use arc_swap::ArcSwapOption;

use crate::engine::{EngineHandle, Snapshot};
use crate::event::{Event, EventKind};
use crate::transport::{Dispatcher, Outgoing};

pub(crate) struct Current {
    engine: EngineHandle,
    dispatcher: Arc<Dispatcher>,
    /// The last event per kind published through [`Current::publish`].
    external: [ArcSwapOption<Outgoing>; EventKind::ALL.len()],
}

impl Current {
    #[must_use]
    pub(crate) fn new(engine: EngineHandle, dispatcher: Arc<Dispatcher>) -> Arc<Self> {
        Arc::new(Self {
            engine,
            dispatcher,
            external: Default::default(),
        })
    }

    /// Publishes an event that does not come from the engine (to every
    /// subscriber and tap) and keeps it as its kind's state.
    pub(crate) fn publish(&self, event: Event) {
        if let Some(out) = self.dispatcher.publish_kept(event) {
            self.external[out.kind().index()].store(Some(out));
        }
    }

    /// The state of `kind`, `None` when nothing is known.
    #[must_use]
    pub(crate) fn get(&self, kind: EventKind) -> Option<Event> {
        self.read(kind).ok()
    }

    /// [`Current::get`], or the placeholder (`ptp-not-set` before any PTP
    /// data, `event-not-found` when this kind has none).
    #[must_use]
    pub(crate) fn or_placeholder(&self, kind: EventKind) -> Event {
        self.read(kind).unwrap_or_else(|snap| {
            Event::new(
                kind,
                snap.values_or_placeholder(kind, self.dispatcher.node()),
            )
        })
    }

    /// The node's name.
    #[must_use]
    pub(crate) fn node(&self) -> &str {
        self.dispatcher.node()
    }

    /// The state, or why there is none (the engine's snapshot).
    fn read(&self, kind: EventKind) -> Result<Event, Snapshot> {
        match self.engine.snapshot(kind) {
            Snapshot::Values(values) => Ok(Event::new(kind, values)),
            none => match self.external[kind.index()].load_full() {
                Some(out) => Ok(out.event.clone()),
                None => Err(none),
            },
        }
    }
}

#[cfg(test)]
mod tests;
