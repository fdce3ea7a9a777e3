//! The client's AMQP 1.0 side against a real broker (the Qpid Proton
//! example broker) and the real agent: receiving at a resource address
//! (the current state on connect, then pushed events, typed), and
//! answering status requests as a publisher.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::collections::BTreeSet;
use std::time::Duration;

use agent_tests::Agent;
use agent_tests::broker::{Broker, Kind};
use agent_tests::chain::LOCK;
use cloud_event_client::amqp::{
    AddressStyle, AmqpConfig, AmqpObserver, AmqpReceiver, serve_status,
};
use cloud_event_client::{
    DataValue, Event, EventStream, EventType, Inbox, ReceiverConfig, ResourceAddress, SyncState,
};

const T: Duration = Duration::from_secs(20);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The next event whose state is `want`, skipping others.
async fn next_with(events: &mut EventStream, want: SyncState) -> Event {
    tokio::time::timeout(T, async {
        loop {
            let ev = events.next().await.expect("stream open");
            if ev.sync_state() == Some(want) {
                return ev;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {want} event"))
}

#[test]
fn receives_the_agents_events_at_the_resource_address() {
    receive_from_the_agent(Kind::Proton);
}

/// RabbitMQ refuses `/` in names: the client maps resource addresses onto
/// its topic exchange, as the agent does with `--amqp-address-style
/// rabbitmq`.
#[test]
fn receives_through_rabbitmq_with_mapped_addresses() {
    receive_from_the_agent(Kind::Rabbit);
}

fn receive_from_the_agent(kind: Kind) {
    if !Broker::available(kind) {
        println!("SKIP: the {kind:?} broker is not installed (cargo xtask test installs it)");
        return;
    }
    let b = Broker::start(kind);
    let flags = b.agent_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let p = Agent::start(&flags);
    let rt = runtime();
    rt.block_on(async {
        let (inbox, mut events) = Inbox::new(ReceiverConfig::default());
        let style = match kind {
            Kind::Proton => AddressStyle::ORan,
            Kind::Rabbit => AddressStyle::RabbitMq,
        };
        let cfg = AmqpConfig::parse(&b.url(), "client-test")
            .unwrap()
            .with_style(style);
        let lock = ResourceAddress::event(&p.node, EventType::LockState);
        let (_keep, w) = tokio::sync::watch::channel(BTreeSet::from([lock]));
        tokio::spawn(AmqpReceiver::new(cfg, inbox.clone()).run(w));
        // On connect it asks for the current state: none yet, the
        // placeholder (FREERUN) answers.
        let first = next_with(&mut events, SyncState::Freerun).await;
        assert_eq!(first.event_type, Some(EventType::LockState));
        // Then what the agent publishes arrives, typed.
        let url = p.api_v1("/create/event");
        let id = p.publisher_id(LOCK);
        let iface = format!("/cluster/node/{}/ens1fx/master", p.node);
        tokio::task::spawn_blocking(move || {
            let body = serde_json::json!({"id": id, "type": "event.sync.ptp-status.ptp-state-change",
                "time": "2024-01-01T00:00:00Z", "data": {"version": "1.0", "values": [
                {"resource": iface, "dataType": "notification", "valueType": "enumeration", "value": "LOCKED"}]}});
            let r = agent_tests::request("POST", &url, Some(body.to_string().as_bytes())).unwrap();
            assert_eq!(r.status, 202, "{}", r.text());
        })
        .await
        .unwrap();
        let ev = next_with(&mut events, SyncState::Locked).await;
        assert_eq!(ev.event_type, Some(EventType::LockState));
        assert_eq!(
            ev.values[0].resource,
            format!("/cluster/node/{}/ens1fx/master", p.node)
        );
        assert!(inbox.stats().events >= 2);
    });
}

/// Tells when a status request went out.
struct Asked(tokio::sync::mpsc::UnboundedSender<ResourceAddress>);

impl AmqpObserver for Asked {
    fn asked(&self, resource: &ResourceAddress) {
        let _ = self.0.send(resource.clone());
    }
}

#[test]
fn learns_the_current_state_from_a_publisher_that_comes_later() {
    consumer_before_publisher(Kind::Proton);
}

/// A topic exchange drops a status request nobody is bound to: the client
/// asks again until the publisher answers.
#[test]
fn learns_the_current_state_through_rabbitmq_from_a_publisher_that_comes_later() {
    consumer_before_publisher(Kind::Rabbit);
}

/// The consumer connects and asks before the agent runs at all; the agent's
/// current state (the FREERUN placeholder) must still arrive, with no
/// change published.
fn consumer_before_publisher(kind: Kind) {
    if !Broker::available(kind) {
        println!("SKIP: the {kind:?} broker is not installed (cargo xtask test installs it)");
        return;
    }
    let b = Broker::start(kind);
    let rt = runtime();
    rt.block_on(async {
        let (inbox, mut events) = Inbox::new(ReceiverConfig::default());
        let style = match kind {
            Kind::Proton => AddressStyle::ORan,
            Kind::Rabbit => AddressStyle::RabbitMq,
        };
        let cfg = AmqpConfig::parse(&b.url(), "early-client")
            .unwrap()
            .with_style(style);
        let lock = ResourceAddress::event(Agent::NODE, EventType::LockState);
        let (tx, mut asked) = tokio::sync::mpsc::unbounded_channel();
        let (_keep, w) = tokio::sync::watch::channel(BTreeSet::from([lock.clone()]));
        let receiver = AmqpReceiver::new(cfg, inbox).with_observer(std::sync::Arc::new(Asked(tx)));
        tokio::spawn(receiver.run(w));
        // The first request is out before the agent exists.
        let first = tokio::time::timeout(T, asked.recv()).await.unwrap();
        assert_eq!(first.as_ref(), Some(&lock));
        let flags = b.agent_flags();
        let _agent = tokio::task::spawn_blocking(move || {
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            Agent::start(&flags)
        })
        .await
        .unwrap();
        let ev = next_with(&mut events, SyncState::Freerun).await;
        assert_eq!(ev.event_type, Some(EventType::LockState));
        // Each request is reported before what answers it is handed on.
        let mut sent = 1;
        while asked.try_recv().is_ok() {
            sent += 1;
        }
        if kind == Kind::Rabbit {
            // The first request was dropped: a repeat was answered.
            assert!(sent >= 2, "answered without a repeat: {sent} request(s)");
        }
        // Answered: no more requests (they are at most ~6 s apart).
        let more = tokio::time::timeout(Duration::from_secs(8), asked.recv()).await;
        assert!(more.is_err(), "asked again after the answer");
    });
}

#[test]
fn a_status_listener_answers_requests_at_resource_status() {
    status_listener(Kind::Proton);
}

#[test]
fn a_status_listener_answers_through_rabbitmq() {
    status_listener(Kind::Rabbit);
}

fn status_listener(kind: Kind) {
    if !Broker::available(kind) {
        println!("SKIP: the {kind:?} broker is not installed (cargo xtask test installs it)");
        return;
    }
    let b = Broker::start(kind);
    let style = match kind {
        Kind::Proton => AddressStyle::ORan,
        Kind::Rabbit => AddressStyle::RabbitMq,
    };
    let rt = runtime();
    rt.block_on(async {
        // A publisher of node "pub-n1" (no agent involved) answers with
        // HOLDOVER.
        let resource = ResourceAddress::event("pub-n1", EventType::OsClockSyncState);
        let cfg = AmqpConfig::parse(&b.url(), "status-listener")
            .unwrap()
            .with_style(style);
        let r = resource.clone();
        tokio::spawn(async move {
            let answer = || async {
                Some(Event::new(
                    EventType::OsClockSyncState,
                    vec![DataValue::state(
                        "/cluster/node/pub-n1/CLOCK_REALTIME",
                        SyncState::Holdover,
                    )],
                ))
            };
            // Reconnect if the broker drops us.
            loop {
                let _ = serve_status(&cfg, &r, answer).await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        // A consumer asks on connect (the broker queues the request until
        // the listener is attached).
        let (inbox, mut events) = Inbox::new(ReceiverConfig::default());
        let cfg = AmqpConfig::parse(&b.url(), "status-asker")
            .unwrap()
            .with_style(style);
        let (_keep, w) = tokio::sync::watch::channel(BTreeSet::from([resource]));
        tokio::spawn(AmqpReceiver::new(cfg, inbox).run(w));
        let ev = next_with(&mut events, SyncState::Holdover).await;
        assert_eq!(ev.event_type, Some(EventType::OsClockSyncState));
        assert_eq!(ev.values[0].resource, "/cluster/node/pub-n1/CLOCK_REALTIME");
    });
}

/// The `amqp_status` example, both sides, with the agent's REST API as the
/// source of the current state (the agent itself has no AMQP here, so only
/// the example answers).
#[test]
fn amqp_status_example_answers_with_the_publishers_current_state() {
    if !Broker::available(Kind::Proton) {
        println!("SKIP: the Proton broker is not installed (cargo xtask test installs it)");
        return;
    }
    let b = Broker::start(Kind::Proton);
    let p = Agent::start(&[]);
    p.create_event(LOCK, "LOCKED");
    let base = format!("http://127.0.0.1:{}", p.api_port);
    let url = b.url();
    let common = ["--publisher", &base, "--node", &p.node, "--amqp", &url];
    let listener = agent_tests::examples::Example::spawn("amqp_status", &common);
    let mut ask = common.to_vec();
    ask.push("--ask");
    let lines = agent_tests::examples::Example::run("amqp_status", &ask, T);
    let answer = &lines[0]["answer"];
    assert_eq!(answer["type"], "event.sync.ptp-status.ptp-state-change");
    assert_eq!(answer["format"], "cloudevent-0.3");
    assert_eq!(answer["data"]["values"][0]["value"], "LOCKED");
    let answered = listener.wait_line(T, |l| l["answered"].is_object());
    assert_eq!(answered["answered"]["id"], answer["id"]);
}
