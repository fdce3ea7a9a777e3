//! `/api/ocloudNotifications/v2`: O-RAN subscriptions and pull,
//! plus the anchor's extensions (health, publishers).

mod publishers;
mod state;
mod subscriptions;

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use serde::Serialize;

use super::{Ctx, OPENAPI, method_not_allowed};
use crate::event::EventKind;
use crate::store::to_go_indent;

pub(super) fn router() -> Router<Arc<Ctx>> {
    Router::new()
        .route("/health", get(health))
        .route("/health/detail", get(health_detail))
        .route("/openapi.json", get(openapi))
        .route("/schemas/{name}", get(super::schemas::get))
        .route("/dummy", post(dummy))
        .route("/create/event", post(super::v1::create_event))
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
        // `{ResourceAddress}/CurrentState`; anything else below v2 is a 404.
        .route("/{*rest}", any(state::current_state))
        .method_not_allowed_fallback(method_not_allowed)
}

/// 200, plain `OK` (the operator's readiness probe greps for it); 503 with
/// the reason once the active source has stopped.
pub(super) async fn health(State(ctx): State<Arc<Ctx>>) -> Response {
    match super::source_stopped(&ctx) {
        None => "OK".into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}

/// Our extension: which source runs (`ebpf` or `socket`), why eBPF does
/// not when it does not, and which probes attached. `GET /health` stays the
/// plain `OK` the anchor's clients expect.
async fn health_detail(State(ctx): State<Arc<Ctx>>) -> Response {
    axum::Json(&*ctx.app.source.get()).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The publishers' placeholder endpoint (anchor: 204).
async fn dummy() -> StatusCode {
    StatusCode::NO_CONTENT
}

/// The addresses this node publishes, for 404 bodies.
fn known_addresses(node: &str) -> Vec<String> {
    EventKind::ALL.iter().map(|k| k.address(node)).collect()
}

/// The `{id}` path segment; one that does not decode matches nothing.
fn path_id(p: Result<Path<String>, PathRejection>) -> String {
    p.map_or_else(|_| String::from("(undecodable)"), |Path(id)| id)
}

/// 200/201 with a compact JSON body (the anchor's `respondWithJSON`).
fn json<T: Serialize>(status: StatusCode, v: &T) -> Response {
    let body = serde_json::to_vec(v).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// 200 with a list indented by one space, as the anchor serves its files;
/// `[]` when empty.
fn json_list<T: Serialize>(items: &[T]) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        to_go_indent(items),
    )
        .into_response()
}
