//! `/api/ocloudNotifications/v1`: the legacy API, kept for
//! applications written against it. v1 keys (`id`, `endpointUri`,
//! `uriLocation`, `resource`) and v1 status codes: errors are 400 (the
//! anchor's), with a problem+json body whose `error` member carries the
//! anchor's `{"error": ...}` message, so clients reading either find it.
//! v1 routes see and manage only the subscriptions made through v1; the
//! store and the delivery path are shared with v2.

mod events;

pub(super) use events::create_event;
mod publishers;
mod subscriptions;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use serde::Serialize;

use super::problem::Problem;
use super::{API_V1, Ctx, full_path, not_allowed};

pub(super) fn router() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/health", get(super::v2::health))
        .route("/dummy", post(dummy))
        .route("/log", post(events::log))
        .route("/create/event", post(events::create_event))
        .route(
            "/subscriptions",
            post(subscriptions::create)
                .get(subscriptions::list)
                .delete(subscriptions::delete_all),
        )
        .route(
            "/subscriptions/{id}",
            get(subscriptions::get_one).delete(subscriptions::delete_one),
        )
        .route("/subscriptions/status/{id}", put(events::status_ping))
        .route(
            "/publishers",
            post(publishers::create)
                .get(publishers::list)
                .delete(publishers::delete_all),
        )
        .route(
            "/publishers/{id}",
            get(publishers::get_one).delete(publishers::delete_one),
        )
        .route("/{*rest}", any(events::current_state))
        .method_not_allowed_fallback(method_not_allowed)
}

async fn dummy() -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    not_allowed(&method, &full_path(API_V1, &uri))
}

/// The v1 subscription and publisher object, in sdk-go v1.0's key order.
#[derive(Serialize)]
struct V1Info<'a> {
    id: String,
    #[serde(rename = "endpointUri")]
    endpoint_uri: &'a str,
    #[serde(rename = "uriLocation")]
    uri_location: &'a str,
    resource: &'a str,
}

/// A v1 error: 400 (unless the body was too large or the server failed),
/// with the anchor's message in `error`.
fn v1_error(p: Problem) -> Problem {
    let status = match p.status {
        StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::REQUEST_TIMEOUT
        | StatusCode::INTERNAL_SERVER_ERROR => p.status,
        _ => StatusCode::BAD_REQUEST,
    };
    let detail = p.detail.clone();
    p.with_status(status).with("error", detail)
}

/// A v1 error with the anchor's exact message.
fn error(kind: &'static str, title: &'static str, msg: &str) -> Problem {
    Problem::bad_request(kind, title, msg.to_owned()).with("error", msg)
}

fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn status(code: StatusCode, msg: &str) -> Response {
    json(code, &serde_json::json!({ "status": msg }))
}
