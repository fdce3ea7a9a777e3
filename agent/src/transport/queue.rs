//! A subscriber's bounded queue. Sync state only matters as its latest
//! value: once the queue has been full, it keeps one entry per resource, the
//! newest, until the consumer has caught up (the queue ran empty), so a slow
//! consumer gets the final state right after its current request instead of
//! a backlog of stale ones.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::event::{Event, EventKind, ValueKeys};

/// One event on its way out: serialised once, shared by every queue.
#[derive(Debug)]
pub(crate) struct Outgoing {
    pub event: Event,
    /// The v2 structured CloudEvent JSON.
    pub v2: Bytes,
    /// The v1 application event after its id, built on first use: most
    /// events never reach a v1 subscriber.
    v1_tail: OnceLock<Bytes>,
    /// The v1 CloudEvent for consumer sidecars of the v1-era HTTP
    /// transport, built on first use.
    transport: OnceLock<Bytes>,
    /// The address of the first value: events for the same clock coalesce,
    /// events for different clocks of one kind do not.
    key: Box<str>,
    /// When it was serialised, ready for the queues (stage timing).
    pub queued: Instant,
}

impl Outgoing {
    #[must_use]
    pub(crate) fn new(event: Event) -> Self {
        let v2 = Bytes::from(event.to_v2_json());
        let key = event
            .values
            .first()
            .map(|v| v.resource_address.as_str())
            .unwrap_or_default()
            .into();
        Self {
            event,
            v2,
            v1_tail: OnceLock::new(),
            transport: OnceLock::new(),
            key,
            queued: Instant::now(),
        }
    }

    /// The v1 body after the subscription id, serialised once per
    /// event; each subscriber sends its own id prefix before it
    /// ([`crate::event::v1::v1_id_prefix`]).
    #[must_use]
    pub(crate) fn v1_tail(&self, node: &str, keys: ValueKeys) -> &[u8] {
        self.v1_tail.get_or_init(|| {
            let mut out = Vec::with_capacity(self.v2.len());
            crate::event::v1::write_v1_tail(&mut out, &self.event, node, keys);
            Bytes::from(out)
        })
    }

    /// The structured v1 CloudEvent a v1-era consumer sidecar receives at
    /// its `/event`, serialised once per event.
    #[must_use]
    pub(crate) fn transport_body(&self, node: &str, keys: ValueKeys) -> &[u8] {
        self.transport
            .get_or_init(|| crate::event::v1::v1_current_state(&self.event, node, keys).into())
    }

    /// The address of the first value: with the kind, what coalesces.
    #[must_use]
    pub(crate) fn coalesce_key(&self) -> &str {
        &self.key
    }

    fn same_resource(&self, other: &Self) -> bool {
        self.event.kind == other.event.kind && self.key == other.key
    }

    #[must_use]
    pub(crate) fn kind(&self) -> EventKind {
        self.event.kind
    }
}

/// What happened to a pushed event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pushed {
    Queued,
    /// The queue is coalescing; this many older events for the same
    /// resource were dropped.
    Coalesced(usize),
    /// The queue was full of other resources; the oldest event was dropped.
    DroppedOldest,
    /// The queue is closed (consumer removed or shutting down).
    Closed,
}

pub(super) struct Queue {
    items: Mutex<VecDeque<Arc<Outgoing>>>,
    capacity: usize,
    /// Set when a push found the queue full; cleared when it runs empty.
    /// While set, a push replaces every queued event of its resource.
    coalescing: AtomicBool,
    ready: Notify,
    closed: AtomicBool,
}

impl Queue {
    #[must_use]
    pub(super) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            // Grown on demand: most queues hold one event at a time.
            items: Mutex::new(VecDeque::new()),
            capacity,
            coalescing: AtomicBool::new(false),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    pub(super) fn push(&self, item: Arc<Outgoing>) -> Pushed {
        if self.closed.load(Ordering::Acquire) {
            return Pushed::Closed;
        }
        let mut q = self.items.lock();
        if q.len() >= self.capacity {
            self.coalescing.store(true, Ordering::Relaxed);
        }
        let mut outcome = Pushed::Queued;
        if self.coalescing.load(Ordering::Relaxed) {
            let before = q.len();
            q.retain(|o| !o.same_resource(&item));
            if q.len() < before {
                outcome = Pushed::Coalesced(before - q.len());
            }
        }
        if q.len() >= self.capacity {
            // Full of other resources: the oldest goes.
            q.pop_front();
            outcome = Pushed::DroppedOldest;
        }
        q.push_back(item);
        drop(q);
        self.ready.notify_one();
        outcome
    }

    /// The next event; `None` once the queue is closed (what was still
    /// queued is discarded by [`Queue::close`]).
    pub(super) async fn pop(&self) -> Option<Arc<Outgoing>> {
        loop {
            if self.closed.load(Ordering::Acquire) {
                return None;
            }
            if let Some(item) = self.pop_now() {
                return Some(item);
            }
            let wait = self.ready.notified();
            // Re-check after registering, so a push in between is not missed.
            if self.closed.load(Ordering::Acquire) || !self.items.lock().is_empty() {
                continue;
            }
            wait.await;
        }
    }

    fn pop_now(&self) -> Option<Arc<Outgoing>> {
        let mut q = self.items.lock();
        let item = q.pop_front()?;
        if q.is_empty() {
            // Caught up: deliver every transition again.
            self.coalescing.store(false, Ordering::Relaxed);
        }
        Some(item)
    }

    /// Whether a newer event for the same resource as `item` is queued.
    #[must_use]
    pub(super) fn has_newer(&self, item: &Outgoing) -> bool {
        self.items.lock().iter().any(|o| o.same_resource(item))
    }

    /// Stops the queue; returns what was still queued.
    pub(super) fn close(&self) -> usize {
        self.closed.store(true, Ordering::Release);
        let n = self.drain();
        self.ready.notify_one();
        n
    }

    #[must_use]
    pub(super) fn is_empty(&self) -> bool {
        self.items.lock().is_empty()
    }

    #[must_use]
    pub(super) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn drain(&self) -> usize {
        let mut q = self.items.lock();
        let n = q.len();
        q.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DataValue;

    fn ev(kind: EventKind, addr: &str, value: &str) -> Arc<Outgoing> {
        Arc::new(Outgoing::new(Event::new(
            kind,
            vec![DataValue::state(addr.to_owned(), value)],
        )))
    }

    fn values(q: &Queue) -> Vec<String> {
        q.items
            .lock()
            .iter()
            .map(|o| o.event.values[0].value.clone())
            .collect()
    }

    #[test]
    fn full_queue_replaces_the_same_resource_only() {
        let q = Queue::new(3);
        let lock = EventKind::LockState;
        assert_eq!(q.push(ev(lock, "/a", "1")), Pushed::Queued);
        assert_eq!(q.push(ev(lock, "/b", "2")), Pushed::Queued);
        assert_eq!(q.push(ev(EventKind::SyncState, "/a", "3")), Pushed::Queued);
        // Same kind and address as "1": "1" goes, order of the rest kept.
        assert_eq!(q.push(ev(lock, "/a", "4")), Pushed::Coalesced(1));
        assert_eq!(values(&q), ["2", "3", "4"]);
        // Nothing for /c: the oldest goes.
        assert_eq!(q.push(ev(lock, "/c", "5")), Pushed::DroppedOldest);
        assert_eq!(values(&q), ["3", "4", "5"]);
    }

    /// A burst for one resource into a full queue leaves one entry, the
    /// newest, not a queue of stale states (the slow-consumer case).
    #[tokio::test]
    async fn a_burst_keeps_one_entry_per_resource_until_caught_up() {
        let q = Queue::new(4);
        let lock = EventKind::LockState;
        for v in 0..4 {
            assert_eq!(q.push(ev(lock, "/a", &v.to_string())), Pushed::Queued);
        }
        assert_eq!(q.push(ev(lock, "/b", "b")), Pushed::DroppedOldest);
        assert_eq!(q.push(ev(lock, "/a", "4")), Pushed::Coalesced(3));
        for v in 5..100 {
            assert_eq!(q.push(ev(lock, "/a", &v.to_string())), Pushed::Coalesced(1));
        }
        assert_eq!(values(&q), ["b", "99"]);
        // Caught up: transitions are queued one by one again.
        assert!(q.pop().await.is_some());
        assert!(q.pop().await.is_some());
        assert_eq!(q.push(ev(lock, "/a", "100")), Pushed::Queued);
        assert_eq!(q.push(ev(lock, "/a", "101")), Pushed::Queued);
        assert_eq!(values(&q), ["100", "101"]);
    }

    #[tokio::test]
    async fn pop_waits_for_a_push_and_close_ends_it() {
        let q = Arc::new(Queue::new(4));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.pop().await.map(|o| o.kind()) });
        tokio::task::yield_now().await;
        q.push(ev(EventKind::ClockClass, "/a", "6"));
        assert_eq!(waiter.await.unwrap(), Some(EventKind::ClockClass));

        q.push(ev(EventKind::ClockClass, "/a", "7"));
        assert_eq!(q.close(), 1);
        assert!(q.pop().await.is_none());
        assert_eq!(q.push(ev(EventKind::ClockClass, "/a", "8")), Pushed::Closed);
    }
}
