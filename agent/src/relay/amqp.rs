//! Receiving from AMQP addresses on the CNF's behalf, with the client's
//! [`AmqpReceiver`]: a receiver on the address of each resource the CNF
//! subscribed to, and on (re)connect a status request per resource, so the
//! CNF learns the current state even when events were sent while the link
//! was down (a topic exchange keeps nothing for absent receivers).

use std::sync::Arc;

use cloud_event_client::amqp::{AmqpError, AmqpObserver, AmqpReceiver};
use prometheus::{IntCounter, IntGauge};

use super::Relay;
use crate::metrics::Metrics;
use crate::transport::amqp::AmqpConfig;

pub(crate) struct AmqpSubscriber {
    cfg: AmqpConfig,
    relay: Arc<Relay>,
    metrics: Arc<Metrics>,
}

/// The transport metrics of the receiving side.
struct Gauges {
    connected: IntGauge,
    reconnects: IntCounter,
    received: IntCounter,
    invalid: IntCounter,
}

impl AmqpObserver for Gauges {
    fn connected(&self, reconnect: bool) {
        self.connected.set(1);
        if reconnect {
            self.reconnects.inc();
        }
    }
    fn disconnected(&self, _e: &AmqpError) {
        self.connected.set(0);
    }
    fn received(&self, event: bool) {
        if event { &self.received } else { &self.invalid }.inc();
    }
}

impl AmqpSubscriber {
    #[must_use]
    pub(crate) fn new(cfg: AmqpConfig, relay: Arc<Relay>, metrics: Arc<Metrics>) -> Self {
        Self {
            cfg,
            relay,
            metrics,
        }
    }

    /// Connects, receives, reconnects; forever.
    pub(crate) async fn run(self) {
        let t = &self.metrics.transport;
        let m = &t.amqp_messages;
        let gauges = Arc::new(Gauges {
            connected: t.amqp_connected.clone(),
            reconnects: t.amqp_reconnects.clone(),
            received: m.with_label_values(&["received", "event"]),
            invalid: m.with_label_values(&["received", "invalid"]),
        });
        AmqpReceiver::new(self.cfg.link.clone(), self.relay.inbox().clone())
            .with_observer(gauges)
            .run(self.relay.wanted())
            .await;
    }
}
