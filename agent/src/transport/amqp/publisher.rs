//! The publisher side: a dispatcher tap that keeps the latest unsent event
//! per resource, and one task that owns the broker connection, sends, and
//! answers status requests. On connection loss it reconnects with backoff
//! and jitter and then sends what accumulated meanwhile (latest state wins).

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use fe2o3_amqp::link::{Receiver, Sender};
use fe2o3_amqp::types::messaging::{Body, Data, Message, Outcome};
use fe2o3_amqp::types::primitives::Value;
use parking_lot::Mutex;
use prometheus::IntCounter;
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use cloud_event_client::amqp::{AmqpError, Link, OP_TIMEOUT, close_sender, reply_to};
use cloud_event_client::backoff;

use super::{AmqpConfig, message};
use crate::event::{Event, EventKind};
use crate::metrics::Metrics;
use crate::transport::{Outgoing, Tap};

/// The current state of a kind, or its placeholder
/// ([`crate::current::Current::or_placeholder`]).
pub(crate) type CurrentFn = Arc<dyn Fn(EventKind) -> Event + Send + Sync>;

struct Counters {
    accepted: IntCounter,
    refused: IntCounter,
    dropped: IntCounter,
    status_requests: IntCounter,
    invalid: IntCounter,
}

pub(crate) struct AmqpPublisher {
    cfg: AmqpConfig,
    /// Unsent events, the latest per kind and clock (the first value's
    /// address), as the HTTP queues coalesce: the state of one NIC does not
    /// replace another's.
    pending: Mutex<BTreeMap<Key, Arc<Outgoing>>>,
    wake: Notify,
    current: CurrentFn,
    metrics: Arc<Metrics>,
    c: Counters,
}

type Key = (EventKind, Box<str>);

fn key(out: &Outgoing) -> Key {
    (out.kind(), out.coalesce_key().into())
}

/// What the receiver tasks tell the sending task.
enum Req {
    Status(EventKind, Option<String>),
    Dead(fe2o3_amqp::link::RecvError),
}

impl Tap for AmqpPublisher {
    fn publish(&self, out: &Arc<Outgoing>) {
        if self.pending.lock().insert(key(out), out.clone()).is_some() {
            self.metrics.transport.amqp_coalesced.inc();
        }
        self.wake.notify_one();
    }
}

impl AmqpPublisher {
    #[must_use]
    pub(crate) fn new(cfg: AmqpConfig, current: CurrentFn, metrics: Arc<Metrics>) -> Arc<Self> {
        let m = &metrics.transport.amqp_messages;
        let c = Counters {
            accepted: m.with_label_values(&["sent", "accepted"]),
            refused: m.with_label_values(&["sent", "refused"]),
            dropped: m.with_label_values(&["sent", "dropped"]),
            status_requests: m.with_label_values(&["received", "status_request"]),
            invalid: m.with_label_values(&["received", "invalid"]),
        };
        Arc::new(Self {
            cfg,
            pending: Mutex::new(BTreeMap::new()),
            wake: Notify::new(),
            current,
            metrics,
            c,
        })
    }

    /// Connects, serves, reconnects; forever.
    pub(crate) async fn run(self: Arc<Self>) {
        let t = &self.metrics.transport;
        let mut failures = 0u32;
        let mut connected_once = false;
        loop {
            match Link::open(&self.cfg.link).await {
                Ok(mut link) => {
                    if connected_once {
                        t.amqp_reconnects.inc();
                    }
                    connected_once = true;
                    failures = 0;
                    t.amqp_connected.set(1);
                    info!(broker = %self.cfg.link.addr, "AMQP connected");
                    let e = self.serve(&mut link).await;
                    t.amqp_connected.set(0);
                    warn!(broker = %self.cfg.link.addr, error = %e, "AMQP connection lost; reconnecting");
                    link.close().await;
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    debug!(broker = %self.cfg.link.addr, error = %e, failures, "AMQP connect failed");
                    if failures == 1 {
                        warn!(broker = %self.cfg.link.addr, error = %e, "cannot reach the AMQP broker; retrying");
                    }
                }
            }
            tokio::time::sleep(backoff(failures)).await;
        }
    }

    fn resource(&self, kind: EventKind) -> String {
        kind.address(&self.cfg.node)
    }

    /// Serves one connection until it fails; returns why.
    async fn serve(&self, link: &mut Link) -> AmqpError {
        let (tx, mut rx) = mpsc::channel(64);
        let mut tasks = JoinSet::new();
        for kind in EventKind::ALL {
            let addr = self.cfg.link.style.status(&self.resource(kind));
            let name = format!("{}-status-{}", self.cfg.link.container, kind.index());
            match link.receiver(name, &addr).await {
                Ok(r) => {
                    tasks.spawn(status_requests(r, kind, tx.clone()));
                }
                Err(e) => return e,
            }
        }
        // Attached up front: the first event of a kind does not wait for it.
        let mut senders: HashMap<EventKind, Sender> = HashMap::new();
        for kind in EventKind::ALL {
            let addr = self.cfg.link.style.map(&self.resource(kind));
            let name = format!("{}-event-{}", self.cfg.link.container, kind.index());
            match link.sender(name, &addr).await {
                Ok(s) => {
                    senders.insert(kind, s);
                }
                Err(e) => return e,
            }
        }
        let err = loop {
            if let Err(e) = self.flush(link, &mut senders).await {
                break e;
            }
            tokio::select! {
                () = self.wake.notified() => {}
                req = rx.recv() => match req {
                    Some(Req::Status(kind, reply)) => {
                        if let Err(e) = self.reply(link, kind, reply).await {
                            break e;
                        }
                    }
                    Some(Req::Dead(e)) => break AmqpError::Receiver(e),
                    None => break AmqpError::ReceiversEnded,
                },
            }
        };
        tasks.abort_all();
        for (_, s) in senders.drain() {
            close_sender(s).await;
        }
        err
    }

    /// Sends every pending event. A failed send puts its event back (unless
    /// a newer one came) and ends the connection; a refused address is
    /// counted and its event dropped.
    async fn flush(
        &self,
        link: &mut Link,
        senders: &mut HashMap<EventKind, Sender>,
    ) -> Result<(), AmqpError> {
        let batch = std::mem::take(&mut *self.pending.lock());
        let mut batch = batch.into_iter();
        while let Some((k, out)) = batch.next() {
            let kind = k.0;
            let addr = self.cfg.link.style.map(&self.resource(kind));
            let res = self.send_one(link, senders, kind, &addr, &out.event).await;
            if let Err(e) = res {
                let mut pending = self.pending.lock();
                if !matches!(e, AmqpError::Attach { .. }) {
                    pending.entry(k).or_insert(out);
                }
                for (k, o) in batch {
                    pending.entry(k).or_insert(o);
                }
                return Err(e);
            }
        }
        Ok(())
    }

    async fn send_one(
        &self,
        link: &mut Link,
        senders: &mut HashMap<EventKind, Sender>,
        kind: EventKind,
        addr: &str,
        ev: &Event,
    ) -> Result<(), AmqpError> {
        if let Entry::Vacant(slot) = senders.entry(kind) {
            let name = format!("{}-event-{}", self.cfg.link.container, kind.index());
            match link.sender(name, addr).await {
                Ok(s) => {
                    slot.insert(s);
                }
                Err(e) => {
                    self.c.dropped.inc();
                    warn!(address = addr, error = %e, "AMQP address refused; event dropped");
                    return Err(e);
                }
            }
        }
        let Some(sender) = senders.get_mut(&kind) else {
            return Ok(());
        };
        let res = send(sender, message::encode(ev, addr), addr).await;
        if res.is_err() {
            senders.remove(&kind);
        }
        self.count(res, addr)
    }

    fn count(&self, res: Result<Outcome, AmqpError>, addr: &str) -> Result<(), AmqpError> {
        match res {
            Ok(Outcome::Accepted(_)) => {
                self.c.accepted.inc();
                Ok(())
            }
            Ok(other) => {
                self.c.refused.inc();
                warn!(address = addr, outcome = ?other, "the broker did not accept an event");
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Answers a status request with the current state, on a link to the
    /// reply address made for this one answer.
    async fn reply(
        &self,
        link: &mut Link,
        kind: EventKind,
        reply: Option<String>,
    ) -> Result<(), AmqpError> {
        let status = self.cfg.link.style.status(&self.resource(kind));
        let Some(to) = reply.filter(|r| !r.is_empty() && *r != status) else {
            self.c.invalid.inc();
            warn!(address = %status, "status request without a reply address; dropped");
            return Ok(());
        };
        self.c.status_requests.inc();
        let to = self.cfg.link.style.map(&to);
        let ev = (self.current)(kind);
        let name = format!("{}-reply-{}", self.cfg.link.container, uuid::Uuid::new_v4());
        let mut sender = match link.sender(name, &to).await {
            Ok(s) => s,
            Err(e) => {
                self.c.dropped.inc();
                warn!(address = %to, error = %e, "cannot answer a status request");
                return Err(e);
            }
        };
        let res = send(&mut sender, message::encode(&ev, &self.resource(kind)), &to).await;
        // Dropping queues the detach; waiting for it may hang (broker.py).
        drop(sender);
        debug!(address = %to, kind = %kind, "status request answered");
        self.count(res, &to)
    }
}

async fn send(sender: &mut Sender, msg: Message<Data>, addr: &str) -> Result<Outcome, AmqpError> {
    match tokio::time::timeout(OP_TIMEOUT, sender.send(msg)).await {
        Ok(Ok(o)) => Ok(o),
        Ok(Err(source)) => Err(AmqpError::Send {
            address: addr.to_owned(),
            source,
        }),
        Err(_) => Err(AmqpError::Timeout("sending an event")),
    }
}

/// Forwards each status request on one receiver to the sending task.
async fn status_requests(mut r: Receiver, kind: EventKind, tx: mpsc::Sender<Req>) {
    loop {
        match r.recv::<Body<Value>>().await {
            Ok(d) => {
                let reply = reply_to(d.message());
                if tx.send(Req::Status(kind, reply)).await.is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = tx.send(Req::Dead(e)).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::DataValue;

    #[test]
    fn keeps_the_latest_unsent_event_per_resource() {
        let metrics = Arc::new(Metrics::new().unwrap());
        let current: CurrentFn = Arc::new(|k| Event::new(k, Vec::new()));
        let p = AmqpPublisher::new(
            AmqpConfig {
                link: cloud_event_client::amqp::AmqpConfig::parse("amqp://127.0.0.1:1", "t")
                    .unwrap(),
                node: "n1".into(),
            },
            current,
            metrics.clone(),
        );
        let ev = |v: &str| {
            Arc::new(Outgoing::new(Event::new(
                EventKind::LockState,
                vec![DataValue::state("/a".into(), v)],
            )))
        };
        p.publish(&ev("LOCKED"));
        p.publish(&ev("FREERUN"));
        let other = Arc::new(Outgoing::new(Event::new(
            EventKind::LockState,
            vec![DataValue::state("/b".into(), "HOLDOVER")],
        )));
        p.publish(&other);
        let pending = p.pending.lock();
        assert_eq!(pending.len(), 2);
        assert_eq!(
            pending[&(EventKind::LockState, "/a".into())].event.values[0].value,
            "FREERUN"
        );
        assert_eq!(metrics.transport.amqp_coalesced.get(), 1);
    }
}
