//! The router as a tower service (`oneshot`), without a socket. Cases that
//! need a consumer process are in `tests/tests/api_v2.rs`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

use super::*;
use crate::engine::{Engine, Sink, Thresholds};
use crate::store::{ApiVersion, Subscription, Subscriptions};
use crate::transport::DeliveryConfig;

const NODE: &str = "n1.example.com";

fn state() -> AppState {
    let metrics = Arc::new(Metrics::new().unwrap());
    let store = Arc::new(Store::in_memory());
    let publishers =
        Arc::new(Publishers::open(None, NODE, &format!("http://localhost:9043{API_V2}")).unwrap());
    let dispatcher = Dispatcher::new(
        DeliveryConfig {
            node: NODE.into(),
            timeout: Duration::from_millis(500),
            queue_capacity: 8,
            max_consecutive_failures: 10,
            idle: Duration::from_secs(30),
            v1_keys: crate::event::ValueKeys::Legacy,
        },
        crate::transport::test_outbound(),
        metrics.clone(),
        store.clone() as Arc<dyn Subscriptions>,
    );
    let engine = EngineHandle::new(
        Engine::new(NODE.into(), Thresholds::default(), metrics.ptp.clone()),
        dispatcher.clone() as Arc<dyn Sink>,
    );
    AppState {
        current: crate::current::Current::new(engine.clone(), dispatcher.clone()),
        node: NODE.into(),
        public_base: "http://localhost:9043".into(),
        source: crate::source::StatusHandle::default(),
        store,
        publishers,
        dispatcher,
        engine,
        metrics,
        max_body_bytes: 2048,
    }
}

struct Resp {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    /// Asserts a problem+json body of `status` and `kind`; returns it.
    fn problem(&self, status: StatusCode, kind: &str) -> Value {
        assert_eq!(
            self.status,
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.headers["content-type"], "application/problem+json");
        let v = self.json();
        assert_eq!(v["type"], format!("{}{kind}", problem::TYPE_PREFIX));
        assert_eq!(v["status"], status.as_u16());
        assert!(v["title"].as_str().is_some_and(|t| !t.is_empty()));
        assert!(v["detail"].as_str().is_some_and(|t| !t.is_empty()));
        v
    }
}

async fn call(st: &AppState, method: &str, path: &str, body: &str) -> Resp {
    let req = Request::builder()
        .method(method)
        .uri(format!("{API_V2}{path}"))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    let resp = router(st.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Resp {
        status,
        headers,
        body,
    }
}

fn lock_state() -> String {
    format!("/cluster/node/{NODE}/sync/ptp-status/lock-state")
}

/// An endpoint on which nothing listens.
fn dead_endpoint() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}/event", l.local_addr().unwrap())
}

#[tokio::test]
async fn health_openapi_and_empty_list() {
    let st = state();
    let r = call(&st, "GET", "/health", "").await;
    assert_eq!((r.status, r.body.as_slice()), (StatusCode::OK, &b"OK"[..]));
    let r = call(&st, "GET", "/health/detail", "").await;
    assert_eq!(r.status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["active"], "none");
    let r = call(&st, "GET", "/openapi.json", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, OPENAPI.as_bytes());
    let r = call(&st, "GET", "/subscriptions", "").await;
    assert_eq!((r.status, r.body.as_slice()), (StatusCode::OK, &b"[]"[..]));
}

#[test]
fn openapi_documents_every_route() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let mut paths: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    paths.sort_unstable();
    let mut want: Vec<String> = [
        "/subscriptions",
        "/subscriptions/{subscriptionId}",
        "/{ResourceAddress}/CurrentState",
        "/health",
        "/health/detail",
        "/publishers",
        "/publishers/{publisherId}",
        "/openapi.json",
        "/schemas/{name}",
        "/dummy",
        "/create/event",
    ]
    .iter()
    .map(|p| format!("{API_V2}{p}"))
    .chain(
        [
            "/subscriptions",
            "/subscriptions/{subscriptionId}",
            "/subscriptions/status/{subscriptionId}",
            "/publishers",
            "/publishers/{publisherId}",
            "/create/event",
            "/log",
            "/{resource}/CurrentState",
            "/health",
            "/dummy",
        ]
        .iter()
        .map(|p| format!("{API_V1}{p}")),
    )
    // The v1-era transport, at the root.
    .chain(
        [
            "/health",
            "/subscription",
            "/{resource}/{clientId}/CurrentState",
        ]
        .iter()
        .map(|p| (*p).to_owned()),
    )
    .collect();
    want.sort_unstable();
    assert_eq!(paths, want);
}

#[tokio::test]
async fn bad_subscription_bodies_are_problems_and_store_nothing() {
    let st = state();
    let ep = dead_endpoint();
    let rs = lock_state();
    let cases: Vec<(String, StatusCode, &str, Option<&str>)> = vec![
        ("{".into(), StatusCode::BAD_REQUEST, "invalid-json", None),
        (String::new(), StatusCode::BAD_REQUEST, "invalid-json", None),
        ("[1]".into(), StatusCode::BAD_REQUEST, "invalid-body", None),
        (
            format!(r#"{{"EndpointUri":"{ep}"}}"#),
            StatusCode::BAD_REQUEST,
            "missing-field",
            Some("ResourceAddress"),
        ),
        (
            format!(r#"{{"ResourceAddress":"","EndpointUri":"{ep}"}}"#),
            StatusCode::BAD_REQUEST,
            "missing-field",
            Some("ResourceAddress"),
        ),
        (
            format!(r#"{{"ResourceAddress":["{rs}"],"EndpointUri":"{ep}"}}"#),
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("ResourceAddress"),
        ),
        (
            format!(r#"{{"ResourceAddress":"{rs}"}}"#),
            StatusCode::BAD_REQUEST,
            "missing-field",
            Some("EndpointUri"),
        ),
        (
            format!(r#"{{"ResourceAddress":"{rs}","EndpointUri":42}}"#),
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("EndpointUri"),
        ),
        (
            format!(r#"{{"ResourceAddress":"{rs}","EndpointUri":"/event"}}"#),
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("EndpointUri"),
        ),
        (
            format!(r#"{{"ResourceAddress":"{rs}","EndpointUri":"ftp://h/e"}}"#),
            StatusCode::BAD_REQUEST,
            "invalid-field",
            Some("EndpointUri"),
        ),
        (
            format!(r#"{{"ResourceAddress":"/cluster/node/other/sync","EndpointUri":"{ep}"}}"#),
            StatusCode::NOT_FOUND,
            "unknown-resource",
            Some("ResourceAddress"),
        ),
        (
            format!(r#"{{"ResourceAddress":"{rs}","EndpointUri":"{ep}"}}"#),
            StatusCode::BAD_REQUEST,
            "endpoint-rejected",
            Some("EndpointUri"),
        ),
        (
            format!(
                r#"{{"ResourceAddress":"{rs}","EndpointUri":"{ep}","pad":"{}"}}"#,
                "x".repeat(4096)
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            None,
        ),
    ];
    for (body, status, kind, field) in cases {
        let r = call(&st, "POST", "/subscriptions", &body).await;
        let p = r.problem(status, kind);
        assert_eq!(p["field"].as_str(), field, "{body}");
    }
    assert!(st.store.is_empty());
    let failed = st
        .metrics
        .api
        .subscriptions
        .with_label_values(&["failed to create"]);
    assert_eq!(failed.get(), 13);
}

#[tokio::test]
async fn duplicate_is_409_naming_the_existing_one() {
    let st = state();
    let id = Uuid::new_v4();
    let loc = format!("http://localhost:9043{API_V2}/subscriptions/{id}");
    st.store
        .create(Subscription {
            id,
            resource: lock_state(),
            endpoint: "http://c:1/e".into(),
            uri_location: loc.clone(),
            version: ApiVersion::V2,
        })
        .unwrap();
    let body = format!(
        r#"{{"ResourceAddress":"{}","EndpointUri":"http://c:1/e"}}"#,
        lock_state()
    );
    let r = call(&st, "POST", "/subscriptions", &body).await;
    let p = r.problem(StatusCode::CONFLICT, "duplicate-subscription");
    assert_eq!(p["SubscriptionId"], id.to_string());
    assert_eq!(p["UriLocation"], loc);
    assert_eq!(r.headers["location"], loc.as_str());
    assert!(p["detail"].as_str().unwrap().contains(&id.to_string()));
    assert_eq!(st.store.len(), 1);
}

#[tokio::test]
async fn unknown_ids_are_404() {
    let st = state();
    for id in [
        Uuid::new_v4().to_string(),
        "not-a-uuid".into(),
        "%FF".into(),
    ] {
        call(&st, "GET", &format!("/subscriptions/{id}"), "")
            .await
            .problem(StatusCode::NOT_FOUND, "subscription-not-found");
        call(&st, "DELETE", &format!("/subscriptions/{id}"), "")
            .await
            .problem(StatusCode::NOT_FOUND, "subscription-not-found");
        call(&st, "GET", &format!("/publishers/{id}"), "")
            .await
            .problem(StatusCode::NOT_FOUND, "publisher-not-found");
    }
}

#[tokio::test]
async fn current_state_without_data_and_for_unknown_resources() {
    let st = state();
    let p = call(&st, "GET", &format!("{}/CurrentState", lock_state()), "")
        .await
        .problem(StatusCode::NOT_FOUND, "no-data");
    assert_eq!(p["ResourceAddress"], lock_state());
    // Without the leading slash of the address, as the anchor's route.
    call(
        &st,
        "GET",
        &format!("/cluster/node/{NODE}/sync/sync-status/sync-state/CurrentState"),
        "",
    )
    .await
    .problem(StatusCode::NOT_FOUND, "no-data");
    let p = call(
        &st,
        "GET",
        &format!("/cluster/node/{NODE}/sync/CurrentState"),
        "",
    )
    .await
    .problem(StatusCode::NOT_FOUND, "unknown-resource");
    assert_eq!(p["known"].as_array().unwrap().len(), 7);
    call(
        &st,
        "GET",
        "/cluster/node/other/sync/ptp-status/lock-state/CurrentState",
        "",
    )
    .await
    .problem(StatusCode::NOT_FOUND, "unknown-resource");
    call(&st, "GET", "/CurrentState", "")
        .await
        .problem(StatusCode::BAD_REQUEST, "empty-resource");
    let r = call(&st, "POST", &format!("{}/CurrentState", lock_state()), "").await;
    r.problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
    assert_eq!(r.headers["allow"], "GET");
    call(&st, "GET", "/no/such/thing", "")
        .await
        .problem(StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn wrong_methods_are_405_problems() {
    let st = state();
    for (m, p) in [
        ("PUT", "/subscriptions"),
        ("POST", "/health"),
        ("PATCH", &*format!("/subscriptions/{}", Uuid::new_v4())),
        ("PUT", "/publishers"),
    ] {
        let r = call(&st, m, p, "").await;
        let v = r.problem(StatusCode::METHOD_NOT_ALLOWED, "method-not-allowed");
        assert!(v["detail"].as_str().unwrap().contains(API_V2), "{v}");
    }
}

#[tokio::test]
async fn publishers_list_and_delete() {
    let st = state();
    let list = call(&st, "GET", "/publishers", "").await.json();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 7);
    let id = list[1]["SubscriptionId"].as_str().unwrap();
    let r = call(&st, "GET", &format!("/publishers/{id}"), "").await;
    assert_eq!(r.json(), list[1]);
    let r = call(&st, "DELETE", &format!("/publishers/{id}"), "").await;
    assert_eq!(
        (r.status, r.json()),
        (StatusCode::OK, serde_json::json!({"status": "OK"}))
    );
    // Same resource again: a new publisher; an existing resource: returned.
    let body = format!(
        r#"{{"ResourceAddress":"{}"}}"#,
        list[0]["ResourceAddress"].as_str().unwrap()
    );
    let r = call(&st, "POST", "/publishers", &body).await;
    assert_eq!((r.status, r.json()), (StatusCode::CREATED, list[0].clone()));
    let r = call(&st, "DELETE", "/publishers", "").await;
    assert_eq!(r.json()["status"], "deleted all publishers");
    assert_eq!(call(&st, "GET", "/publishers", "").await.body, b"[]");
}
