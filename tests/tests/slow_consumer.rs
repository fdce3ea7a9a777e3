//! Slow consumers against the real binary: latest state wins, and a
//! consumer that answers, however slowly, is never taken for dead.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::time::Duration;

use agent_tests::{Agent, Consumer, LogWriter, notification_values, request, wait_for};
use serde_json::Value;

const T: Duration = Duration::from_secs(30);
const LOCK: &str = "/sync/ptp-status/lock-state";

fn ptp4l(w: &mut LogWriter, offset: i64) {
    w.line(&format!(
        "ptp4l[5196819.100]: [ptp4l.0.config] master offset {offset} s2 freq +500 path delay 89"
    ));
}

fn subscriptions(a: &Agent) -> Vec<Value> {
    let r = request("GET", &a.api("/subscriptions"), None).unwrap();
    serde_json::from_slice(&r.body).unwrap()
}

/// A burst into a consumer that takes 300 ms per event: once its queue is
/// full it holds one entry per resource, the newest, so the final state
/// arrives right after the event in flight, not after a backlog.
#[test]
fn a_slow_consumer_gets_the_final_state_next() {
    let a = Agent::start(&["--queue-capacity", "8"]);
    let slow = Consumer::with_args(&["--delay-ms", "300"]);
    a.subscribe(LOCK, &slow.endpoint("/e"));
    let mut w = a.connect_socket();
    // 0..=40: LOCKED, FREERUN, ..., LOCKED last.
    for k in 0..=40 {
        ptp4l(&mut w, if k % 2 == 0 { 1 } else { 1000 });
    }
    wait_for(T, || {
        (a.sample("cloud_event_agent_delivery_queue_depth") == 0.0
            && a.sample("cloud_event_agent_deliveries_coalesced_total") > 0.0)
            .then_some(())
    })
    .expect("queue drained after coalescing");
    let got = slow.wait_bodies("/e", T, |b| {
        b.last()
            .is_some_and(|e| notification_values(e) == ["LOCKED"])
            && b.len() > 1
    });
    // Initial notification, what was in flight and queued before the queue
    // filled (at most its capacity), then the final state: not 41 events.
    assert!(got.len() <= 1 + 1 + 8 + 1, "{} bodies", got.len());
    // Nothing else comes after the final state.
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(slow.bodies("/e").len(), got.len());
}

/// A consumer that answers every POST, but after the delivery timeout, is
/// not removed however many times it is late; the timeouts are counted.
#[test]
fn a_consumer_slower_than_the_timeout_is_not_dead() {
    let slow = Consumer::with_args(&["--delay-ms", "500"]);
    // Subscribed with a timeout its initial notification meets...
    let mut a = Agent::start(&[]);
    a.subscribe(LOCK, &slow.endpoint("/e"));
    // ...then the agent runs with one every delivery misses.
    a.restart_with(&[
        "--delivery-timeout-ms",
        "300",
        "--max-consecutive-failures",
        "2",
    ]);
    let mut w = a.connect_socket();
    for k in 0..5 {
        ptp4l(&mut w, if k % 2 == 0 { 1 } else { 1000 });
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_for(T, || {
        (a.sample(r#"cloud_event_agent_deliveries_total{outcome="timeout"}"#) >= 5.0).then_some(())
    })
    .expect("timeouts counted");
    // Every event reached it, once: a timed-out POST is not sent again.
    slow.wait_bodies("/e", T, |b| b.len() == 1 + 5);
    assert_eq!(subscriptions(&a).len(), 1, "still subscribed");
    assert_eq!(a.sample("cloud_event_agent_consumers_removed_total"), 0.0);
}

/// Store files are checked like API input at start: what the API would
/// refuse is named in the log (and kept in its file, never delivered to).
#[test]
fn stored_subscriptions_the_api_would_refuse_are_named_at_start() {
    let mut a = Agent::start_logged(&[]);
    let lock = a.address(LOCK);
    let cases = [
        ("http://169.254.169.254/latest/meta-data", lock.clone()),
        ("ftp://consumer/e", lock),
        (
            "http://consumer/e",
            "/cluster/node/another-node/sync/ptp-status/lock-state".to_owned(),
        ),
    ];
    let mut files = Vec::new();
    for (i, (ep, resource)) in cases.iter().enumerate() {
        let id = format!("00000000-0000-4000-8000-00000000000{i}");
        let client = uuid::Uuid::new_v3(&uuid::Uuid::NAMESPACE_URL, ep.as_bytes());
        let body = serde_json::json!({"clientID": client, "subStore": {"store": {&id: {
            "ResourceAddress": resource, "EndpointUri": ep, "SubscriptionId": id,
            "UriLocation": format!("http://localhost:9043/api/ocloudNotifications/v2/subscriptions/{id}")}}},
            "EndpointUri": ep, "status": 1, "action": 0});
        let file = format!("{client}.json");
        std::fs::write(a.store_dir().join(&file), body.to_string()).unwrap();
        files.push(file);
    }
    a.restart();
    let log = a.log();
    for f in &files {
        assert!(
            log.lines()
                .any(|l| l.contains(f.as_str()) && l.contains("not valid here")),
            "{f} not named: {log}"
        );
    }
    assert_eq!(subscriptions(&a).len(), 3, "kept in the store");
}
