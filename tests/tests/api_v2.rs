//! The REST API v2 against the real binary and real consumer processes:
//! O-RAN conformance TC5.3.1-5.3.6, the anchor's rest-api cases,
//! and every bad input (status, problem+json naming the problem, nothing
//! stored).

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

mod api_common;

use agent_tests::{Agent, Consumer, request};
use api_common::*;
use serde_json::{Value, json};

const LOCK: &str = "/sync/ptp-status/lock-state";

fn uri_location(a: &Agent, id: &str) -> String {
    format!(
        "http://localhost:{}/api/ocloudNotifications/v2/subscriptions/{id}",
        a.api_port
    )
}

/// The placeholder for `source`/`type`, as the initial notification.
fn assert_placeholder(a: &Agent, ev: &Value, source: &str, ty: &str) {
    let keys: Vec<&str> = ev.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec!["data", "id", "source", "specversion", "time", "type"];
    want.sort_unstable();
    assert_eq!(keys, want, "{ev}");
    assert_eq!(ev["specversion"], "1.0");
    assert!(uuid::Uuid::parse_str(ev["id"].as_str().unwrap()).is_ok());
    assert_eq!(ev["source"], source);
    assert_eq!(ev["type"], ty);
    assert!(ev["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(ev["data"]["version"], "1.0");
    let addr = a.address("/ptp-not-set");
    let values = ev["data"]["values"].as_array().unwrap();
    assert_eq!(
        values[0],
        json!({"ResourceAddress": addr, "data_type": "notification", "value_type": "enumeration", "value": "FREERUN"})
    );
    assert_eq!(
        values[1],
        json!({"ResourceAddress": addr, "data_type": "metric", "value_type": "decimal64.3", "value": "0"})
    );
}

#[test]
fn tc5_3_1_create_subscription_and_initial_notification() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let ep = c.endpoint("/event");
    // SubscriptionId and UriLocation in the request are ignored.
    let body = json!({
        "ResourceAddress": a.address(LOCK), "EndpointUri": ep,
        "SubscriptionId": "11111111-1111-1111-1111-111111111111", "UriLocation": "http://x/y",
        "SomethingElse": {"ignored": true},
    });
    let r = post(&a, "/subscriptions", body.to_string().as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let text = r.text();
    let pos: Vec<usize> = [
        "ResourceAddress",
        "EndpointUri",
        "SubscriptionId",
        "UriLocation",
    ]
    .iter()
    .map(|k| text.find(&format!("\"{k}\":")).unwrap())
    .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "key order: {text}");
    let v = r.json();
    assert_eq!(v.as_object().unwrap().len(), 4);
    assert_eq!(v["ResourceAddress"], a.address(LOCK));
    assert_eq!(v["EndpointUri"], ep);
    let id = v["SubscriptionId"].as_str().unwrap();
    assert_ne!(id, "11111111-1111-1111-1111-111111111111");
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(v["UriLocation"], uri_location(&a, id));
    assert_eq!(r.header("location"), v["UriLocation"].as_str());

    // The initial notification arrived before the 201.
    let got = c.bodies("/event");
    assert_eq!(got.len(), 1, "{got:#?}");
    assert_placeholder(&a, &got[0], LOCK, "event.sync.ptp-status.ptp-state-change");
    assert!(store_files(&a).contains_key(&client_file(&ep)));
    assert_eq!(
        metric(&a, r#"cne_api_subscriptions{status="active"}"#),
        Some(1.0)
    );
}

#[test]
fn tc5_3_1_duplicate_is_409_naming_the_existing_subscription() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let first = subscribed(&a, &a.address(LOCK), &c.endpoint("/e"));
    c.clear();
    let before = store_files(&a);
    let r = subscribe(&a, &a.address(LOCK), &c.endpoint("/e"));
    let p = problem(&r, 409, "duplicate-subscription");
    assert_eq!(p["SubscriptionId"], first["SubscriptionId"]);
    assert_eq!(p["UriLocation"], first["UriLocation"]);
    assert_eq!(r.header("location"), first["UriLocation"].as_str());
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains(first["SubscriptionId"].as_str().unwrap())
    );
    // No second notification, nothing changed.
    assert!(c.bodies("/e").is_empty());
    assert_eq!(list(&a), vec![first]);
    assert_eq!(store_files(&a), before);
}

#[test]
fn concurrent_identical_subscribes_give_one_201_and_409s_naming_it() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let (res, ep) = (a.address(LOCK), c.endpoint("/e"));
    let results: Vec<(u16, Value)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let r = subscribe(&a, &res, &ep);
                    (r.status, r.json())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let created: Vec<&Value> = results
        .iter()
        .filter(|r| r.0 == 201)
        .map(|r| &r.1)
        .collect();
    assert_eq!(created.len(), 1, "{results:#?}");
    for (status, body) in &results {
        if *status != 201 {
            assert_eq!(*status, 409);
            assert_eq!(body["SubscriptionId"], created[0]["SubscriptionId"]);
        }
    }
    assert_eq!(list(&a).len(), 1);
}

#[test]
fn tc5_3_2_list_subscriptions() {
    let a = Agent::start(&[]);
    let r = get(&a, "/subscriptions");
    assert_eq!((r.status, r.text().as_str()), (200, "[]"));
    let c = Consumer::start();
    let one = subscribed(&a, &a.address(LOCK), &c.endpoint("/a"));
    let two = subscribed(
        &a,
        &a.address("/sync/sync-status/sync-state"),
        &c.endpoint("/b"),
    );
    assert_eq!(list(&a), vec![one, two]);
}

#[test]
fn tc5_3_3_get_subscription() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let s = subscribed(&a, &a.address(LOCK), &c.endpoint("/a"));
    let r = get(
        &a,
        &format!("/subscriptions/{}", s["SubscriptionId"].as_str().unwrap()),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), s);
    for id in ["0b4f0dc4-50e4-4d3d-8d53-0b6f3c7c2a11", "not-a-uuid", "1234"] {
        let p = problem(
            &get(&a, &format!("/subscriptions/{id}")),
            404,
            "subscription-not-found",
        );
        assert!(p["detail"].as_str().unwrap().contains(id));
    }
}

#[test]
fn tc5_3_4_delete_subscription() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let s = subscribed(&a, &a.address(LOCK), &c.endpoint("/a"));
    let keep = subscribed(&a, &a.address(LOCK), &c.endpoint("/b"));
    let path = format!("/subscriptions/{}", s["SubscriptionId"].as_str().unwrap());
    let r = delete(&a, &path);
    assert_eq!((r.status, r.body.len()), (204, 0));
    problem(&get(&a, &path), 404, "subscription-not-found");
    problem(&delete(&a, &path), 404, "subscription-not-found");
    problem(
        &delete(&a, "/subscriptions/nope"),
        404,
        "subscription-not-found",
    );
    assert_eq!(list(&a), vec![keep]);
    let files = store_files(&a);
    assert!(!files.contains_key(&client_file(&c.endpoint("/a"))));
    assert!(files.contains_key(&client_file(&c.endpoint("/b"))));
    assert_eq!(
        metric(&a, r#"cne_api_subscriptions{status="active"}"#),
        Some(1.0)
    );
}

#[test]
fn delete_all_subscriptions() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    for p in ["/a", "/b", "/c"] {
        subscribed(&a, &a.address(LOCK), &c.endpoint(p));
    }
    let r = delete(&a, "/subscriptions");
    assert_eq!((r.status, r.body.len()), (204, 0));
    assert!(list(&a).is_empty());
    let files = store_files(&a);
    assert_eq!(files.keys().collect::<Vec<_>>(), ["pub.json"]);
    assert_eq!(
        metric(&a, r#"cne_api_subscriptions{status="active"}"#),
        Some(0.0)
    );
}

#[test]
fn tc5_3_6_current_state_needs_no_subscription_and_404s_without_data() {
    let a = Agent::start(&[]);
    for k in [
        LOCK,
        "/sync/sync-status/sync-state",
        "/sync/sync-status/os-clock-sync-state",
        "/sync/ptp-status/clock-class",
        "/sync/gnss-status/gnss-sync-status",
        "/sync/synce-status/lock-state",
        "/sync/synce-status/clock-quality",
    ] {
        let p = problem(
            &get(&a, &format!("{}/CurrentState", a.address(k))),
            404,
            "no-data",
        );
        assert_eq!(p["ResourceAddress"], a.address(k));
    }
    // Negative cases: unknown resources.
    for bad in [
        "/cluster/node/other-node/sync/ptp-status/lock-state",
        &a.address("/sync"),
        &a.address("/sync/ptp-status/lock-state/extra"),
        "/nothing",
    ] {
        problem(
            &get(&a, &format!("{bad}/CurrentState")),
            404,
            "unknown-resource",
        );
    }
    // Still 404 (no data) with a subscription.
    let c = Consumer::start();
    subscribed(&a, &a.address(LOCK), &c.endpoint("/a"));
    problem(
        &get(&a, &format!("{}/CurrentState", a.address(LOCK))),
        404,
        "no-data",
    );
}

#[test]
fn two_clients_on_the_same_resource_both_201() {
    let a = Agent::start(&[]);
    let (c1, c2) = (Consumer::start(), Consumer::start());
    let s1 = subscribed(&a, &a.address(LOCK), &c1.endpoint("/event"));
    let s2 = subscribed(&a, &a.address(LOCK), &c2.endpoint("/event"));
    assert_ne!(s1["SubscriptionId"], s2["SubscriptionId"]);
    assert_eq!(c1.bodies("/event").len(), 1);
    assert_eq!(c2.bodies("/event").len(), 1);
    let files = store_files(&a);
    assert!(files.contains_key(&client_file(&c1.endpoint("/event"))));
    assert!(files.contains_key(&client_file(&c2.endpoint("/event"))));
}

#[test]
fn prefix_subscriptions_cover_every_kind_below() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    subscribed(&a, &a.address("/sync/ptp-status"), &c.endpoint("/ptp"));
    let got = c.bodies("/ptp");
    let sources: Vec<&str> = got.iter().map(|b| b["source"].as_str().unwrap()).collect();
    assert_eq!(sources, [LOCK, "/sync/ptp-status/clock-class"]);
    assert_placeholder(&a, &got[0], LOCK, "event.sync.ptp-status.ptp-state-change");

    subscribed(&a, &a.address("/sync"), &c.endpoint("/all"));
    assert_eq!(c.bodies("/all").len(), 7);
    subscribed(&a, &a.address("/sync/"), &c.endpoint("/slash"));

    for bad in [
        a.address("/sync/ptp"),
        "/cluster/node/other-node/sync".to_owned(),
        a.address("/sync/ptp-status/lock-state/more"),
    ] {
        let p = problem(
            &subscribe(&a, &bad, &c.endpoint("/bad")),
            404,
            "unknown-resource",
        );
        assert_eq!(p["field"], "ResourceAddress");
        assert_eq!(p["known"].as_array().unwrap().len(), 7);
    }
    assert!(c.bodies("/bad").is_empty());
    assert_eq!(list(&a).len(), 3);
}

#[test]
fn bad_inputs_are_problems_and_change_nothing() {
    let a = Agent::start(&["--max-body-bytes", "1024"]);
    let c = Consumer::start();
    let kept = subscribed(&a, &a.address(LOCK), &c.endpoint("/kept"));
    c.clear();
    let before = store_files(&a);
    let (rs, ep) = (a.address(LOCK), c.endpoint("/new"));
    let cases: Vec<(String, u16, &str, Option<&str>)> = vec![
        ("{\"ResourceAddress\":".into(), 400, "invalid-json", None),
        (String::new(), 400, "invalid-json", None),
        ("\"just a string\"".into(), 400, "invalid-body", None),
        (
            json!({"EndpointUri": ep}).to_string(),
            400,
            "missing-field",
            Some("ResourceAddress"),
        ),
        (
            json!({"ResourceAddress": "", "EndpointUri": ep}).to_string(),
            400,
            "missing-field",
            Some("ResourceAddress"),
        ),
        (
            json!({"ResourceAddress": null, "EndpointUri": ep}).to_string(),
            400,
            "missing-field",
            Some("ResourceAddress"),
        ),
        (
            json!({"ResourceAddress": 12, "EndpointUri": ep}).to_string(),
            400,
            "invalid-field",
            Some("ResourceAddress"),
        ),
        (
            json!({"ResourceAddress": rs}).to_string(),
            400,
            "missing-field",
            Some("EndpointUri"),
        ),
        (
            json!({"ResourceAddress": rs, "EndpointUri": ""}).to_string(),
            400,
            "missing-field",
            Some("EndpointUri"),
        ),
        (
            json!({"ResourceAddress": rs, "EndpointUri": true}).to_string(),
            400,
            "invalid-field",
            Some("EndpointUri"),
        ),
        (
            json!({"ResourceAddress": rs, "EndpointUri": "/event"}).to_string(),
            400,
            "invalid-field",
            Some("EndpointUri"),
        ),
        (
            json!({"ResourceAddress": rs, "EndpointUri": "ftp://host/event"}).to_string(),
            400,
            "invalid-field",
            Some("EndpointUri"),
        ),
        (
            json!({"ResourceAddress": rs, "EndpointUri": "http://"}).to_string(),
            400,
            "invalid-field",
            Some("EndpointUri"),
        ),
        (
            json!({"ResourceAddress": "/cluster/node/x/sync", "EndpointUri": ep}).to_string(),
            404,
            "unknown-resource",
            Some("ResourceAddress"),
        ),
        (
            json!({"ResourceAddress": rs, "EndpointUri": ep, "pad": "x".repeat(2000)}).to_string(),
            413,
            "body-too-large",
            None,
        ),
    ];
    for (body, status, kind, field) in &cases {
        let r = post(&a, "/subscriptions", body.as_bytes());
        let p = problem(&r, *status, kind);
        assert_eq!(p["field"].as_str(), *field, "{body}: {p}");
        if let Some(f) = field {
            assert!(p["detail"].as_str().unwrap().contains(f), "{p}");
        }
    }
    // Declared too large: refused before the body is read.
    let head = declared_too_large(&a);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    assert!(head.contains("application/problem+json"), "{head}");
    assert_eq!(list(&a), vec![kept]);
    assert_eq!(store_files(&a), before);
    assert!(c.bodies("/new").is_empty());
    assert_eq!(
        metric(&a, r#"cne_api_subscriptions{status="active"}"#),
        Some(1.0)
    );
    let failed = metric(&a, r#"cne_api_subscriptions{status="failed to create"}"#).unwrap();
    assert!(failed >= cases.len() as f64, "{failed}");
}

/// Sends only the head and 2 bytes of a request declaring 1 MB; returns
/// what the agent answers.
fn declared_too_large(a: &Agent) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", a.api_port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "POST /api/ocloudNotifications/v2/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{{}}"
    )
    .unwrap();
    let mut buf = vec![0; 4096];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn endpoint_answering_500_is_400_and_nothing_stored() {
    let a = Agent::start(&[]);
    let c = Consumer::with_args(&["--status", "500"]);
    let p = problem(
        &subscribe(&a, &a.address(LOCK), &c.endpoint("/e")),
        400,
        "endpoint-rejected",
    );
    // Why it failed is not told (the API is no port scanner).
    assert_eq!(p["endpointStatus"], Value::Null);
    assert_eq!(p["field"], "EndpointUri");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("unreachable") && !detail.contains("500"),
        "{p}"
    );
    // It did receive the notification; the subscription was not stored.
    assert_eq!(c.bodies("/e").len(), 1);
    assert!(list(&a).is_empty());
    assert!(!store_files(&a).contains_key(&client_file(&c.endpoint("/e"))));
}

#[test]
fn endpoint_that_hangs_is_400_after_the_timeout() {
    let a = Agent::start(&["--delivery-timeout-ms", "300"]);
    let c = Consumer::with_args(&["--hang"]);
    let p = problem(
        &subscribe(&a, &a.address(LOCK), &c.endpoint("/e")),
        400,
        "endpoint-rejected",
    );
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("unreachable") && !detail.contains("timed out"),
        "{p}"
    );
    assert!(list(&a).is_empty());
}

#[test]
fn endpoint_that_refuses_connections_is_400() {
    let a = Agent::start(&[]);
    let mut c = Consumer::start();
    let ep = c.endpoint("/e");
    c.kill();
    let p = problem(
        &subscribe(&a, &a.address(LOCK), &ep),
        400,
        "endpoint-rejected",
    );
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains(&ep) && detail.contains("unreachable"),
        "{p}"
    );
    assert!(!detail.contains("refused"), "{p}");
    assert!(list(&a).is_empty());
}

#[test]
fn wrong_methods_are_405_and_unknown_paths_404() {
    let a = Agent::start(&[]);
    for (m, p) in [
        ("PUT", "/subscriptions".to_owned()),
        (
            "PATCH",
            "/subscriptions/0b4f0dc4-50e4-4d3d-8d53-0b6f3c7c2a11".into(),
        ),
        ("POST", "/health".into()),
        ("DELETE", format!("{}/CurrentState", a.address(LOCK))),
    ] {
        let r = request(m, &a.api(&p), None).unwrap();
        let v = problem(&r, 405, "method-not-allowed");
        assert!(v["detail"].as_str().unwrap().contains(m));
        assert!(r.header("allow").is_some());
    }
    for p in ["/nope", "/subscriptions/a/b"] {
        problem(&get(&a, p), 404, "not-found");
    }
    let r = request(
        "GET",
        &format!("http://127.0.0.1:{}/other", a.api_port),
        None,
    )
    .unwrap();
    problem(&r, 404, "not-found");
}

#[test]
fn kill_and_recover_keeps_subscriptions() {
    let mut a = Agent::start(&[]);
    let c = Consumer::start();
    let s1 = subscribed(&a, &a.address(LOCK), &c.endpoint("/a"));
    let s2 = subscribed(&a, &a.address("/sync"), &c.endpoint("/a"));
    let s3 = subscribed(&a, &a.address(LOCK), &c.endpoint("/b"));
    a.kill9();
    assert!(request("GET", &a.api("/health"), None).is_err());
    a.restart();
    let r = get(&a, "/health");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    // Order within a client file is by id (as Go writes maps), so compare sets.
    let by_id = |mut v: Vec<Value>| {
        v.sort_by(|x, y| {
            x["SubscriptionId"]
                .as_str()
                .cmp(&y["SubscriptionId"].as_str())
        });
        v
    };
    assert_eq!(by_id(list(&a)), by_id(vec![s1.clone(), s2, s3]));
    let r = get(
        &a,
        &format!("/subscriptions/{}", s1["SubscriptionId"].as_str().unwrap()),
    );
    assert_eq!(r.json(), s1);
    let p = problem(
        &subscribe(&a, &a.address(LOCK), &c.endpoint("/a")),
        409,
        "duplicate-subscription",
    );
    assert_eq!(p["SubscriptionId"], s1["SubscriptionId"]);
    subscribed(&a, &a.address(LOCK), &c.endpoint("/c"));
    assert_eq!(
        metric(&a, r#"cne_api_subscriptions{status="active"}"#),
        Some(4.0)
    );
}

#[test]
fn publishers_exist_from_the_start_and_keep_their_ids() {
    let mut a = Agent::start(&[]);
    let r = get(&a, "/publishers");
    assert_eq!(r.status, 200);
    let pubs = r.json();
    let pubs = pubs.as_array().unwrap();
    let resources: Vec<&str> = pubs
        .iter()
        .map(|p| p["ResourceAddress"].as_str().unwrap())
        .collect();
    assert_eq!(
        resources,
        [
            a.address("/sync/sync-status/sync-state"),
            a.address(LOCK),
            a.address("/sync/gnss-status/gnss-sync-status"),
            a.address("/sync/sync-status/os-clock-sync-state"),
            a.address("/sync/synce-status/lock-state"),
            a.address("/sync/ptp-status/clock-class"),
            a.address("/sync/synce-status/clock-quality"),
        ]
    );
    let base = format!("http://localhost:{}/api/ocloudNotifications/v2", a.api_port);
    for p in pubs {
        assert_eq!(p["EndpointUri"], format!("{base}/dummy"));
        assert_eq!(
            p["UriLocation"],
            format!(
                "{base}/publishers/{}",
                p["SubscriptionId"].as_str().unwrap()
            )
        );
    }
    assert_eq!(
        metric(&a, r#"cne_api_publishers{status="active"}"#),
        Some(7.0)
    );
    a.restart();
    assert_eq!(get(&a, "/publishers").json().as_array().unwrap(), pubs);

    // The internal routes.
    let id = pubs[0]["SubscriptionId"].as_str().unwrap();
    assert_eq!(get(&a, &format!("/publishers/{id}")).json(), pubs[0]);
    let body = json!({"ResourceAddress": pubs[0]["ResourceAddress"]}).to_string();
    let r = post(&a, "/publishers", body.as_bytes());
    assert_eq!((r.status, r.json()), (201, pubs[0].clone()));
    let r = delete(&a, &format!("/publishers/{id}"));
    assert_eq!((r.status, r.json()), (200, json!({"status": "OK"})));
    problem(
        &get(&a, &format!("/publishers/{id}")),
        404,
        "publisher-not-found",
    );
    let c = Consumer::with_args(&["--status", "500"]);
    let body = json!({"ResourceAddress": "/x", "EndpointUri": c.endpoint("/p")}).to_string();
    problem(
        &post(&a, "/publishers", body.as_bytes()),
        400,
        "endpoint-rejected",
    );
    assert_eq!(get(&a, "/publishers").json().as_array().unwrap().len(), 6);
}

#[test]
fn health_and_openapi() {
    let a = Agent::start(&[]);
    let r = get(&a, "/health");
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    let r = get(&a, "/openapi.json");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.text(), include_str!("../../agent/src/api/openapi.json"));
    assert_eq!(r.json()["openapi"], "3.0.3");
}

#[test]
fn placeholders_of_single_value_kinds() {
    // sync-state has no metric; clock class only the metric.
    let a = Agent::start(&[]);
    let c = Consumer::start();
    subscribed(&a, &a.address("/sync/sync-status"), &c.endpoint("/s"));
    subscribed(
        &a,
        &a.address("/sync/ptp-status/clock-class"),
        &c.endpoint("/cc"),
    );
    let got = c.bodies("/s");
    let sources: Vec<&str> = got.iter().map(|b| b["source"].as_str().unwrap()).collect();
    assert_eq!(
        sources,
        [
            "/sync/sync-status/sync-state",
            "/sync/sync-status/os-clock-sync-state"
        ]
    );
    let addr = a.address("/ptp-not-set");
    assert_eq!(
        got[0]["data"]["values"],
        json!([{"ResourceAddress": addr, "data_type": "notification", "value_type": "enumeration", "value": "FREERUN"}])
    );
    assert_eq!(
        got[0]["type"],
        "event.sync.sync-status.synchronization-state-change"
    );
    let cc = c.bodies("/cc");
    assert_eq!(cc.len(), 1);
    assert_eq!(
        cc[0]["data"]["values"],
        json!([{"ResourceAddress": addr, "data_type": "metric", "value_type": "decimal64.3", "value": "0"}])
    );
}

#[test]
fn a_store_that_cannot_write_is_500_and_nothing_changes() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let kept = subscribed(&a, &a.address(LOCK), &c.endpoint("/a"));
    std::fs::remove_dir_all(a.store_dir()).unwrap();
    let p = problem(
        &subscribe(&a, &a.address(LOCK), &c.endpoint("/b")),
        500,
        "store-failure",
    );
    // The log says which file; the answer names none.
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("could not be written"), "{p}");
    assert!(!detail.contains('/'), "no path in a 500: {p}");
    assert_eq!(list(&a), vec![kept]);
    assert_eq!(
        metric(&a, r#"cne_api_subscriptions{status="active"}"#),
        Some(1.0)
    );
}

/// The whole body written before the answer is read (Python's
/// `http.client`, urllib): the agent drains it and the client reads its
/// 413, not a broken pipe.
#[test]
fn an_over_limit_body_written_whole_still_reads_its_413() {
    use std::io::{Read, Write};
    let a = Agent::start(&[]);
    let body = vec![b' '; 200 * 1024];
    let mut s = std::net::TcpStream::connect(("127.0.0.1", a.api_port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "POST /api/ocloudNotifications/v2/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(&body).expect("the whole body is taken");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let head = String::from_utf8_lossy(&got);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
}

/// A write that is not JSON (a browser form, `text/plain`) is 415 and
/// changes nothing: a web page cannot post a forged event.
#[test]
fn writes_that_are_not_json_are_415() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let sub =
        json!({"ResourceAddress": a.address(LOCK), "EndpointUri": c.endpoint("/e")}).to_string();
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "text/plain; charset=utf-8",
    ] {
        let r = agent_tests::http::request_with(
            "POST",
            &a.api("/subscriptions"),
            Some(sub.as_bytes()),
            &[("Content-Type", ct)],
        )
        .unwrap();
        problem(&r, 415, "unsupported-media-type");
    }
    let id = a.publisher_id(LOCK);
    let ev = json!({"id": id, "type": "event.sync.ptp-status.ptp-state-change",
        "data": {"version": "1.0", "values": [{"ResourceAddress": "/x", "data_type": "notification",
        "value_type": "enumeration", "value": "LOCKED"}]}})
    .to_string();
    for path in ["/create/event", "/log"] {
        let r = agent_tests::http::request_with(
            "POST",
            &a.api_v1(path),
            Some(ev.as_bytes()),
            &[("Content-Type", "text/plain")],
        )
        .unwrap();
        assert_eq!(r.status, 415, "{path}: {}", r.text());
    }
    assert!(list(&a).is_empty());
    assert!(c.bodies("/e").is_empty());
    // The same subscription as JSON is taken.
    a.subscribe(LOCK, &c.endpoint("/e"));
}
