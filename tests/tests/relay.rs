//! The consumer sidecar over HTTP: publisher agent -> HTTP -> sidecar agent
//! -> CNF endpoint (a test-consumer), with v1 and v2 CNF subscriptions, a
//! publisher restart, a publisher that lost its subscriptions, and clean-up
//! when the CNF unsubscribes.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::time::Duration;

use agent_tests::chain::{LOCK, has_value, http_sidecar, subscribe_v2_and_v1, with_value};
use agent_tests::{Agent, Consumer, request, wait_for};
use serde_json::Value;

const T: Duration = Duration::from_secs(15);

fn sidecar(p: &Agent) -> Agent {
    http_sidecar(p, 300)
}

/// The publisher's subscriptions whose endpoint is the sidecar's.
fn relay_subs(p: &Agent, c: &Agent) -> Vec<Value> {
    let ep = format!("http://localhost:{}/relay/event", c.api_port);
    let list = request("GET", &p.api("/subscriptions"), None)
        .unwrap()
        .json();
    list.as_array()
        .unwrap()
        .iter()
        .filter(|s| s["EndpointUri"] == ep.as_str())
        .cloned()
        .collect()
}

fn wait_relay_subs(p: &Agent, c: &Agent, n: usize) -> Vec<Value> {
    wait_for(T, || {
        let s = relay_subs(p, c);
        (s.len() == n).then_some(s)
    })
    .unwrap_or_else(|| {
        panic!(
            "expected {n} relay subscriptions, got {:?}",
            relay_subs(p, c)
        )
    })
}

#[test]
fn http_chain_relays_in_each_subscribers_format_and_survives_publisher_restarts() {
    let mut p = Agent::start(&[]);
    let c = sidecar(&p);
    let cnf = Consumer::start();
    let v1_id = subscribe_v2_and_v1(&c, &cnf);

    // One subscription at the publisher for both CNF subscriptions.
    let subs = wait_relay_subs(&p, &c, 1);
    assert_eq!(subs[0]["ResourceAddress"], p.address(LOCK));

    p.create_event(LOCK, "LOCKED");
    let v2 = cnf.wait_bodies("/v2", T, |b| has_value(b, "LOCKED"));
    let v1 = cnf.wait_bodies("/v1", T, |b| has_value(b, "LOCKED"));
    let e2 = with_value(&v2, "LOCKED");
    assert_eq!(e2["specversion"], "1.0");
    assert_eq!(e2["source"], LOCK);
    let e1 = with_value(&v1, "LOCKED");
    assert_eq!(e1["id"], v1_id.as_str());
    assert_eq!(e1["source"], p.address(LOCK));
    // The relay keeps the publisher's event time.
    assert_eq!(e1["time"], e2["time"]);

    // The publisher restarts (its store keeps the subscription).
    p.restart();
    p.create_event(LOCK, "HOLDOVER");
    cnf.wait_bodies("/v2", T, |b| has_value(b, "HOLDOVER"));
    assert_eq!(relay_subs(&p, &c).len(), 1);

    // The publisher loses every subscription: the sidecar subscribes again,
    // once.
    let r = request("DELETE", &p.api("/subscriptions"), None).unwrap();
    assert_eq!(r.status, 204);
    wait_relay_subs(&p, &c, 1);
    // Two more full checks by the sidecar, then still one subscription.
    let checks = || c.sample(r#"cloud_event_agent_relay_checks_total{outcome="ok"}"#);
    let before = checks();
    wait_for(T, || (checks() >= before + 2.0).then_some(())).expect("the sidecar checks again");
    assert_eq!(relay_subs(&p, &c).len(), 1, "no duplicate subscriptions");
    p.create_event(LOCK, "FREERUN");
    cnf.wait_bodies("/v1", T, |b| has_value(b, "FREERUN"));

    // The CNF unsubscribes (v2 and v1 are separate views: both deletes are
    // needed): the sidecar deletes its subscription upstream.
    let r = request("DELETE", &c.api("/subscriptions"), None).unwrap();
    assert_eq!(r.status, 204);
    let r = request("DELETE", &c.api_v1("/subscriptions"), None).unwrap();
    assert_eq!(r.status, 200);
    wait_relay_subs(&p, &c, 0);
}

#[test]
fn bad_input_to_the_sidecar_is_refused_and_counted() {
    let p = Agent::start(&[]);
    let c = sidecar(&p);
    let url = format!("http://127.0.0.1:{}/relay/event", c.api_port);
    let r = request("POST", &url, Some(b"{\"not\":\"an event\"}")).unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    let r = request("POST", &url, Some(b"garbage")).unwrap();
    assert_eq!(r.status, 400);
    let m = c.metrics();
    assert!(
        m.contains("cloud_event_agent_relay_events_total{outcome=\"invalid\"} 2"),
        "{m}"
    );
    // Still serving.
    let r = request("GET", &c.api("/health"), None).unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn sidecar_subscribes_once_an_unreachable_publisher_comes_up() {
    let mut p = Agent::start(&[]);
    p.kill9();
    let c = sidecar(&p);
    let cnf = Consumer::start();
    c.subscribe(LOCK, &cnf.endpoint("/v2"));
    assert_eq!(request("GET", &c.api("/health"), None).unwrap().status, 200);
    // The publisher starts (same port): the sidecar subscribes there.
    p.restart();
    wait_relay_subs(&p, &c, 1);
    p.create_event(LOCK, "LOCKED");
    cnf.wait_bodies("/v2", T, |b| has_value(b, "LOCKED"));
}
