//! The consumer sidecar (the anchor's cloud-event-consumer role): the agent
//! runs next to a CNF, serves the API to it, subscribes at the publishers
//! on its behalf (over their v2 API, or over AMQP addresses) and relays what
//! arrives to the CNF's endpoints through its own dispatcher, so each CNF
//! subscription gets the format of the API it used (v1 or v2).
//!
//! Subscribing, receiving and decoding are the `cloud-event-client` crate's
//! (the one client CNFs use too); this module maps its events onto ours.
//! The sidecar's node name must be the publishers' node (the resource
//! addresses name it); by default both are the host name.

pub(crate) mod amqp;
pub(crate) mod http;

use std::collections::BTreeSet;
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::Router;
use cloud_event_client as client;
use cloud_event_client::{Inbox, ReceiveError, ReceiverConfig, ResourceAddress};
use prometheus::IntCounter;
use tokio::sync::watch;
use tracing::{trace, warn};

use crate::current::Current;
use crate::event::{DataType, DataValue, Event, EventKind, ValueType};
use crate::metrics::Metrics;
use crate::store::Subscriptions;

/// What the consumer sidecar is told (built by `config`).
#[derive(Clone, Debug, Default)]
pub(crate) struct RelayConfig {
    /// `http://host:port` of each publisher.
    pub publishers: Vec<String>,
    /// How often each publisher is checked.
    pub check: Duration,
}

/// Where publishers POST the events of the sidecar's subscriptions.
pub(crate) const INBOUND_PATH: &str = "/relay/event";

/// How often the CNF's subscriptions are looked at for changes.
const WATCH: Duration = Duration::from_millis(200);

/// Counts what the client's inbox refuses or drops.
struct Counts {
    relayed: IntCounter,
    duplicate: IntCounter,
    invalid: IntCounter,
}

impl client::Observer for Counts {
    fn invalid(&self, _e: &ReceiveError) {
        self.invalid.inc();
    }
    fn duplicate(&self, _e: &client::Event) {
        self.duplicate.inc();
    }
}

/// Hands relayed events to the local dispatcher, once each, through the
/// current state (which then serves them as CurrentState).
pub(crate) struct Relay {
    current: Arc<Current>,
    subs: Arc<dyn Subscriptions>,
    node: String,
    /// Decodes, drops duplicates (a status reply repeating the last event,
    /// a second path for the same event) and counts what is not an event.
    inbox: Inbox,
    counts: Arc<Counts>,
    /// The resource addresses the CNF's subscriptions need.
    wanted: watch::Sender<BTreeSet<ResourceAddress>>,
}

impl Relay {
    /// The relay, its task draining the inbox into the dispatcher and its
    /// task following the CNF's subscriptions.
    #[must_use]
    pub(crate) fn new(
        current: Arc<Current>,
        subs: Arc<dyn Subscriptions>,
        metrics: &Metrics,
    ) -> Arc<Self> {
        let m = &metrics.transport.relay_events;
        let counts = Arc::new(Counts {
            relayed: m.with_label_values(&["relayed"]),
            duplicate: m.with_label_values(&["duplicate"]),
            invalid: m.with_label_values(&["invalid"]),
        });
        let cfg = ReceiverConfig {
            known_types_only: true,
            ..ReceiverConfig::default()
        };
        let (inbox, mut events) =
            Inbox::with_observer(cfg, Some(counts.clone() as Arc<dyn client::Observer>));
        let relay = Arc::new(Self {
            node: current.node().to_owned(),
            current,
            subs,
            inbox,
            counts,
            wanted: watch::Sender::new(BTreeSet::new()),
        });
        relay.refresh_wanted();
        let weak = Arc::downgrade(&relay);
        tokio::spawn(async move {
            while let Some(ev) = events.next().await {
                let Some(r) = weak.upgrade() else { return };
                r.deliver(ev);
            }
        });
        tokio::spawn(follow(Arc::downgrade(&relay)));
        relay
    }

    /// Relays one received event to the CNF's subscribers.
    pub(crate) fn deliver(&self, ev: client::Event) {
        match to_event(ev) {
            Ok(ev) => {
                self.counts.relayed.inc();
                trace!(kind = %ev.kind, "event relayed");
                self.current.publish(ev);
            }
            Err(why) => {
                self.counts.invalid.inc();
                warn!(why, "received an event this sidecar cannot relay; dropped");
            }
        }
    }

    /// The client inbox events arrive in (HTTP route, AMQP receiver).
    #[must_use]
    pub(crate) fn inbox(&self) -> &Inbox {
        &self.inbox
    }

    /// The event kinds the CNF's subscriptions cover.
    #[must_use]
    pub(crate) fn needed(&self) -> BTreeSet<EventKind> {
        self.subs
            .snapshot()
            .iter()
            .flat_map(|s| EventKind::matching(&self.node, &s.resource))
            .collect()
    }

    /// The resource addresses to subscribe to at the publishers, kept up to
    /// date as the CNF subscribes and unsubscribes.
    #[must_use]
    pub(crate) fn wanted(&self) -> watch::Receiver<BTreeSet<ResourceAddress>> {
        self.wanted.subscribe()
    }

    fn refresh_wanted(&self) {
        let set: BTreeSet<ResourceAddress> = self
            .needed()
            .into_iter()
            .filter_map(|k| client_type(k).map(|t| ResourceAddress::event(&self.node, t)))
            .collect();
        self.wanted.send_if_modified(|w| {
            let changed = *w != set;
            *w = set;
            changed
        });
    }
}

/// Looks at the CNF's subscriptions every [`WATCH`] while the relay lives.
async fn follow(relay: Weak<Relay>) {
    let mut seen = None;
    loop {
        tokio::time::sleep(WATCH).await;
        let Some(r) = relay.upgrade() else { return };
        let generation = r.subs.generation();
        if seen != Some(generation) {
            seen = Some(generation);
            r.refresh_wanted();
        }
    }
}

/// The client's name for one of our kinds.
fn client_type(k: EventKind) -> Option<client::EventType> {
    client::EventType::from_type_str(k.type_str())
}

/// Our event for a received one, keeping its id and time so a relay is
/// transparent (same id; latency from the original time).
fn to_event(ev: client::Event) -> Result<Event, &'static str> {
    let t = ev.event_type.ok_or("unknown event type")?;
    let kind = EventKind::ALL
        .into_iter()
        .find(|k| k.type_str() == t.as_str())
        .ok_or("event type not published by this agent")?;
    let values = ev
        .values
        .into_iter()
        .map(|v| {
            Ok(DataValue {
                resource_address: v.resource,
                data_type: match v.data_type {
                    client::DataType::Notification => DataType::Notification,
                    client::DataType::Metric => DataType::Metric,
                },
                value_type: match v.value_type {
                    client::ValueType::Enumeration => ValueType::Enumeration,
                    client::ValueType::Decimal => ValueType::Decimal,
                    client::ValueType::Other(_) => return Err("value type not relayable"),
                },
                value: v.value,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Event::new(kind, values);
    if let Ok(id) = uuid::Uuid::try_parse(&ev.id) {
        out.id = id;
    }
    if let Some(t) = ev.time {
        out.time = t;
    }
    Ok(out)
}

/// The route publishers deliver to (`POST /relay/event`): the client's
/// receiver (204 for events and endpoint checks, 400 for the rest).
pub(crate) fn inbound_router(relay: &Relay) -> Router {
    relay.inbox.router(INBOUND_PATH)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::{Engine, EngineHandle, Sink, Thresholds};
    use crate::store::Store;
    use crate::transport::{DeliveryConfig, Dispatcher};

    /// The current state of node `n1` (its dispatcher over `store`), and a
    /// relay into it.
    pub(super) fn relay_over(
        store: Arc<Store>,
        metrics: &Arc<Metrics>,
    ) -> (Arc<Current>, Arc<Relay>) {
        let d = Dispatcher::new(
            DeliveryConfig {
                node: "n1".into(),
                timeout: Duration::from_secs(1),
                queue_capacity: 4,
                max_consecutive_failures: 0,
                idle: Duration::from_secs(30),
                v1_keys: crate::event::ValueKeys::Legacy,
            },
            crate::transport::test_outbound(),
            metrics.clone(),
            store.clone() as Arc<dyn Subscriptions>,
        );
        let engine = EngineHandle::new(
            Engine::new("n1".into(), Thresholds::default(), metrics.ptp.clone()),
            d.clone() as Arc<dyn Sink>,
        );
        let current = Current::new(engine, d);
        let relay = Relay::new(current.clone(), store as Arc<dyn Subscriptions>, metrics);
        (current, relay)
    }

    #[tokio::test]
    async fn relays_each_event_once_and_keeps_its_id_and_time() {
        let metrics = Arc::new(Metrics::new().unwrap());
        let (d, relay) = relay_over(Arc::new(Store::in_memory()), &metrics);
        let ev = Event::new(
            EventKind::LockState,
            vec![DataValue::state(
                "/cluster/node/n1/ens1fx/master".into(),
                "LOCKED",
            )],
        );
        let body = ev.to_v2_json();
        relay.inbox().accept(&body).await.unwrap();
        relay.inbox().accept(&body).await.unwrap();
        assert!(relay.inbox().accept(b"{\"not\":1}").await.is_err());
        // The inbox hands events to the relay's task: wait for it.
        let got = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if let Some(ev) = d.get(EventKind::LockState) {
                    return ev;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
        .unwrap();
        assert_eq!(got.id, ev.id);
        assert_eq!(got.time, ev.time);
        assert_eq!(relay.counts.relayed.get(), 1);
        assert_eq!(relay.counts.duplicate.get(), 1);
        assert_eq!(relay.counts.invalid.get(), 1);
        assert!(relay.needed().is_empty());
        assert!(relay.wanted().borrow().is_empty());
    }
}
