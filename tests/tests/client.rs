//! The client crate's examples against the real agent binary, each in its
//! own process: subscribe (and a duplicate), register a publisher and
//! publish through it, the status ping, and the consumer: CurrentState on
//! start, pushed events (v2 and v1), and its subscription kept alive across
//! an agent restart with an empty store.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::time::Duration;

use agent_tests::chain::{LOCK, has_value};
use agent_tests::examples::Example;
use agent_tests::{Agent, Consumer, free_port, request, wait_for};
use serde_json::Value;

const T: Duration = Duration::from_secs(20);

fn base(p: &Agent) -> String {
    format!("http://127.0.0.1:{}", p.api_port)
}

/// `--publisher <p> --node <node>` and the rest.
fn args<'a>(p: &'a Agent, base: &'a str, more: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["--publisher", base, "--node", p.node.as_str()];
    a.extend_from_slice(more);
    a
}

/// The notification values of an event line's `event` (normalised keys).
fn state_of(ev: &Value) -> Vec<String> {
    ev["data"]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["data_type"] == "notification")
        .filter_map(|v| v["value"].as_str().map(str::to_owned))
        .collect()
}

fn pushed(line: &Value, state: &str) -> bool {
    line["via"] == "push" && state_of(&line["event"]).iter().any(|s| s == state)
}

fn subs_of(p: &Agent, endpoint: &str, api: &str) -> Vec<Value> {
    let url = if api == "v1" {
        p.api_v1("/subscriptions")
    } else {
        p.api("/subscriptions")
    };
    let (ek, _) = if api == "v1" {
        ("endpointUri", "")
    } else {
        ("EndpointUri", "")
    };
    request("GET", &url, None)
        .unwrap()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s[ek] == endpoint)
        .cloned()
        .collect()
}

#[test]
fn create_subscription_gets_the_initial_notification_and_reuses_a_duplicate() {
    let p = Agent::start(&[]);
    let b = base(&p);
    let listen = format!("127.0.0.1:{}", free_port());
    let a = args(&p, &b, &["--listen", &listen, "--event-type", "lock-state"]);
    let lines = Example::run("create_subscription", &a, T);
    let sub = &lines[0]["subscription"];
    assert_eq!(sub["existing"], false, "{lines:?}");
    assert_eq!(sub["resource"], p.address(LOCK).as_str());
    // The initial notification: no data yet, so the placeholder, typed.
    let initial = &lines[1]["initial"];
    assert_eq!(initial["type"], "event.sync.ptp-status.ptp-state-change");
    assert_eq!(initial["format"], "cloudevent-1.0");
    assert_eq!(state_of(initial), ["FREERUN"]);
    let listed = subs_of(&p, &format!("http://{listen}/event"), "v2");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["SubscriptionId"], sub["id"]);

    // Again: the 409 names the same subscription.
    let again = Example::run("create_subscription", &a, T);
    assert_eq!(again[0]["subscription"]["existing"], true);
    assert_eq!(again[0]["subscription"]["id"], sub["id"]);
    assert_eq!(
        subs_of(&p, &format!("http://{listen}/event"), "v2").len(),
        1
    );
}

#[test]
fn a_registered_publisher_publishes_to_subscribers() {
    let p = Agent::start(&[]);
    let b = base(&p);
    let lines = Example::run(
        "create_publisher",
        &args(&p, &b, &["--event-type", "lock-state"]),
        T,
    );
    // The agent's own publisher of the resource is returned.
    assert_eq!(lines[0]["publisher"]["id"], p.publisher_id(LOCK).as_str());
    let cnf = Consumer::start();
    p.subscribe(LOCK, &cnf.endpoint("/e"));

    let a = args(&p, &b, &["--state", "HOLDOVER", "--offset", "-12"]);
    let lines = Example::run("publish_event", &a, T);
    assert_eq!(lines[0]["published"]["state"], "HOLDOVER");
    let got = cnf.wait_bodies("/e", T, |bs| has_value(bs, "HOLDOVER"));
    let ev = got
        .iter()
        .find(|b| agent_tests::chain::is_value(b, "HOLDOVER"))
        .unwrap();
    let metric = ev["data"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["data_type"] == "metric")
        .unwrap();
    assert_eq!(metric["value"], "-12");

    // The seed's key spelling is accepted by the agent too.
    let a = args(&p, &b, &["--state", "FREERUN", "--legacy-keys"]);
    let _ = Example::run("publish_event", &a, T);
    cnf.wait_bodies("/e", T, |bs| has_value(bs, "FREERUN"));
}

#[test]
fn a_status_ping_brings_the_current_state_again() {
    let p = Agent::start(&[]);
    p.create_event(LOCK, "LOCKED");
    let b = base(&p);
    let listen = format!("127.0.0.1:{}", free_port());
    let a = args(&p, &b, &["--listen", &listen, "--count", "2"]);
    let lines = Example::run("status_listener", &a, T);
    // The subscription, the initial notification, the ping's answer.
    assert_eq!(lines.len(), 3, "{lines:#?}");
    for l in &lines[1..] {
        assert_eq!(state_of(&l["event"]), ["LOCKED"], "{l}");
    }
    // It cleaned up after itself.
    assert!(subs_of(&p, &format!("http://{listen}/event"), "v2").is_empty());
}

#[test]
fn consumer_pulls_receives_and_resubscribes_after_an_agent_restart_with_an_empty_store() {
    let mut p = Agent::start(&[]);
    p.create_event(LOCK, "LOCKED");
    let b = base(&p);
    let listen = format!("127.0.0.1:{}", free_port());
    let endpoint = format!("http://{listen}/event");
    let c = Example::spawn(
        "consumer",
        &args(&p, &b, &["--listen", &listen, "--check-ms", "300"]),
    );
    // CurrentState on start, typed.
    let pulled = c.wait_line(T, |l| l["via"] == "pull");
    assert_eq!(
        pulled["event"]["type"],
        "event.sync.ptp-status.ptp-state-change"
    );
    assert_eq!(state_of(&pulled["event"]), ["LOCKED"]);
    // One prefix subscription.
    let subs = wait_for(T, || {
        let s = subs_of(&p, &endpoint, "v2");
        (s.len() == 1).then_some(s)
    })
    .expect("the consumer subscribed");
    assert_eq!(
        subs[0]["ResourceAddress"],
        format!("/cluster/node/{}/sync", p.node)
    );

    p.create_event(LOCK, "HOLDOVER");
    c.wait_line(T, |l| pushed(l, "HOLDOVER"));

    // The agent comes back with an empty store: the consumer subscribes
    // again, once.
    p.kill9();
    std::fs::remove_dir_all(p.store_dir()).unwrap();
    std::fs::create_dir_all(p.store_dir()).unwrap();
    p.restart();
    wait_for(T, || {
        (subs_of(&p, &endpoint, "v2").len() == 1).then_some(())
    })
    .expect("the consumer subscribed again");
    p.create_event(LOCK, "FREERUN");
    c.wait_line(T, |l| pushed(l, "FREERUN"));
    assert_eq!(subs_of(&p, &endpoint, "v2").len(), 1, "no duplicates");
    // Every line is an event of a known format.
    for l in c.lines() {
        assert!(l["event"]["format"].is_string(), "{l}");
    }
}

#[test]
fn v1_consumer_decodes_cloud_native_events() {
    let p = Agent::start(&[]);
    p.create_event(LOCK, "LOCKED");
    let b = base(&p);
    let listen = format!("127.0.0.1:{}", free_port());
    let c = Example::spawn(
        "consumer",
        &args(
            &p,
            &b,
            &["--listen", &listen, "--check-ms", "300", "--api", "v1"],
        ),
    );
    let pulled = c.wait_line(T, |l| l["via"] == "pull");
    assert_eq!(pulled["event"]["format"], "cloudevent-0.3");
    assert_eq!(state_of(&pulled["event"]), ["LOCKED"]);
    let endpoint = format!("http://{listen}/event");
    wait_for(T, || {
        (subs_of(&p, &endpoint, "v1").len() == 7).then_some(())
    })
    .expect("one v1 subscription per event type");
    p.create_event(LOCK, "HOLDOVER");
    let l = c.wait_line(T, |l| pushed(l, "HOLDOVER"));
    assert_eq!(l["event"]["format"], "cloud-native");
    assert_eq!(l["event"]["source"], p.address(LOCK).as_str());
    // The v1 event's id is the subscription's.
    let ids: Vec<Value> = subs_of(&p, &endpoint, "v1")
        .iter()
        .map(|s| s["id"].clone())
        .collect();
    assert!(ids.contains(&l["event"]["id"]), "{l} {ids:?}");
}

/// The repository's example consumer, rebuilt on the client: subscribes to
/// its five resources and makes them again when the publisher lost them;
/// its log, piped, is plain text with plain values.
#[test]
fn example_consumer_keeps_its_five_subscriptions() {
    let p = Agent::start(&[]);
    let listen = format!("127.0.0.1:{}", free_port());
    let endpoint = format!("http://{listen}/event");
    let mut child = std::process::Command::new(agent_tests::workspace_bin("example-consumer"))
        .args(["--node-name", &p.node, "--publisher", &base(&p)])
        .args([
            "--listen",
            &listen,
            "--health-interval",
            "1",
            "--pull-interval",
            "1",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Its log, wherever it writes it.
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let out: [Box<dyn std::io::Read + Send>; 2] = [
        Box::new(child.stdout.take().unwrap()),
        Box::new(child.stderr.take().unwrap()),
    ];
    for pipe in out {
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
    }
    let five = || (subs_of(&p, &endpoint, "v2").len() == 5).then_some(());
    let ok = wait_for(T, five);
    let r = request("DELETE", &p.api("/subscriptions"), None).unwrap();
    assert_eq!(r.status, 204);
    let again = wait_for(T, five);
    p.create_event(LOCK, "LOCKED");
    let logged = wait_for(T, || {
        let l = log.lock().unwrap();
        l.lines()
            .find(|x| x.contains("received event") && x.contains("LOCKED"))
            .map(str::to_owned)
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ok.is_some() && again.is_some(),
        "{:?}",
        subs_of(&p, &endpoint, "v2")
    );
    let line = logged.unwrap_or_else(|| panic!("no event logged: {}", log.lock().unwrap()));
    assert!(
        !line.contains('\u{1b}'),
        "no colour codes when piped: {line:?}"
    );
    assert!(!line.contains("Some("), "plain values: {line}");
    assert!(line.contains("latency_ms="), "{line}");
}
