//! The consumer sidecar (spec "Deployment roles"; anchor §6.2): the agent
//! runs next to a CNF, serves the API to it, subscribes at the publishers
//! on its behalf (over their v2 API, or over AMQP addresses) and relays what
//! arrives to the CNF's endpoints through its own dispatcher, so each CNF
//! subscription gets the format of the API it used (v1 or v2).
//!
//! The sidecar's node name must be the publishers' node (the resource
//! addresses name it); by default both are the host name.

pub mod amqp;
pub mod http;

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use parking_lot::Mutex;
use prometheus::IntCounter;
use tracing::{trace, warn};

use crate::api::problem::Problem;
use crate::event::EventKind;
use crate::event::parse::{ParseError, Received};
use crate::metrics::Metrics;
use crate::store::Subscriptions;
use crate::transport::Dispatcher;

/// Where publishers POST the events of the sidecar's subscriptions.
pub const INBOUND_PATH: &str = "/relay/event";

/// Hands relayed events to the local dispatcher, once each.
pub struct Relay {
    dispatcher: Arc<Dispatcher>,
    subs: Arc<dyn Subscriptions>,
    node: String,
    /// The last relayed event id per kind: a status reply that repeats the
    /// last event, or a second path for the same event, is not sent twice.
    last: Mutex<[Option<uuid::Uuid>; EventKind::ALL.len()]>,
    relayed: IntCounter,
    duplicate: IntCounter,
    invalid: IntCounter,
}

impl Relay {
    #[must_use]
    pub fn new(
        dispatcher: Arc<Dispatcher>,
        subs: Arc<dyn Subscriptions>,
        metrics: &Metrics,
    ) -> Arc<Self> {
        let m = &metrics.transport.relay_events;
        Arc::new(Self {
            node: dispatcher.node().to_owned(),
            dispatcher,
            subs,
            last: Mutex::new([None; EventKind::ALL.len()]),
            relayed: m.with_label_values(&["relayed"]),
            duplicate: m.with_label_values(&["duplicate"]),
            invalid: m.with_label_values(&["invalid"]),
        })
    }

    /// Relays one received event to the CNF's subscribers.
    pub fn deliver(&self, ev: Received) {
        if let Some(id) = ev.id {
            let mut last = self.last.lock();
            let slot = &mut last[ev.kind.index()];
            if *slot == Some(id) {
                self.duplicate.inc();
                return;
            }
            *slot = Some(id);
        }
        self.relayed.inc();
        trace!(kind = %ev.kind, "event relayed");
        self.dispatcher.publish_external(ev.into_event());
    }

    /// Counts and logs something that is not an event we can relay.
    pub fn invalid(&self, from: &str, e: &ParseError) {
        self.invalid.inc();
        warn!(from, error = %e, "received something that is not a usable event; dropped");
    }

    /// The event kinds the CNF's subscriptions cover.
    #[must_use]
    pub fn needed(&self) -> BTreeSet<EventKind> {
        self.subs
            .snapshot()
            .iter()
            .flat_map(|s| EventKind::matching(&self.node, &s.resource))
            .collect()
    }

    /// Bumped whenever the CNF's subscriptions change.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.subs.generation()
    }

    #[must_use]
    pub fn node(&self) -> &str {
        &self.node
    }
}

/// The route publishers deliver to (`POST /relay/event`).
pub fn inbound_router(relay: Arc<Relay>) -> Router {
    Router::new()
        .route(INBOUND_PATH, post(inbound))
        .with_state(relay)
}

async fn inbound(State(relay): State<Arc<Relay>>, body: Bytes) -> Response {
    // The publisher's endpoint check is an empty POST (v1 publishers).
    if body.is_empty() {
        return StatusCode::NO_CONTENT.into_response();
    }
    match crate::event::parse::parse_event(&body) {
        Ok(ev) => {
            relay.deliver(ev);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => {
            relay.invalid("http", &e);
            Problem::bad_request(
                "invalid-event",
                "Not an event",
                format!("the body is not a CloudEvent this sidecar can relay: {e}"),
            )
            .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::event::{DataValue, Event};
    use crate::store::Store;
    use crate::transport::DeliveryConfig;

    /// A dispatcher for node `n1` over `store`, and a relay into it.
    pub(super) fn relay_over(
        store: Arc<Store>,
        metrics: &Arc<Metrics>,
    ) -> (Arc<Dispatcher>, Arc<Relay>) {
        let d = Dispatcher::new(
            DeliveryConfig {
                node: "n1".into(),
                timeout: Duration::from_secs(1),
                queue_capacity: 4,
                max_consecutive_failures: 0,
                v1_keys: crate::event::ValueKeys::Legacy,
            },
            metrics.clone(),
            store.clone() as Arc<dyn Subscriptions>,
        );
        let relay = Relay::new(d.clone(), store as Arc<dyn Subscriptions>, metrics);
        (d, relay)
    }

    #[tokio::test]
    async fn relays_each_event_once_and_keeps_its_id() {
        let metrics = Arc::new(Metrics::new().unwrap());
        let (d, relay) = relay_over(Arc::new(Store::in_memory()), &metrics);
        let ev = Event::new(
            EventKind::LockState,
            vec![DataValue::state(
                "/cluster/node/n1/ens1fx/master".into(),
                "LOCKED",
            )],
        );
        let received = crate::event::parse::parse_event(&ev.to_v2_json()).unwrap();
        relay.deliver(received.clone());
        relay.deliver(received);
        assert_eq!(
            d.last_external(EventKind::LockState).unwrap().event.id,
            ev.id
        );
        assert_eq!(relay.relayed.get(), 1);
        assert_eq!(relay.duplicate.get(), 1);
        assert!(relay.needed().is_empty());
    }
}
