//! The AMQP 1.0 transport against real brokers: the Qpid Proton example
//! broker with O-RAN addresses, and RabbitMQ with mapped addresses.
//! Publisher agent -> broker -> consumer sidecar agent -> CNF endpoint;
//! status request and reply; a broker restart in the middle; messages that
//! are not CloudEvents.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::time::Duration;

use agent_tests::broker::{Broker, Kind};
use agent_tests::chain::{LOCK, amqp_pair, has_value, subscribe_v2_and_v1, with_value};
use agent_tests::{Agent, Consumer, request};
use fe2o3_amqp::connection::ConnectionHandle;
use fe2o3_amqp::sasl_profile::SaslProfile;
use fe2o3_amqp::types::messaging::{ApplicationProperties, Body, Message, Properties};
use fe2o3_amqp::types::primitives::{SimpleValue, Value};
use fe2o3_amqp::{Connection, Receiver, Sender, Session};

const T: Duration = Duration::from_secs(20);

fn map(kind: Kind, path: &str) -> String {
    match kind {
        Kind::Proton => path.to_owned(),
        Kind::Rabbit => format!(
            "/exchange/amq.topic/{}",
            path.trim_matches('/').replace('/', ".")
        ),
    }
}

async fn connect(url: &str, id: &str) -> ConnectionHandle<()> {
    Connection::builder()
        .container_id(id)
        .sasl_profile(SaslProfile::Anonymous)
        .open(url)
        .await
        .unwrap()
}

/// Runs `f` to completion on a new current-thread runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A raw AMQP client: sends a status request, waits for the reply.
fn status_request(b: &Broker, resource: &str) -> Message<Body<Value>> {
    let kind = b.kind;
    let url = b.url();
    block_on(async move {
        let mut conn = connect(&url, "test-client").await;
        let mut session = Session::begin(&mut conn).await.unwrap();
        let reply = map(kind, &format!("{resource}/zzzzz"));
        let mut r = Receiver::attach(&mut session, "test-reply", reply.as_str())
            .await
            .unwrap();
        let mut s = Sender::attach(
            &mut session,
            "test-status",
            map(kind, &format!("{resource}/status")),
        )
        .await
        .unwrap();
        let req = Message::builder()
            .properties(Properties::builder().reply_to(reply.clone()).build())
            .value("{}")
            .build();
        s.send(req).await.unwrap();
        let d = tokio::time::timeout(T, r.recv::<Body<Value>>())
            .await
            .expect("a status reply")
            .unwrap();
        r.accept(&d).await.unwrap();
        drop((s, r, session, conn));
        d.into_message()
    })
}

/// Sends something that is not a CloudEvent to `address`.
fn send_garbage(b: &Broker, address: &str) {
    let url = b.url();
    let address = address.to_owned();
    block_on(async move {
        let mut conn = connect(&url, "test-garbage").await;
        let mut session = Session::begin(&mut conn).await.unwrap();
        let mut s = Sender::attach(&mut session, "test-garbage", address)
            .await
            .unwrap();
        s.send(Message::builder().value("not a cloud event").build())
            .await
            .unwrap();
        // A CloudEvent whose source names no resource this agent knows.
        let props = ApplicationProperties::builder()
            .insert("cloudEvents:specversion", SimpleValue::String("0.3".into()))
            .insert("cloudEvents:type", SimpleValue::String("x.unknown".into()))
            .insert(
                "cloudEvents:source",
                SimpleValue::String("/cluster/node/x/unknown".into()),
            )
            .build();
        let m = Message::builder()
            .application_properties(props)
            .data(br#"{"version":"1.0","values":[]}"#.to_vec())
            .build();
        s.send(m).await.unwrap();
        drop((s, session, conn));
    });
}

fn chain(kind: Kind) {
    let mut b = Broker::start(kind);
    let (mut p, c) = amqp_pair(&b, true);
    let cnf = Consumer::start();
    let v1_id = subscribe_v2_and_v1(&c, &cnf);
    // The sidecar asked for the current state when it attached (a reply
    // comes back; the publisher has no data yet: the placeholder).
    cnf.wait_bodies("/v2", T, |b| has_value(b, "FREERUN"));

    p.create_event(LOCK, "LOCKED");
    let v2 = cnf.wait_bodies("/v2", T, |b| has_value(b, "LOCKED"));
    assert!(v2.iter().all(|b| b["specversion"] == "1.0"));
    let v1 = cnf.wait_bodies("/v1", T, |b| has_value(b, "LOCKED"));
    assert!(
        v1.iter()
            .filter(|b| b.is_object())
            .all(|b| b["id"] == v1_id.as_str()),
        "{v1:?}"
    );

    // A status request from any AMQP client is answered with the current
    // state, in the anchor's format.
    let reply = status_request(&b, &p.address(LOCK));
    let props = reply.application_properties.as_ref().unwrap();
    let spec = props.get("cloudEvents:specversion").unwrap();
    assert_eq!(
        format!("{spec:?}"),
        format!(
            "{:?}",
            fe2o3_amqp::types::primitives::SimpleValue::String("0.3".into())
        )
    );
    let Body::Data(data) = &reply.body else {
        panic!("reply body is not a Data section: {:?}", reply.body)
    };
    let data: serde_json::Value = serde_json::from_slice(&data[0].0).unwrap();
    assert_eq!(data["values"][0]["value"], "LOCKED");

    // Not a CloudEvent, or one of an unknown resource, on the resource
    // address: counted, dropped, no crash.
    send_garbage(&b, &map(kind, &p.address(LOCK)));
    let m = agent_tests::wait_for(T, || {
        let m = c.metrics();
        m.contains("cloud_event_agent_relay_events_total{outcome=\"invalid\"} 2")
            .then_some(m)
    });
    assert!(m.is_some(), "invalid message not counted: {}", c.metrics());

    // The broker goes away; events meanwhile: the latest wins.
    b.kill();
    p.create_event(LOCK, "HOLDOVER");
    p.create_event(LOCK, "FREERUN");
    cnf.clear();
    b.restart();
    let got = cnf.wait_bodies("/v2", T, |b| has_value(b, "FREERUN"));
    assert!(
        !has_value(&got, "HOLDOVER") || kind == Kind::Proton,
        "{got:?}"
    );
    p.create_event(LOCK, "LOCKED");
    cnf.wait_bodies("/v1", T, |b| has_value(b, "LOCKED"));
    for a in [&p, &c] {
        assert_eq!(request("GET", &a.api("/health"), None).unwrap().status, 200);
    }
    let reconnects = p.metrics().lines().find_map(|l| {
        l.strip_prefix("cloud_event_agent_amqp_reconnects_total ")?
            .parse::<u64>()
            .ok()
    });
    assert!(reconnects >= Some(1), "{reconnects:?}");

    // The publisher restarts: the sidecar keeps receiving.
    p.restart();
    p.create_event(LOCK, "HOLDOVER");
    cnf.wait_bodies("/v2", T, |b| has_value(b, "HOLDOVER"));
}

#[test]
fn proton_broker_chain_status_and_restart() {
    chain(Kind::Proton);
}

#[test]
fn rabbitmq_chain_status_and_restart() {
    chain(Kind::Rabbit);
}

#[test]
fn rabbitmq_refusing_oran_addresses_is_a_logged_error_not_a_crash() {
    let b = Broker::start(Kind::Rabbit);
    // O-RAN addresses (with `/`) on RabbitMQ: every attach is refused.
    let p = Agent::start_logged(&["--transport-host", &b.url()]);
    let _cnf = locked_reaches_a_local_subscriber(&p);
    let log = agent_tests::wait_for(T, || {
        let l = p.log();
        l.contains("refused a link").then_some(l)
    });
    assert!(log.is_some(), "{}", p.log());
    assert_eq!(request("GET", &p.api("/health"), None).unwrap().status, 200);
}

/// The engine's events (ptp4l lines on the log socket) take the same path.
#[test]
fn log_socket_lines_reach_the_cnf_through_the_broker() {
    let b = Broker::start(Kind::Proton);
    let (p, c) = amqp_pair(&b, true);
    let cnf = Consumer::start();
    c.subscribe(LOCK, &cnf.endpoint("/e"));
    let mut w = p.connect_socket();
    w.line("ptp4l[1.000]: [ptp4l.0.config] master offset 5 s2 freq -1 path delay 100");
    let got = cnf.wait_bodies("/e", T, |b| has_value(b, "LOCKED"));
    assert_eq!(with_value(&got, "LOCKED")["source"], LOCK);
    // The sidecar serves what it relayed as CurrentState.
    let r = c.current_state(LOCK);
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn publisher_without_broker_keeps_serving_http() {
    let port = agent_tests::free_port();
    let p = Agent::start(&["--transport-host", &format!("amqp://127.0.0.1:{port}")]);
    let _cnf = locked_reaches_a_local_subscriber(&p);
}

/// A subscriber of `p` itself (no sidecar) gets the LOCKED event `p` makes;
/// returns that subscriber (the CNF), to keep it running.
fn locked_reaches_a_local_subscriber(p: &Agent) -> Consumer {
    let cnf = Consumer::start();
    p.subscribe(LOCK, &cnf.endpoint("/e"));
    p.create_event(LOCK, "LOCKED");
    cnf.wait_bodies("/e", T, |b| has_value(b, "LOCKED"));
    cnf
}
