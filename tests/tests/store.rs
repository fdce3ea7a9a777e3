//! The subscription store through the real binary: durability across
//! `kill -9`, corrupt files, the anchor's files.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

mod api_common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use agent_tests::{Agent, Consumer, request, wait_for};
use api_common::*;
use serde_json::{Value, json};

const ANCHOR: &str = include_str!("../data/store/anchor-client.json");
const ANCHOR_FILE: &str = "03dc46b6-2493-37fa-82e2-7545714a17d6.json";
const ANCHOR_SUB: &str = "32659c8d-5a81-3522-b2e0-256675e341d1";

const KINDS: [&str; 7] = [
    "/sync/sync-status/sync-state",
    "/sync/ptp-status/lock-state",
    "/sync/gnss-status/gnss-sync-status",
    "/sync/sync-status/os-clock-sync-state",
    "/sync/synce-status/lock-state",
    "/sync/ptp-status/clock-class",
    "/sync/synce-status/clock-quality",
];

#[test]
fn kill9_during_a_burst_of_concurrent_creates_keeps_every_201() {
    let mut a = Agent::start(&[]);
    let consumers = [Consumer::start(), Consumer::start()];
    let url = a.api("/subscriptions");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(a.pid()).unwrap());
    let created: Mutex<Vec<Value>> = Mutex::new(Vec::new());
    let unexpected: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let count = AtomicUsize::new(0);

    std::thread::scope(|s| {
        for (t, kind) in KINDS.iter().enumerate() {
            let (a, url, consumers) = (&a, &url, &consumers);
            let (created, unexpected, count) = (&created, &unexpected, &count);
            s.spawn(move || {
                // Seven threads share each endpoint, one resource each: they
                // write the same client file at the same time.
                for i in 0.. {
                    let ep = consumers[i % 2].endpoint(&format!("/n{i}"));
                    let body = json!({"ResourceAddress": a.address(kind), "EndpointUri": ep});
                    let Ok(r) = request("POST", url, Some(body.to_string().as_bytes())) else {
                        break; // the agent is gone
                    };
                    if r.status == 201 {
                        created.lock().unwrap().push(r.json());
                        count.fetch_add(1, Ordering::Relaxed);
                    } else {
                        unexpected
                            .lock()
                            .unwrap()
                            .push(format!("{t}: {} {}", r.status, r.text()));
                    }
                }
            });
        }
        let enough = wait_for(Duration::from_secs(120), || {
            (count.load(Ordering::Relaxed) >= 40).then_some(())
        });
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL).unwrap();
        assert!(enough.is_some(), "too few subscriptions were created");
    });
    assert!(
        unexpected.lock().unwrap().is_empty(),
        "{:#?}",
        unexpected.lock().unwrap()
    );

    a.restart();
    let created = created.into_inner().unwrap();
    let listed = list(&a);
    for s in &created {
        let r = get(
            &a,
            &format!("/subscriptions/{}", s["SubscriptionId"].as_str().unwrap()),
        );
        assert_eq!(r.status, 200, "lost {s}");
        assert_eq!(&r.json(), s);
        assert!(listed.contains(s));
    }
    // Nothing half-written: no corrupt file, no leftover temporary file.
    for name in store_files(&a).keys() {
        assert!(
            !name.contains("corrupt") && !name.starts_with('.'),
            "{name}"
        );
    }
    assert_eq!(
        metric(&a, r#"cne_api_subscriptions{status="active"}"#),
        Some(listed.len() as f64)
    );
}

#[test]
fn a_corrupt_file_is_moved_aside_and_the_others_load() {
    let mut a = Agent::start_logged(&[]);
    let c = Consumer::start();
    let good = subscribed(&a, &a.address(KINDS[1]), &c.endpoint("/good"));
    a.kill9();
    let bad = "0b4f0dc4-50e4-4d3d-8d53-0b6f3c7c2a11.json";
    // Truncated, as a non-atomic writer leaves it after a crash.
    std::fs::write(
        a.store_dir().join(bad),
        "{\n \"clientID\": \"0b4f0dc4-50e4-4d3d-8d53-0b6f3c7c2a11\",\n \"subStore\": {\n  \"sto",
    )
    .unwrap();
    a.restart();

    assert_eq!(list(&a), vec![good]);
    let files = store_files(&a);
    assert!(files.contains_key(&format!("{bad}.corrupt")), "{files:?}");
    assert!(!files.contains_key(bad));
    let log = a.log();
    let line = log
        .lines()
        .find(|l| l.contains(bad) && l.contains("moved aside"))
        .unwrap_or_else(|| panic!("no log line names {bad}:\n{log}"));
    assert!(
        line.contains("line=4") && line.contains("column="),
        "{line}"
    );
}

#[test]
fn the_anchors_store_loads_and_is_listed() {
    let mut a = Agent::start(&[]);
    a.kill9();
    std::fs::write(a.store_dir().join(ANCHOR_FILE), ANCHOR).unwrap();
    // The ConfigMap fixture spelling: Go reads keys case-insensitively.
    let variant_ep = "http://event-consumer-external4:27017";
    let variant = format!(
        "{{\"clientID\":\"x\",\"SubStore\":{{\"Store\":{{\"42659c8d-5a81-3522-b2e0-256675e341d1\":{{\"ResourceAddress\":\"{}\",\"EndpointUri\":\"{variant_ep}\",\"SubscriptionId\":\"42659c8d-5a81-3522-b2e0-256675e341d1\",\"UriLocation\":\"http://old:9043/x\"}}}}}},\"EndPointURI\":\"{variant_ep}\",\"status\":1,\"action\":0}}",
        a.address(KINDS[0])
    );
    std::fs::write(a.store_dir().join(client_file(variant_ep)), &variant).unwrap();
    a.restart();

    let want = json!({
        "ResourceAddress": "/cluster/node/cnfocto2.ptp.lab.eng.bos.redhat.com/sync/ptp-status/lock-state",
        "EndpointUri": "http://event-consumer-external3:27017",
        "SubscriptionId": ANCHOR_SUB,
        "UriLocation": "http://ptp-event-publisher-service-cnfocto2.openshift-ptp.svc.cluster.local:9043/api/ocloudNotifications/v2/subscriptions/32659c8d-5a81-3522-b2e0-256675e341d1",
    });
    let listed = list(&a);
    assert_eq!(listed.len(), 2, "{listed:#?}");
    assert!(listed.contains(&want));
    assert_eq!(
        get(&a, &format!("/subscriptions/{ANCHOR_SUB}")).json(),
        want
    );
    let v = get(&a, "/subscriptions/42659c8d-5a81-3522-b2e0-256675e341d1").json();
    assert_eq!(v["EndpointUri"], variant_ep);
    // Loading does not rewrite the anchor's file.
    assert_eq!(store_files(&a)[ANCHOR_FILE], ANCHOR);
    assert_eq!(
        metric(&a, r#"cne_api_subscriptions{status="active"}"#),
        Some(2.0)
    );

    let r = delete(&a, &format!("/subscriptions/{ANCHOR_SUB}"));
    assert_eq!(r.status, 204);
    assert!(!store_files(&a).contains_key(ANCHOR_FILE));
}

#[test]
fn client_files_are_written_in_the_anchors_format() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let ep = c.endpoint("/event");
    let s = subscribed(&a, &a.address(KINDS[1]), &ep);
    let id = s["SubscriptionId"].as_str().unwrap();
    let name = client_file(&ep);
    let expected = format!(
        "{{\n \"clientID\": \"{cid}\",\n \"subStore\": {{\n  \"store\": {{\n   \"{id}\": {{\n    \"ResourceAddress\": \"{r}\",\n    \"EndpointUri\": \"{ep}\",\n    \"SubscriptionId\": \"{id}\",\n    \"UriLocation\": \"{u}\"\n   }}\n  }}\n }},\n \"EndpointUri\": \"{ep}\",\n \"status\": 1,\n \"action\": 0\n}}",
        cid = name.trim_end_matches(".json"),
        r = a.address(KINDS[1]),
        u = s["UriLocation"].as_str().unwrap(),
    );
    assert_eq!(store_files(&a)[&name], expected);

    // A second subscription of the same client goes into the same file;
    // deleting one rewrites it, deleting the last removes it.
    let s2 = subscribed(&a, &a.address(KINDS[0]), &ep);
    let text = &store_files(&a)[&name];
    assert!(text.contains(id) && text.contains(s2["SubscriptionId"].as_str().unwrap()));
    assert_eq!(delete(&a, &format!("/subscriptions/{id}")).status, 204);
    assert!(!store_files(&a)[&name].contains(id));
    let id2 = s2["SubscriptionId"].as_str().unwrap();
    assert_eq!(delete(&a, &format!("/subscriptions/{id2}")).status, 204);
    assert!(!store_files(&a).contains_key(&name));
}

#[test]
fn pub_json_keeps_the_publishers() {
    let mut a = Agent::start(&[]);
    let pubs = get(&a, "/publishers").json();
    let text = store_files(&a)["pub.json"].clone();
    assert!(text.starts_with("[\n {\n  \"ResourceAddress\": "), "{text}");
    let on_disk: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(on_disk, pubs);
    a.restart();
    assert_eq!(store_files(&a)["pub.json"], text);
}
