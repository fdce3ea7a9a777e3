//! The legacy REST API v1 of cloud-event-proxy against the real binary:
//! v1 keys and codes, the empty-body endpoint check, create/event, the status
//! ping, CurrentState (specversion 0.3), and bad input (400 with the
//! anchor's `error` message inside a problem+json body).

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::time::Duration;

use agent_tests::{Agent, Consumer, Response, request};
use serde_json::{Value, json};

const LOCK: &str = "/sync/ptp-status/lock-state";

fn post(a: &Agent, path: &str, body: &[u8]) -> Response {
    request("POST", &a.api_v1(path), Some(body)).unwrap()
}

fn v1_sub(a: &Agent, resource: &str, endpoint: &str) -> Response {
    let body = json!({"resource": resource, "endpointUri": endpoint}).to_string();
    post(a, "/subscriptions", body.as_bytes())
}

/// A v1 error: 400, problem+json, the anchor's message in `error`.
fn v1_error(r: &Response, msg: &str) -> Value {
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let v = r.json();
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains(msg)),
        "{v} should say {msg:?}"
    );
    v
}

#[test]
fn subscriptions_create_get_list_delete() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let ep = c.endpoint("/event");
    let r = v1_sub(&a, &a.address(LOCK), &ep);
    assert_eq!(r.status, 201, "{}", r.text());
    let text = r.text();
    let pos: Vec<usize> = ["id", "endpointUri", "uriLocation", "resource"]
        .iter()
        .map(|k| text.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "key order: {text}");
    let v = r.json();
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(
        v["uriLocation"],
        format!(
            "http://localhost:{}/api/ocloudNotifications/v1/subscriptions/{id}",
            a.api_port
        )
    );
    assert_eq!(v["resource"], a.address(LOCK));
    // The endpoint check is one empty POST; no initial notification.
    let got = c.events();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["body"], "");

    // A duplicate returns the existing subscription, 201 (no 409 in v1).
    let r = v1_sub(&a, &a.address(LOCK), &ep);
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["id"], id.as_str());

    let r = request("GET", &a.api_v1(&format!("/subscriptions/{id}")), None).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["endpointUri"], ep.as_str());
    let list = request("GET", &a.api_v1("/subscriptions"), None)
        .unwrap()
        .json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    // One store, separate views: v2 does not see a v1 subscription.
    let r = request("GET", &a.api(&format!("/subscriptions/{id}")), None).unwrap();
    assert_eq!(r.status, 404);

    let r = request("DELETE", &a.api_v1(&format!("/subscriptions/{id}")), None).unwrap();
    assert_eq!((r.status, r.json()), (200, json!({"status": "OK"})));
    let r = request("DELETE", &a.api_v1(&format!("/subscriptions/{id}")), None).unwrap();
    v1_error(&r, "subscription not found");
    let r = request("GET", &a.api_v1(&format!("/subscriptions/{id}")), None).unwrap();
    v1_error(&r, "subscription not found");

    assert_eq!(v1_sub(&a, &a.address(LOCK), &ep).status, 201);
    let r = request("DELETE", &a.api_v1("/subscriptions"), None).unwrap();
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"status": "deleted all subscriptions"}))
    );
    let list = request("GET", &a.api_v1("/subscriptions"), None)
        .unwrap()
        .json();
    assert_eq!(list, json!([]));
}

#[test]
fn subscription_survives_restart_as_v1() {
    let mut a = Agent::start(&[]);
    let c = Consumer::start();
    let r = v1_sub(&a, &a.address(LOCK), &c.endpoint("/event"));
    let id = r.json()["id"].as_str().unwrap().to_owned();
    a.restart();
    let r = request("GET", &a.api_v1(&format!("/subscriptions/{id}")), None).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    c.clear();
    a.create_event(LOCK, "LOCKED");
    let b = c.wait_bodies("/event", Duration::from_secs(10), |b| !b.is_empty());
    assert_eq!(b[0]["id"], id.as_str(), "v1 body after restart: {}", b[0]);
}

#[test]
fn bad_subscription_requests() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    // v2 keys in a v1 body, and the reverse.
    let body = json!({"ResourceAddress": a.address(LOCK), "EndpointUri": c.endpoint("/e")});
    let v = v1_error(
        &post(&a, "/subscriptions", body.to_string().as_bytes()),
        "resource",
    );
    assert_eq!(v["field"], "resource");
    let body = json!({"resource": a.address(LOCK), "endpointUri": c.endpoint("/e")});
    let r = request(
        "POST",
        &a.api("/subscriptions"),
        Some(body.to_string().as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["field"], "ResourceAddress");
    assert!(r.json()["detail"].as_str().unwrap().contains("v1"));

    v1_error(&post(&a, "/subscriptions", b"{"), "not valid JSON");
    let body = json!({"resource": a.address(LOCK)});
    v1_error(
        &post(&a, "/subscriptions", body.to_string().as_bytes()),
        "endpointUri",
    );
    let body = json!({"resource": "/cluster/node/elsewhere/sync", "endpointUri": c.endpoint("/e")});
    v1_error(
        &post(&a, "/subscriptions", body.to_string().as_bytes()),
        "elsewhere",
    );
    // The endpoint check must be answered 2xx.
    let refusing = Consumer::with_args(&["--status", "500"]);
    let r = v1_sub(&a, &a.address(LOCK), &refusing.endpoint("/e"));
    v1_error(&r, "unreachable");
    let list = request("GET", &a.api_v1("/subscriptions"), None)
        .unwrap()
        .json();
    assert_eq!(list, json!([]));
}

#[test]
fn create_event_reaches_v1_and_v2_subscribers_in_their_format() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let r = v1_sub(&a, &a.address(LOCK), &c.endpoint("/v1"));
    let v1_id = r.json()["id"].as_str().unwrap().to_owned();
    let body = json!({"ResourceAddress": a.address(LOCK), "EndpointUri": c.endpoint("/v2")});
    let r = request(
        "POST",
        &a.api("/subscriptions"),
        Some(body.to_string().as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 201);
    c.clear();
    a.create_event(LOCK, "HOLDOVER");
    let b1 = c.wait_bodies("/v1", Duration::from_secs(10), |b| !b.is_empty());
    let b2 = c.wait_bodies("/v2", Duration::from_secs(10), |b| !b.is_empty());
    let e1 = &b1[0];
    let keys: Vec<&str> = e1.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec!["data", "dataContentType", "id", "source", "time", "type"];
    want.sort_unstable();
    assert_eq!(keys, want, "{e1}");
    assert_eq!(e1["id"], v1_id.as_str());
    assert_eq!(e1["source"], a.address(LOCK));
    assert_eq!(e1["type"], "event.sync.ptp-status.ptp-state-change");
    assert_eq!(e1["data"]["values"][0]["value"], "HOLDOVER");
    let e2 = &b2[0];
    assert_eq!(e2["specversion"], "1.0");
    assert_eq!(e2["source"], LOCK);
    // The same values; v1 with the legacy keys the 4.14 readers know.
    let legacy: Vec<Value> = e2["data"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            json!({"resource": v["ResourceAddress"], "dataType": v["data_type"],
                "valueType": v["value_type"], "value": v["value"]})
        })
        .collect();
    assert_eq!(e1["data"]["values"], json!(legacy));
    assert_eq!(e1["data"]["version"], e2["data"]["version"]);
    assert_ne!(e2["id"], e1["id"]);

    // CurrentState (v1): specversion 0.3, full source and subject.
    let r = request(
        "GET",
        &a.api_v1(&format!("{}/CurrentState", a.address(LOCK))),
        None,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let cs = r.json();
    assert_eq!(cs["specversion"], "0.3");
    assert_eq!(cs["source"], a.address(LOCK));
    assert_eq!(cs["subject"], a.address(LOCK));
    assert_eq!(cs["datacontenttype"], "application/json");
    assert_eq!(cs["data"]["values"][0]["value"], "HOLDOVER");

    // Status ping: the current state again, to the subscriber.
    c.clear();
    let r = request(
        "PUT",
        &a.api_v1(&format!("/subscriptions/status/{v1_id}")),
        None,
    )
    .unwrap();
    assert_eq!((r.status, r.json()), (202, json!({"status": "ping sent"})));
    let b = c.wait_bodies("/v1", Duration::from_secs(10), |b| !b.is_empty());
    assert_eq!(b[0]["id"], v1_id.as_str());
    assert_eq!(b[0]["data"]["values"][0]["value"], "HOLDOVER");
    let r = request(
        "PUT",
        &a.api_v1("/subscriptions/status/00000000-0000-0000-0000-000000000000"),
        None,
    )
    .unwrap();
    v1_error(&r, "subscription not found");
}

#[test]
fn create_event_log_current_state_errors() {
    let a = Agent::start(&[]);
    let unknown = json!({"id": "00000000-0000-0000-0000-000000000001", "data": {"values": []}});
    v1_error(
        &post(&a, "/create/event", unknown.to_string().as_bytes()),
        "no publisher data for id 00000000-0000-0000-0000-000000000001 found to publish event for",
    );
    let id = a.publisher_id(LOCK);
    v1_error(
        &post(
            &a,
            "/create/event",
            json!({"id": id}).to_string().as_bytes(),
        ),
        "data",
    );
    v1_error(&post(&a, "/create/event", b"not json"), "not valid");
    // No data yet: the anchor's 400 "event not found".
    let r = request(
        "GET",
        &a.api_v1(&format!("{}/CurrentState", a.address(LOCK))),
        None,
    )
    .unwrap();
    v1_error(&r, "event not found");
    let r = request(
        "GET",
        &a.api_v1("/cluster/node/x/sync/nothing/CurrentState"),
        None,
    )
    .unwrap();
    assert_eq!(r.status, 400);

    let r = post(
        &a,
        "/log",
        json!({"id": "x", "data": {}}).to_string().as_bytes(),
    );
    assert_eq!(
        (r.status, r.json()),
        (202, json!({"status": "Event published to log"}))
    );
    let r = request("GET", &a.api_v1("/health"), None).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
}

#[test]
fn publishers_v1() {
    let a = Agent::start(&[]);
    let list = request("GET", &a.api_v1("/publishers"), None)
        .unwrap()
        .json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 7);
    let p = &list[0];
    let id = p["id"].as_str().unwrap();
    assert!(
        p["uriLocation"]
            .as_str()
            .unwrap()
            .contains("/v1/publishers/")
    );
    let r = request("GET", &a.api_v1(&format!("/publishers/{id}")), None).unwrap();
    assert_eq!(r.json()["resource"], p["resource"]);
    let body = json!({"resource": "/cluster/node/x/custom"});
    let r = post(&a, "/publishers", body.to_string().as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    let new_id = r.json()["id"].as_str().unwrap().to_owned();
    let r = request("DELETE", &a.api_v1(&format!("/publishers/{new_id}")), None).unwrap();
    assert_eq!((r.status, r.json()), (200, json!({"status": "OK"})));
    let r = request("GET", &a.api_v1(&format!("/publishers/{new_id}")), None).unwrap();
    v1_error(&r, "publisher not found");
    let r = request("DELETE", &a.api_v1("/publishers"), None).unwrap();
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"status": "deleted all publishers"}))
    );
}
