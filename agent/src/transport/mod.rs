//! Delivery of events to subscribers. Each event is serialised once; the
//! same bytes go to every consumer endpoint through that endpoint's own
//! bounded queue, worker task and keep-alive connection, so a slow or dead
//! consumer delays no one else.

pub(crate) mod amqp;
mod conn;
mod endpoint;
pub(crate) mod policy;
mod queue;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use parking_lot::Mutex;
use prometheus::IntCounter;

use conn::{Conn, Target};
pub(crate) use conn::{DeliveryError, Outbound};
use endpoint::Endpoint;
pub(crate) use queue::Outgoing;

use crate::engine::Sink;
use crate::event::{Event, EventKind, ValueKeys};
use crate::metrics::Metrics;
use crate::store::{ApiVersion, Subscriptions};

/// Another consumer of every published event (the AMQP sender). Must not
/// block: it runs on the engine's path.
pub(crate) trait Tap: Send + Sync + 'static {
    fn publish(&self, out: &Arc<Outgoing>);
}

/// How an endpoint receives one kind: not at all yet, v2, or v1 with the
/// id of the subscription.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    None,
    V2,
    V1(uuid::Uuid),
    /// The v1-era HTTP transport: a structured v1 CloudEvent.
    Transport,
}

#[derive(Clone, Debug)]
pub(crate) struct DeliveryConfig {
    pub node: String,
    /// One POST, connect included.
    pub timeout: Duration,
    /// Undelivered events per endpoint before coalescing.
    pub queue_capacity: usize,
    /// Remove a consumer after this many network failures in a row (0: never).
    pub max_consecutive_failures: u32,
    /// A connection to a consumer unused this long is closed.
    pub idle: Duration,
    /// Value keys of what v1 subscribers and v1-era sidecars receive.
    pub v1_keys: ValueKeys,
}

/// What delivery is told (built by `config`).
#[derive(Clone, Debug)]
pub(crate) struct TransportConfig {
    pub delivery: DeliveryConfig,
    /// Where endpoints may point.
    pub policy: policy::Policy,
    /// CAs and client certificate of `https://` endpoints.
    pub endpoint_tls: crate::tls::ClientFiles,
    /// Open connections to endpoints at most (0: derived from the
    /// open-file limit).
    pub max_connections: usize,
    /// Time allowed on SIGTERM to drain the queues.
    pub drain_timeout: Duration,
}

/// `cne_events_received{type=<address>}` handles, resolved once per kind.
struct KindHandles {
    received_ok: IntCounter,
    received_fail: IntCounter,
}

/// What every endpoint worker shares.
pub(crate) struct Shared {
    cfg: DeliveryConfig,
    out: Arc<Outbound>,
    metrics: Arc<Metrics>,
    subs: Arc<dyn Subscriptions>,
    kinds: Vec<KindHandles>,
    retries: IntCounter,
    /// `cloud_event_agent_deliveries_total{outcome}`, resolved once.
    outcomes: Outcomes,
}

struct Outcomes {
    success: IntCounter,
    rejected: IntCounter,
    failed: IntCounter,
    /// Sent, no answer within the delivery timeout (not a failure).
    timeout: IntCounter,
    dropped: IntCounter,
}

/// Endpoints per event kind, for one generation of the subscription store.
#[derive(Default)]
struct Routes {
    generation: Option<u64>,
    by_kind: [Vec<Arc<Endpoint>>; EventKind::ALL.len()],
}

pub(crate) struct Dispatcher {
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Handle>,
    routes: ArcSwap<Routes>,
    /// Live endpoints by URI; guarded so one rebuild runs at a time.
    endpoints: Mutex<HashMap<Arc<str>, Arc<Endpoint>>>,
    closing: AtomicBool,
    taps: ArcSwap<Vec<Arc<dyn Tap>>>,
}

impl Dispatcher {
    /// Call from inside the tokio runtime that will run the endpoint workers.
    #[must_use]
    pub(crate) fn new(
        cfg: DeliveryConfig,
        out: Arc<Outbound>,
        metrics: Arc<Metrics>,
        subs: Arc<dyn Subscriptions>,
    ) -> Arc<Self> {
        let kinds = EventKind::ALL
            .iter()
            .map(|k| {
                let addr = k.address(&cfg.node);
                let h = &metrics.api.events_received;
                KindHandles {
                    received_ok: h.with_label_values(&[addr.as_str(), "success"]),
                    received_fail: h.with_label_values(&[addr.as_str(), "failed"]),
                }
            })
            .collect();
        let retries = metrics.delivery.retries.clone();
        let d = &metrics.delivery.deliveries;
        let outcomes = Outcomes {
            success: d.with_label_values(&["success"]),
            rejected: d.with_label_values(&["rejected"]),
            failed: d.with_label_values(&["failed"]),
            timeout: d.with_label_values(&["timeout"]),
            dropped: d.with_label_values(&["dropped"]),
        };
        Arc::new(Self {
            shared: Arc::new(Shared {
                cfg,
                out,
                metrics,
                subs,
                kinds,
                retries,
                outcomes,
            }),
            runtime: tokio::runtime::Handle::try_current().ok(),
            routes: ArcSwap::from_pointee(Routes::default()),
            endpoints: Mutex::new(HashMap::new()),
            closing: AtomicBool::new(false),
            taps: ArcSwap::from_pointee(Vec::new()),
        })
    }

    /// Adds a consumer of every published event.
    pub(crate) fn add_tap(&self, tap: Arc<dyn Tap>) {
        let mut taps = (**self.taps.load()).clone();
        taps.push(tap);
        self.taps.store(Arc::new(taps));
    }

    /// Publishes `event` even when nobody receives it, and returns it
    /// serialised (`None` once closing): for [`crate::current::Current`],
    /// which keeps it as the kind's state.
    pub(crate) fn publish_kept(&self, event: Event) -> Option<Arc<Outgoing>> {
        self.publish_out(event, None, true)
    }

    /// Queues `event` to its endpoints and taps. Unless `keep`, an event
    /// nobody receives is not even serialised.
    fn publish_out(
        &self,
        event: Event,
        read: Option<Instant>,
        keep: bool,
    ) -> Option<Arc<Outgoing>> {
        if self.closing.load(Ordering::Acquire) {
            return None;
        }
        let routes = self.routes();
        let kind = event.kind;
        if !keep && routes.by_kind[kind.index()].is_empty() && self.taps.load().is_empty() {
            return None;
        }
        let out = Arc::new(Outgoing::new(event));
        let stages = &self.shared.metrics.delivery.stages;
        if let Some(read) = read {
            stages.engine.observe(
                out.event
                    .created
                    .saturating_duration_since(read)
                    .as_secs_f64(),
            );
        }
        stages.queued.observe(
            out.queued
                .saturating_duration_since(out.event.created)
                .as_secs_f64(),
        );
        for ep in &routes.by_kind[kind.index()] {
            ep.push(out.clone(), &self.shared);
        }
        for tap in self.taps.load().iter() {
            tap.publish(&out);
        }
        Some(out)
    }

    /// The outbound connections' settings (TLS, policy, cap).
    #[must_use]
    pub(crate) fn outbound(&self) -> &Arc<Outbound> {
        &self.shared.out
    }

    #[must_use]
    pub(crate) fn node(&self) -> &str {
        &self.shared.cfg.node
    }

    /// Value keys of v1 bodies.
    #[must_use]
    pub(crate) fn v1_keys(&self) -> ValueKeys {
        self.shared.cfg.v1_keys
    }

    /// POSTs `body` to `endpoint` once on a new connection (the initial
    /// notification); returns the HTTP status.
    ///
    /// # Errors
    /// Network failure, timeout or an unusable URI.
    pub(crate) async fn post_once(
        &self,
        endpoint: &str,
        body: Bytes,
    ) -> Result<u16, DeliveryError> {
        Conn::new(Target::parse(endpoint)?, self.shared.out.clone())
            .post(&[&body], self.shared.cfg.timeout)
            .await
    }

    /// Undelivered events over all endpoints (queued and in flight).
    #[must_use]
    pub(crate) fn pending(&self) -> usize {
        self.endpoints.lock().values().map(|e| e.pending()).sum()
    }

    /// Stops taking events and waits up to `timeout` for the queues to
    /// drain; what is left is dropped (and logged).
    pub(crate) async fn shutdown(&self, timeout: Duration) {
        self.closing.store(true, Ordering::Release);
        let end = Instant::now() + timeout;
        while self.pending() > 0 && Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let left = self.pending();
        if left > 0 {
            tracing::warn!(events = left, "drain timeout: undelivered events dropped");
        }
        for ep in self.endpoints.lock().values() {
            ep.close(&self.shared);
        }
    }

    /// The routes for the store's current generation, rebuilt when it moved.
    fn routes(&self) -> Arc<Routes> {
        let routes = self.routes.load_full();
        let generation = self.shared.subs.generation();
        if routes.generation == Some(generation) {
            return routes;
        }
        self.rebuild()
    }

    fn rebuild(&self) -> Arc<Routes> {
        let mut endpoints = self.endpoints.lock();
        // Read the generation before the snapshot: a change in between only
        // causes one more rebuild.
        let generation = self.shared.subs.generation();
        let current = self.routes.load_full();
        if current.generation == Some(generation) {
            return current;
        }
        let subs = self.shared.subs.snapshot();
        let node = self.shared.cfg.node.as_str();
        let mut routes = Routes {
            generation: Some(generation),
            ..Routes::default()
        };
        let mut live: HashMap<Arc<str>, Arc<Endpoint>> = HashMap::with_capacity(subs.len());
        let mut formats: HashMap<Arc<str>, [Format; EventKind::ALL.len()]> = HashMap::new();
        for sub in &subs {
            let ep = match live.get(sub.endpoint.as_str()) {
                Some(ep) => ep.clone(),
                None => {
                    let reuse = endpoints
                        .get(sub.endpoint.as_str())
                        .filter(|e| !e.is_dead())
                        .cloned();
                    let Some(ep) = reuse.or_else(|| self.start(&sub.endpoint, sub.version)) else {
                        continue;
                    };
                    live.insert(ep.uri.clone(), ep.clone());
                    ep
                }
            };
            let fmts = formats
                .entry(ep.uri.clone())
                .or_insert([Format::None; EventKind::ALL.len()]);
            for kind in EventKind::matching(node, &sub.resource) {
                // v2 wins when an endpoint has subscriptions of both versions.
                let f = &mut fmts[kind.index()];
                *f = match (sub.version, *f) {
                    (ApiVersion::V2, _) => Format::V2,
                    (ApiVersion::V1, Format::None) => Format::V1(sub.id),
                    (ApiVersion::V1, kept) => kept,
                    (ApiVersion::Transport, _) => Format::Transport,
                };
                let list = &mut routes.by_kind[kind.index()];
                // One delivery per endpoint, however many of its
                // subscriptions cover the kind (exact and prefix).
                if !list.iter().any(|e| Arc::ptr_eq(e, &ep)) {
                    list.push(ep.clone());
                }
            }
        }
        for (uri, fmts) in &formats {
            if let Some(ep) = live.get(uri) {
                ep.set_v1_ids(fmts.map(|f| match f {
                    Format::V1(id) => Some(id),
                    _ => None,
                }));
                ep.set_transport(fmts.map(|f| f == Format::Transport));
            }
        }
        for (uri, ep) in endpoints.iter() {
            if !live.contains_key(uri) {
                ep.close(&self.shared);
            }
        }
        *endpoints = live;
        let routes = Arc::new(routes);
        self.routes.store(routes.clone());
        routes
    }

    fn start(&self, uri: &str, version: ApiVersion) -> Option<Arc<Endpoint>> {
        let Some(rt) = &self.runtime else {
            tracing::warn!(endpoint = uri, "no runtime to deliver on");
            return None;
        };
        // A v1-era sidecar's endpoint is its base URL: events go to its
        // `/event`, as structured CloudEvents its receiver recognises.
        let sidecar = version == ApiVersion::Transport;
        Some(Endpoint::spawn(
            uri.into(),
            sidecar,
            self.shared.clone(),
            rt,
        ))
    }
}

impl Sink for Dispatcher {
    fn publish(&self, event: Event) {
        self.publish_out(event, None, false);
    }

    fn publish_read(&self, event: Event, read: Instant) {
        self.publish_out(event, Some(read), false);
    }
}

/// One request of the agent's own (TokenReview, JWKS) to `url`; returns
/// the status and the body (at most 1 MiB).
///
/// # Errors
/// An unusable URL, a network failure or no answer within `timeout`.
pub(crate) async fn call(
    out: &Arc<Outbound>,
    url: &str,
    method: &str,
    headers: &[String],
    body: &[u8],
    timeout: Duration,
) -> Result<(u16, Vec<u8>), DeliveryError> {
    Conn::new(Target::parse(url)?, out.clone())
        .call(method, headers, body, timeout)
        .await
}

/// Outbound settings for unit tests: web PKI roots, default policy.
#[cfg(test)]
pub(crate) fn test_outbound() -> Arc<Outbound> {
    conn::tests::test_outbound(1024)
}

#[cfg(test)]
mod tests;
