//! One consumer endpoint: its queue, its connection and the task that
//! drains the one into the other, with retries and the dead-consumer rule.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use prometheus::IntCounter;
use tracing::{debug, info, warn};
use uuid::Uuid;

use super::conn::{Conn, DeliveryError, Target};
use super::queue::{Outgoing, Pushed, Queue};
use super::{DeliveryConfig, Shared};
use crate::event::EventKind;
use crate::event::v1::{V1_ID_PREFIX_LEN, v1_id_prefix};

/// Structured-mode CloudEvents: what makes the anchor's sidecar receiver
/// read the whole event from the body (it has no `ce-*` headers here).
const CLOUDEVENTS_JSON: &str = "application/cloudevents+json";

/// Attempts after the first before an event counts as failed.
pub(super) const RETRIES: u32 = 3;

pub(super) struct Endpoint {
    pub uri: Arc<str>,
    queue: Queue,
    /// Queued plus in flight, for draining at shutdown.
    pending: AtomicUsize,
    /// Removed after too many failures: routes must not use it again.
    dead: AtomicBool,
    /// Per event kind: `Some(subscription id)` when this endpoint gets that
    /// kind through a v1 subscription (v1 body), `None` for v2.
    v1_ids: Mutex<[Option<Uuid>; EventKind::ALL.len()]>,
    /// A v1-era consumer sidecar: POSTs go to `<uri>/event`.
    sidecar: bool,
    /// Per event kind: sent as the v1-era transport's CloudEvent.
    transport: Mutex<[bool; EventKind::ALL.len()]>,
}

enum Outcome {
    Answered(u16),
    /// No answer. `superseded`: retries stopped early because a newer
    /// state for the same resource is queued.
    Failed {
        error: DeliveryError,
        superseded: bool,
    },
}

impl Endpoint {
    /// Creates the endpoint and starts its worker on `rt`.
    pub(super) fn spawn(
        uri: Arc<str>,
        sidecar: bool,
        shared: Arc<Shared>,
        rt: &tokio::runtime::Handle,
    ) -> Arc<Self> {
        let ep = Arc::new(Self {
            uri,
            queue: Queue::new(shared.cfg.queue_capacity),
            pending: AtomicUsize::new(0),
            dead: AtomicBool::new(false),
            v1_ids: Mutex::new([None; EventKind::ALL.len()]),
            sidecar,
            transport: Mutex::new([false; EventKind::ALL.len()]),
        });
        rt.spawn(ep.clone().run(shared));
        ep
    }

    /// Queues `item`; accounts depth and coalescing.
    pub(super) fn push(&self, item: Arc<Outgoing>, shared: &Shared) {
        let m = &shared.metrics.delivery;
        match self.queue.push(item) {
            Pushed::Queued => {
                self.pending.fetch_add(1, Ordering::AcqRel);
                m.queue_depth.inc();
            }
            Pushed::Coalesced(n) => {
                // n older entries out, one newer in.
                self.pending.fetch_sub(n - 1, Ordering::AcqRel);
                m.queue_depth.sub(i64::try_from(n - 1).unwrap_or(0));
                m.coalesced.inc_by(n as u64);
            }
            Pushed::DroppedOldest => shared.outcomes.dropped.inc(),
            Pushed::Closed => {}
        }
    }

    /// Which kinds go out in the v1 format, and with which subscription id.
    pub(super) fn set_v1_ids(&self, ids: [Option<Uuid>; EventKind::ALL.len()]) {
        *self.v1_ids.lock() = ids;
    }

    /// Which kinds go out as the v1-era transport's CloudEvent.
    pub(super) fn set_transport(&self, kinds: [bool; EventKind::ALL.len()]) {
        *self.transport.lock() = kinds;
    }

    /// The v1 subscription id `item` goes out with, or `None` for v2.
    fn v1_id(&self, item: &Outgoing) -> Option<Uuid> {
        self.v1_ids.lock()[item.kind().index()]
    }

    #[must_use]
    pub(super) fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    #[must_use]
    pub(super) fn is_dead(&self) -> bool {
        self.dead.load(Ordering::Acquire)
    }

    /// Stops the worker and discards what is queued.
    pub(super) fn close(&self, shared: &Shared) {
        let n = self.queue.close();
        self.pending.fetch_sub(n, Ordering::AcqRel);
        shared
            .metrics
            .delivery
            .queue_depth
            .sub(i64::try_from(n).unwrap_or(0));
    }

    async fn run(self: Arc<Self>, shared: Arc<Shared>) {
        let target = if self.sidecar {
            Target::parse(&format!("{}/event", self.uri.trim_end_matches('/')))
        } else {
            Target::parse(&self.uri)
        };
        let mut conn = match target {
            Ok(t) if self.sidecar => Some(Conn::with_content_type(
                t,
                shared.out.clone(),
                CLOUDEVENTS_JSON,
            )),
            Ok(t) => Some(Conn::new(t, shared.out.clone())),
            Err(e) => {
                warn!(endpoint = %self.uri, error = %e, "cannot deliver to this endpoint");
                None
            }
        };
        let mut failures = 0u32;
        while let Some(item) = self.next(conn.as_mut(), &shared).await {
            shared.metrics.delivery.queue_depth.dec();
            let outcome = match conn.as_mut() {
                Some(c) => {
                    c.reserve().await;
                    // Boxed: the delivery's state lives only while it runs,
                    // not in every idle endpoint's task.
                    Box::pin(self.deliver(c, &item, &shared.cfg, &shared.retries)).await
                }
                None => Outcome::Failed {
                    error: DeliveryError::Unusable,
                    superseded: false,
                },
            };
            let handles = &shared.kinds[item.kind().index()];
            match outcome {
                Outcome::Answered(code) => {
                    failures = 0;
                    let m = &shared.metrics.delivery;
                    if let Some(written) = conn.as_ref().and_then(Conn::written) {
                        let answered = written.elapsed();
                        m.stages.answered.observe(answered.as_secs_f64());
                        let w = written.saturating_duration_since(item.queued);
                        m.stages.written.observe(w.as_secs_f64());
                    }
                    if (200..300).contains(&code) {
                        m.latency
                            .observe(item.event.created.elapsed().as_secs_f64());
                        shared.outcomes.success.inc();
                        handles.received_ok.inc();
                    } else {
                        debug!(endpoint = %self.uri, status = code, "consumer refused an event");
                        shared.outcomes.rejected.inc();
                        handles.received_fail.inc();
                    }
                }
                Outcome::Failed {
                    error: e,
                    superseded,
                } => {
                    let m = &shared.metrics.delivery;
                    if e.is_timeout() {
                        shared.outcomes.timeout.inc();
                    } else {
                        shared.outcomes.failed.inc();
                    }
                    if superseded {
                        m.coalesced.inc();
                    }
                    handles.received_fail.inc();
                    if e.counts_as_dead() {
                        failures += 1;
                    }
                    let max = shared.cfg.max_consecutive_failures;
                    warn!(endpoint = %self.uri, error = %e, failures, max, "event not delivered");
                    if max > 0 && failures >= max {
                        self.pending.fetch_sub(1, Ordering::AcqRel);
                        self.remove(&shared);
                        return;
                    }
                }
            }
            self.pending.fetch_sub(1, Ordering::AcqRel);
            if let Some(c) = conn.as_mut()
                && shared.out.under_pressure()
                && self.queue.is_empty()
            {
                // Others wait for a connection and this one has nothing
                // to send: hand the permit over now.
                c.close();
            }
        }
    }

    /// The next event; meanwhile an open connection is closed when it has
    /// been idle for the idle time, or when another endpoint needs its
    /// permit.
    async fn next(&self, conn: Option<&mut Conn>, shared: &Shared) -> Option<Arc<Outgoing>> {
        let Some(conn) = conn else {
            return self.queue.pop().await;
        };
        if !conn.is_open() {
            // No socket: no permit or buffer kept while waiting either.
            conn.close();
            return self.queue.pop().await;
        }
        tokio::select! {
            item = self.queue.pop() => return item,
            () = tokio::time::sleep(shared.cfg.idle) => {}
            () = shared.out.pressed() => {}
        }
        conn.close();
        self.queue.pop().await
    }

    async fn deliver(
        &self,
        conn: &mut Conn,
        item: &Outgoing,
        cfg: &DeliveryConfig,
        retries: &IntCounter,
    ) -> Outcome {
        let mut attempt = 0;
        // The shared bytes, no copy per subscriber: v2 as is, v1 as this
        // subscription's id prefix (on the stack) and the shared tail.
        let mut prefix = [0; V1_ID_PREFIX_LEN];
        let v1;
        let transport;
        let body: &[&[u8]] = match self.v1_id(item) {
            _ if self.transport.lock()[item.kind().index()] => {
                transport = [item.transport_body(&cfg.node, cfg.v1_keys)];
                &transport
            }
            Some(id) => {
                v1 = [
                    v1_id_prefix(id, &mut prefix),
                    item.v1_tail(&cfg.node, cfg.v1_keys),
                ];
                &v1
            }
            None => &[&item.v2],
        };
        loop {
            match conn.post(body, cfg.timeout).await {
                Ok(code) => return Outcome::Answered(code),
                // A slow consumer most likely got it: sending it again
                // would only queue a duplicate behind the first.
                Err(error)
                    if attempt >= RETRIES || self.queue.is_closed() || error.is_timeout() =>
                {
                    return Outcome::Failed {
                        error,
                        superseded: false,
                    };
                }
                Err(error) if self.queue.has_newer(item) => {
                    return Outcome::Failed {
                        error,
                        superseded: true,
                    };
                }
                Err(e) => {
                    debug!(endpoint = %self.uri, error = %e, attempt, "delivery failed; retrying");
                    retries.inc();
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }

    fn remove(&self, shared: &Shared) {
        self.dead.store(true, Ordering::Release);
        self.close(shared);
        shared.metrics.delivery.consumers_removed.inc();
        let n = shared.subs.remove_endpoint(&self.uri);
        info!(endpoint = %self.uri, subscriptions = n, "consumer removed after consecutive failures");
    }
}

/// 100 ms doubled per retry, ±25% jitter: the workspace's one backoff
/// (capped at 5 s, far above the [`RETRIES`] used here).
fn backoff(attempt: u32) -> Duration {
    cloud_event_client::backoff(attempt.saturating_add(1))
}
