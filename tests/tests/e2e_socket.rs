//! End to end: linuxptp lines written to the log socket reach real HTTP
//! consumer processes as the right CloudEvents; one hung or dead consumer
//! does not hold up the others.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::time::Duration;

use agent_tests::{Agent, Consumer, LogWriter, notification_values, request, wait_for};
use serde_json::Value;

const T: Duration = Duration::from_secs(20);

fn of_type<'a>(bodies: &'a [Value], ty: &str) -> Vec<&'a Value> {
    bodies.iter().filter(|b| b["type"] == ty).collect()
}

const LOCK_T: &str = "event.sync.ptp-status.ptp-state-change";
const OS_T: &str = "event.sync.sync-status.os-clock-sync-state-change";
const SYNC_T: &str = "event.sync.sync-status.synchronization-state-change";

fn ptp4l(w: &mut LogWriter, offset: i64) {
    w.line(&format!(
        "ptp4l[5196819.100]: [ptp4l.0.config] master offset {offset} s2 freq +500 path delay 89"
    ));
}

fn phc2sys(w: &mut LogWriter, offset: i64) {
    w.line(&format!(
        "phc2sys[5196819.200]: [ptp4l.0.config] CLOCK_REALTIME phc offset {offset} s2 freq -6990 delay 502"
    ));
}

#[test]
fn socket_lines_reach_a_consumer_as_cloudevents() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    a.subscribe("/sync", &c.endpoint("/all"));
    // The initial notification: one placeholder per kind under /sync.
    c.wait_bodies("/all", T, |b| b.len() == 7);
    c.clear();

    let mut w = a.connect_socket();
    w.line("ptp4l[1780430740]:[ptp4l.0.config] PTP_PROCESS_STATUS:1");
    ptp4l(&mut w, -5);
    phc2sys(&mut w, 8);
    let got = c.wait_bodies("/all", T, |b| {
        !of_type(b, LOCK_T).is_empty()
            && !of_type(b, OS_T).is_empty()
            && !of_type(b, SYNC_T).is_empty()
    });

    let lock = of_type(&got, LOCK_T)[0];
    assert_eq!(lock["specversion"], "1.0");
    assert_eq!(lock["source"], "/sync/ptp-status/lock-state");
    assert_eq!(lock["data"]["version"], "1.0");
    let v = lock["data"]["values"].as_array().unwrap();
    assert_eq!(v.len(), 2, "{lock}");
    assert_eq!(v[0]["data_type"], "notification");
    assert_eq!(v[0]["value_type"], "enumeration");
    assert_eq!(v[0]["value"], "LOCKED");
    assert_eq!(v[1]["data_type"], "metric");
    assert_eq!(v[1]["value_type"], "decimal64.3");
    assert_eq!(v[1]["value"], "-5");
    let addr = v[0]["ResourceAddress"].as_str().unwrap();
    assert!(
        addr.starts_with(&a.address("/")) && addr.ends_with("/master"),
        "{addr}"
    );

    let os = of_type(&got, OS_T)[0];
    assert_eq!(os["source"], "/sync/sync-status/os-clock-sync-state");
    assert_eq!(notification_values(os), ["LOCKED"]);
    assert_eq!(
        os["data"]["values"][0]["ResourceAddress"],
        a.address("/CLOCK_REALTIME")
    );
    assert_eq!(os["data"]["values"][1]["value"], "8");

    let sync = of_type(&got, SYNC_T);
    assert_eq!(notification_values(sync.last().unwrap()), ["LOCKED"]);
    assert_eq!(
        sync.last().unwrap()["data"]["values"][0]["ResourceAddress"],
        a.address("/sync/sync-status/sync-state")
    );

    // Unchanged state: no event. Out of threshold while s2: FREERUN.
    ptp4l(&mut w, 3);
    ptp4l(&mut w, 4000);
    let got = c.wait_bodies("/all", T, |b| of_type(b, LOCK_T).len() >= 2);
    let locks = of_type(&got, LOCK_T);
    assert_eq!(notification_values(locks[1]), ["FREERUN"]);
    assert_eq!(locks[1]["data"]["values"][1]["value"], "4000");
    c.wait_bodies("/all", T, |b| {
        of_type(b, SYNC_T)
            .last()
            .is_some_and(|s| notification_values(s) == ["FREERUN"])
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        of_type(&c.bodies("/all"), LOCK_T).len(),
        2,
        "one event per change"
    );

    // Each event's id is unique, and CurrentState agrees with the last push.
    let r = a.current_state("/sync/ptp-status/lock-state");
    assert_eq!(r.status, 200, "{}", r.text());
    let cs: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(notification_values(&cs), ["FREERUN"]);

    let m = a.metrics();
    assert!(m.contains("openshift_ptp_offset_ns{"), "{m}");
    assert!(
        m.lines().any(
            |l| l.starts_with("cloud_event_agent_delivery_latency_seconds_count")
                && !l.ends_with(" 0")
        ),
        "{m}"
    );
}

#[test]
fn a_hung_consumer_does_not_delay_the_others() {
    // Long delivery timeout: if the healthy consumer waited behind the
    // hung one, it would not get its events within the wait below.
    let a = Agent::start(&["--delivery-timeout-ms", "60000"]);
    // Answers the initial notification, then never again.
    let hung = Consumer::with_args(&["--hang-after", "1"]);
    let ok = Consumer::start();
    a.subscribe("/sync/ptp-status/lock-state", &hung.endpoint("/e"));
    a.subscribe("/sync/ptp-status/lock-state", &ok.endpoint("/e"));
    ok.wait_bodies("/e", T, |b| b.len() == 1);
    let mut w = a.connect_socket();
    for k in 0..10 {
        ptp4l(&mut w, if k % 2 == 0 { 1 } else { 1000 });
        std::thread::sleep(Duration::from_millis(20));
    }
    let got = ok.wait_bodies("/e", T, |b| b.len() == 11);
    let states: Vec<_> = got[1..].iter().map(notification_values).collect();
    for (k, s) in states.iter().enumerate() {
        let want = if k % 2 == 0 { "LOCKED" } else { "FREERUN" };
        assert_eq!(s, &[want], "event {k} in order: {states:?}");
    }
    // The hung consumer got the first event and is still holding it.
    assert_eq!(hung.bodies("/e").len(), 2);
}

#[test]
fn a_dead_consumer_is_removed_and_the_rest_go_on() {
    let a = Agent::start(&[
        "--max-consecutive-failures",
        "2",
        "--delivery-timeout-ms",
        "500",
    ]);
    let mut dead = Consumer::start();
    let ok = Consumer::start();
    a.subscribe("/sync/ptp-status/lock-state", &dead.endpoint("/e"));
    let keep = a.subscribe("/sync/ptp-status/lock-state", &ok.endpoint("/e"));
    dead.kill();
    let mut w = a.connect_socket();
    let mut k = 0;
    let gone = wait_for(T, || {
        ptp4l(&mut w, if k % 2 == 0 { 1 } else { 1000 });
        k += 1;
        std::thread::sleep(Duration::from_millis(200));
        let r = request("GET", &a.api("/subscriptions"), None).ok()?;
        let list: Vec<Value> = serde_json::from_slice(&r.body).ok()?;
        (list.len() == 1).then_some(list)
    })
    .expect("dead consumer removed");
    assert_eq!(gone[0]["SubscriptionId"], keep["SubscriptionId"]);
    assert!(
        a.metrics()
            .contains("cloud_event_agent_consumers_removed_total 1"),
        "{}",
        a.metrics()
    );
    // Its store file is gone too: a restart does not bring it back.
    let mut a = a;
    a.restart();
    let r = request("GET", &a.api("/subscriptions"), None).unwrap();
    let list: Vec<Value> = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(list.len(), 1);
    ok.wait_bodies("/e", T, |b| b.len() >= 3);
}
