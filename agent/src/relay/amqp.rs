//! Receiving from AMQP addresses on the CNF's behalf: a receiver on the
//! address of each resource the CNF subscribed to, and on (re)connect a
//! status request per resource, so the CNF learns the current state even
//! when events were sent while the link was down (a topic exchange keeps
//! nothing for absent receivers).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use fe2o3_amqp::link::Receiver;
use fe2o3_amqp::types::messaging::Body;
use fe2o3_amqp::types::primitives::Value;
use prometheus::IntCounter;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::Relay;
use crate::event::EventKind;
use crate::event::parse::{ParseError, Received};
use crate::metrics::Metrics;
use crate::transport::amqp::link::{AmqpError, Link, backoff};
use crate::transport::amqp::{AmqpConfig, address, message};

const WATCH: Duration = Duration::from_millis(200);

enum Msg {
    Event(Received),
    Invalid(ParseError),
    Dead(String),
}

pub struct AmqpSubscriber {
    cfg: AmqpConfig,
    relay: Arc<Relay>,
    metrics: Arc<Metrics>,
    received: IntCounter,
    invalid: IntCounter,
}

impl AmqpSubscriber {
    #[must_use]
    pub fn new(cfg: AmqpConfig, relay: Arc<Relay>, metrics: Arc<Metrics>) -> Self {
        let m = &metrics.transport.amqp_messages;
        Self {
            cfg,
            relay,
            received: m.with_label_values(&["received", "event"]),
            invalid: m.with_label_values(&["received", "invalid"]),
            metrics,
        }
    }

    /// Connects, receives, reconnects; forever.
    pub async fn run(self) {
        let t = &self.metrics.transport;
        let mut failures = 0u32;
        let mut connected_once = false;
        let mut lost = false;
        loop {
            match Link::open(&self.cfg).await {
                Ok(mut link) => {
                    if connected_once && lost {
                        t.amqp_reconnects.inc();
                    }
                    connected_once = true;
                    lost = false;
                    failures = 0;
                    t.amqp_connected.set(1);
                    let res = self.serve(&mut link).await;
                    t.amqp_connected.set(0);
                    link.close().await;
                    match res {
                        // The CNF's subscriptions changed: attach anew at once.
                        Ok(()) => continue,
                        Err(e) => {
                            lost = true;
                            warn!(broker = %self.cfg.addr, error = %e, "AMQP connection lost; reconnecting");
                        }
                    }
                }
                Err(e) => {
                    lost = true;
                    failures = failures.saturating_add(1);
                    if failures == 1 {
                        warn!(broker = %self.cfg.addr, error = %e, "cannot reach the AMQP broker; retrying");
                    }
                }
            }
            tokio::time::sleep(backoff(failures)).await;
        }
    }

    /// Receives for the current set of resources; `Ok` when that set
    /// changed, `Err` when the connection failed.
    async fn serve(&self, link: &mut Link) -> Result<(), AmqpError> {
        let generation = self.relay.generation();
        let needed = self.relay.needed();
        let (tx, mut rx) = mpsc::channel(256);
        let mut tasks = JoinSet::new();
        let res = self.attach(link, &needed, &tx, &mut tasks).await;
        if let Err(e) = res {
            tasks.abort_all();
            return Err(e);
        }
        info!(broker = %self.cfg.addr, resources = needed.len(), "AMQP receiving on the CNF's behalf");
        let out = loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Some(Msg::Event(ev)) => {
                        self.received.inc();
                        self.relay.deliver(ev);
                    }
                    Some(Msg::Invalid(e)) => {
                        self.invalid.inc();
                        self.relay.invalid("amqp", &e);
                    }
                    Some(Msg::Dead(why)) => break Err(AmqpError::Receiver(why)),
                    None => break Err(AmqpError::Receiver("all receivers ended".into())),
                },
                () = tokio::time::sleep(WATCH) => {
                    if self.relay.generation() != generation && self.relay.needed() != needed {
                        break Ok(());
                    }
                }
            }
        };
        tasks.abort_all();
        out
    }

    async fn attach(
        &self,
        link: &mut Link,
        needed: &BTreeSet<EventKind>,
        tx: &mpsc::Sender<Msg>,
        tasks: &mut JoinSet<()>,
    ) -> Result<(), AmqpError> {
        let style = self.cfg.style;
        let c = &self.cfg.container;
        for &kind in needed {
            let resource = kind.address(self.relay.node());
            let events = address::map(style, &resource);
            let r = link
                .receiver(format!("{c}-events-{}", kind.index()), &events)
                .await?;
            tasks.spawn(forward(r, tx.clone()));
            // Ask for the current state; the answer comes to our own address.
            let reply = address::reply(style, &resource);
            let r = link
                .receiver(format!("{c}-reply-{}", kind.index()), &reply)
                .await?;
            tasks.spawn(forward(r, tx.clone()));
            let status = address::status(style, &resource);
            let mut s = link
                .sender(format!("{c}-status-{}", kind.index()), &status)
                .await?;
            let req = message::status_request(&resource, &reply);
            match tokio::time::timeout(crate::transport::amqp::link::OP_TIMEOUT, s.send(req)).await
            {
                Ok(Ok(_)) => debug!(address = %status, "status request sent"),
                Ok(Err(e)) => warn!(address = %status, error = %e, "status request not sent"),
                Err(_) => warn!(address = %status, "status request timed out"),
            }
            drop(s);
        }
        Ok(())
    }
}

/// Decodes what one receiver gets and hands it to the serving task.
async fn forward(mut r: Receiver, tx: mpsc::Sender<Msg>) {
    loop {
        let msg = match r.recv::<Body<Value>>().await {
            Ok(d) => match message::decode(d.message()) {
                Ok(ev) => Msg::Event(ev),
                Err(e) => Msg::Invalid(e),
            },
            Err(e) => {
                let _ = tx.send(Msg::Dead(e.to_string())).await;
                return;
            }
        };
        if tx.send(msg).await.is_err() {
            return;
        }
    }
}
