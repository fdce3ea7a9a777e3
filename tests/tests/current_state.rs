//! One current state: an engine state change (a ptp4l line on the log
//! socket) and a `create/event` publish are seen identically by v2
//! CurrentState, v1 CurrentState, the v1-era transport's CurrentState, an
//! AMQP status request (real Qpid Proton broker) and a consumer sidecar
//! that relayed them.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::time::Duration;

use agent_tests::broker::{Broker, Kind};
use agent_tests::chain::{LOCK, amqp_pair};
use agent_tests::http::request_with;
use agent_tests::{Agent, Consumer, Response, request, wait_for};
use fe2o3_amqp::sasl_profile::SaslProfile;
use fe2o3_amqp::types::messaging::{Body, Message, Properties};
use fe2o3_amqp::types::primitives::Value as AmqpValue;
use fe2o3_amqp::{Connection, Receiver, Sender, Session};
use serde_json::{Value, json};

const GNSS: &str = "/sync/gnss-status/gnss-sync-status";
const T: Duration = Duration::from_secs(20);

/// `(resource address, value)` of each value of a v2 or v1 body (v1 uses
/// other keys, and may carry a metric as a number).
fn values(data: &Value) -> Vec<(String, String)> {
    data["values"]
        .as_array()
        .unwrap_or_else(|| panic!("no values in {data}"))
        .iter()
        .map(|v| {
            let addr = v
                .get("ResourceAddress")
                .or_else(|| v.get("resource"))
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("no address in {v}"));
            let value = match &v["value"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (addr.to_owned(), value)
        })
        .collect()
}

fn get(url: &str) -> Response {
    request("GET", url, None).unwrap()
}

fn ok_data(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["data"].clone()
}

/// Registers a v1-era consumer sidecar at `base` for `resources` (as its
/// cloudevents-sdk-go client does); returns its client id.
fn register_transport(a: &Agent, base: &str, resources: &[String]) -> String {
    let client = uuid::Uuid::new_v3(&uuid::Uuid::NAMESPACE_URL, base.as_bytes()).to_string();
    let store: serde_json::Map<String, Value> = resources
        .iter()
        .map(|r| {
            let id = uuid::Uuid::new_v4().to_string();
            (id.clone(), json!({"id": id, "resource": r}))
        })
        .collect();
    let data = json!({
        "clientID": client, "subStore": {"Store": store},
        "endPointURI": base, "status": 0, "action": 0,
    });
    let r = request_with(
        "POST",
        &format!("http://127.0.0.1:{}/subscription", a.api_port),
        Some(data.to_string().as_bytes()),
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "b0c1a3a2-46c6-4b59-9b36-6f6f1c1b7f10"),
            ("ce-source", "/cluster/node/x/sync/ptp-status/lock-state"),
            ("ce-type", "SUBSCRIBER"),
            ("ce-subject", "NEW"),
            ("Content-Type", "application/json"),
        ],
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    client
}

/// A raw AMQP client's status request for `resource`; the reply's data.
fn amqp_status(b: &Broker, resource: &str) -> Value {
    let url = b.url();
    let resource = resource.to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut conn = Connection::builder()
            .container_id("test-status-client")
            .sasl_profile(SaslProfile::Anonymous)
            .open(url.as_str())
            .await
            .unwrap();
        let mut session = Session::begin(&mut conn).await.unwrap();
        let reply = format!("{resource}/zzzzz");
        let mut r = Receiver::attach(&mut session, "test-reply", reply.as_str())
            .await
            .unwrap();
        let mut s = Sender::attach(&mut session, "test-status", format!("{resource}/status"))
            .await
            .unwrap();
        let req = Message::builder()
            .properties(Properties::builder().reply_to(reply.clone()).build())
            .value("{}")
            .build();
        s.send(req).await.unwrap();
        let d = tokio::time::timeout(T, r.recv::<Body<AmqpValue>>())
            .await
            .expect("a status reply")
            .unwrap();
        r.accept(&d).await.unwrap();
        let m = d.into_message();
        drop((s, r, session, conn));
        let Body::Data(data) = &m.body else {
            panic!("reply body is not a Data section: {:?}", m.body)
        };
        serde_json::from_slice::<Value>(&data[0].0).unwrap()
    })
}

#[test]
fn every_reader_sees_one_current_state() {
    let b = Broker::start(Kind::Proton);
    let (p, c) = amqp_pair(&b, false);
    // An engine state change: LOCKED from a servo line.
    let mut w = p.connect_socket();
    w.line("ptp4l[1.000]: [ptp4l.0.config] master offset 5 s2 freq -1 path delay 100");
    // A kind the engine has no data for, published through create/event.
    p.create_event(GNSS, "SYNCHRONIZED");
    let engine_locked = wait_for(T, || {
        let r = p.current_state(LOCK);
        (r.status == 200 && values(&r.json()["data"]).iter().any(|(_, v)| v == "LOCKED"))
            .then_some(())
    });
    assert!(engine_locked.is_some(), "{}", p.current_state(LOCK).text());

    let sidecar = Consumer::with_args(&["--status", "200"]);
    let base = sidecar.endpoint("");
    let client = register_transport(&p, &base, &[p.address(LOCK), p.address(GNSS)]);
    let cnf = Consumer::start();
    c.subscribe(LOCK, &cnf.endpoint("/e"));
    c.subscribe(GNSS, &cnf.endpoint("/e"));

    for (suffix, want) in [(LOCK, "LOCKED"), (GNSS, "SYNCHRONIZED")] {
        let addr = p.address(suffix);
        let v2 = values(&ok_data(&p.current_state(suffix)));
        assert!(v2.iter().any(|(_, v)| v == want), "{suffix}: {v2:?}");
        let v1 = values(&ok_data(&get(&p.api_v1(&format!("{addr}/CurrentState")))));
        let transport = values(&ok_data(&get(&format!(
            "http://127.0.0.1:{}{addr}/{client}/CurrentState",
            p.api_port
        ))));
        let amqp = values(&amqp_status(&b, &addr));
        assert_eq!(v1, v2, "{suffix}: v1 CurrentState");
        assert_eq!(transport, v2, "{suffix}: transport CurrentState");
        assert_eq!(amqp, v2, "{suffix}: AMQP status answer");
        // The sidecar serves what it relayed (its attach-time status
        // request, then pushes): the same.
        let relayed = wait_for(T, || {
            let r = c.current_state(suffix);
            (r.status == 200 && values(&r.json()["data"]) == v2).then_some(())
        });
        assert!(
            relayed.is_some(),
            "{suffix}: sidecar {} vs {v2:?}",
            c.current_state(suffix).text()
        );
    }
}
