//! `GET {ResourceAddress}/CurrentState`. Unlike the anchor it needs
//! no prior subscription; 404 only for an unknown resource or when no data
//! has been seen (the placeholder).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::super::{API_V2, Ctx, full_path, no_such_path, not_allowed};
use crate::api::problem::Problem;
use crate::event::{Event, EventKind};

const SUFFIX: &str = "CurrentState";

pub(super) async fn current_state(
    State(ctx): State<Arc<Ctx>>,
    method: Method,
    uri: Uri,
) -> Response {
    let path = full_path(API_V2, &uri);
    let rest = &path[API_V2.len()..];
    let Some(addr) = rest.strip_suffix(SUFFIX).filter(|a| a.ends_with('/')) else {
        return no_such_path(&path).into_response();
    };
    if method != Method::GET {
        let mut resp = not_allowed(&method, &path).into_response();
        resp.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
        return resp;
    }
    let resource = match crate::api::path::resource(addr) {
        Ok(r) => r,
        Err(p) => return p.into_response(),
    };
    let resource = resource.as_str();
    if resource == "/" {
        return Problem::bad_request(
            "empty-resource",
            "Resource address is empty",
            format!("GET {API_V2}/<ResourceAddress>/CurrentState needs a resource address"),
        )
        .into_response();
    }
    let node = &*ctx.app.node;
    let Some(kind) = EventKind::from_address(node, resource) else {
        return unknown(node, resource).into_response();
    };
    match ctx.app.current.get(kind) {
        Some(ev) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            Event {
                id: uuid::Uuid::new_v4(),
                time: std::time::SystemTime::now(),
                ..ev
            }
            .to_v2_json(),
        )
            .into_response(),
        None => Problem::not_found(
            "no-data",
            "No data yet",
            format!("no {} data has been seen yet on node {node}", kind.source()),
        )
        .with("ResourceAddress", resource)
        .into_response(),
    }
}

fn unknown(node: &str, resource: &str) -> Problem {
    Problem::not_found(
        "unknown-resource",
        "Unknown resource",
        format!("{resource} is not the address of an event published by node {node}"),
    )
    .with("ResourceAddress", resource)
    .with("known", super::known_addresses(node))
}
