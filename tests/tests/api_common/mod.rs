//! Helpers shared by the API and store black-box tests.
#![allow(dead_code, clippy::missing_panics_doc, clippy::unwrap_used)]

use std::collections::BTreeMap;

use agent_tests::{Agent, Response, request};
use serde_json::{Value, json};

/// The client file name of `endpoint` (`UUIDv3(URL, endpoint).json`).
pub(crate) fn client_file(endpoint: &str) -> String {
    format!(
        "{}.json",
        uuid::Uuid::new_v3(&uuid::Uuid::NAMESPACE_URL, endpoint.as_bytes())
    )
}

pub(crate) fn post(a: &Agent, path: &str, body: &[u8]) -> Response {
    request("POST", &a.api(path), Some(body)).unwrap()
}

pub(crate) fn subscribe(a: &Agent, resource: &str, endpoint: &str) -> Response {
    let body = json!({"ResourceAddress": resource, "EndpointUri": endpoint}).to_string();
    post(a, "/subscriptions", body.as_bytes())
}

/// Subscribes and asserts 201; returns the body.
pub(crate) fn subscribed(a: &Agent, resource: &str, endpoint: &str) -> Value {
    let r = subscribe(a, resource, endpoint);
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

pub(crate) fn get(a: &Agent, path: &str) -> Response {
    request("GET", &a.api(path), None).unwrap()
}

pub(crate) fn delete(a: &Agent, path: &str) -> Response {
    request("DELETE", &a.api(path), None).unwrap()
}

pub(crate) fn list(a: &Agent) -> Vec<Value> {
    let r = get(a, "/subscriptions");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    r.json().as_array().expect("an array").clone()
}

/// Asserts an RFC 7807 body with `status` and problem `kind`; returns it.
pub(crate) fn problem(r: &Response, status: u16, kind: &str) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    let v = r.json();
    assert_eq!(
        v["type"],
        format!("urn:cloud-event-agent:problem:{kind}"),
        "{v}"
    );
    assert_eq!(v["status"], status);
    assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    assert!(v["detail"].as_str().is_some_and(|t| !t.is_empty()), "{v}");
    v
}

/// Every file of the store directory with its content.
pub(crate) fn store_files(a: &Agent) -> BTreeMap<String, String> {
    std::fs::read_dir(a.store_dir())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().into_string().unwrap();
            (name, std::fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

/// The value of a metric line `name{labels} value`.
pub(crate) fn metric(a: &Agent, series: &str) -> Option<f64> {
    a.metrics()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}
