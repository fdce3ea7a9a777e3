//! v1 `/subscriptions`: a duplicate returns the existing
//! subscription with 201; the endpoint is checked with an empty POST; no
//! initial notification.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tracing::info;
use uuid::Uuid;

use super::{V1Info, error, json, status, v1_error};
use crate::api::problem::Problem;
use crate::api::{API_V1, Ctx, body};
use crate::event::EventKind;
use crate::store::{ApiVersion, CreateError, Subscription, to_go_indent};

fn info(s: &Subscription) -> V1Info<'_> {
    V1Info {
        id: s.id.to_string(),
        endpoint_uri: &s.endpoint,
        uri_location: &s.uri_location,
        resource: &s.resource,
    }
}

pub(super) async fn create(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, req: Body) -> Response {
    match create_inner(&ctx, &headers, req).await {
        Ok(sub) => {
            let mut resp = json(StatusCode::CREATED, &info(&sub));
            if let Ok(loc) = sub.uri_location.parse() {
                resp.headers_mut().insert(header::LOCATION, loc);
            }
            resp
        }
        Err(p) => {
            ctx.m.sub_failed_create.inc();
            v1_error(p).into_response()
        }
    }
}

async fn create_inner(ctx: &Ctx, headers: &HeaderMap, req: Body) -> Result<Subscription, Problem> {
    let st = &ctx.app;
    let bytes = body::read(headers, req, st.max_body_bytes).await?;
    let req = body::parse_info_as(&bytes, &body::V1_KEYS)?;
    let endpoint = req.endpoint.ok_or_else(|| body::missing("endpointUri"))?;
    body::check_endpoint(&endpoint, &st.dispatcher.outbound().policy)?;
    if EventKind::matching(&st.node, &req.resource)
        .next()
        .is_none()
    {
        return Err(Problem::bad_request(
            "unknown-resource",
            "Unknown resource",
            format!(
                "resource {}: node {} publishes no event at or below it",
                req.resource, st.node
            ),
        )
        .field("resource"));
    }
    if let Some(existing) = st.store.find(&req.resource, &endpoint, ApiVersion::V1) {
        return Ok(existing);
    }
    check_endpoint(ctx, &endpoint).await?;
    let id = Uuid::new_v4();
    let sub = Subscription {
        id,
        resource: req.resource,
        endpoint,
        uri_location: format!("{}{API_V1}/subscriptions/{id}", st.public_base),
        version: ApiVersion::V1,
    };
    let store = st.store.clone();
    let stored = sub.clone();
    match crate::api::blocking(move || store.create(stored)).await {
        Ok(Ok(())) => {
            info!(id = %sub.id, resource = %sub.resource, endpoint = %sub.endpoint, "v1 subscription created");
            Ok(sub)
        }
        Ok(Err(CreateError::Duplicate(existing))) => Ok(*existing),
        Ok(Err(CreateError::Store(e))) => Err(Problem::internal(e.to_string())),
        Err(p) => Err(p),
    }
}

/// The anchor's v1 check: an empty POST that must be answered 2xx.
pub(super) async fn check_endpoint(ctx: &Ctx, endpoint: &str) -> Result<(), Problem> {
    crate::api::notify::probe(&ctx.app, endpoint, Bytes::new(), "endpointUri").await
}

fn v1_subs(ctx: &Ctx) -> Vec<Subscription> {
    let mut subs = ctx.app.store.list();
    subs.retain(|s| s.version == ApiVersion::V1);
    subs
}

pub(super) async fn list(State(ctx): State<Arc<Ctx>>) -> Response {
    let subs = v1_subs(&ctx);
    let infos: Vec<V1Info<'_>> = subs.iter().map(info).collect();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        to_go_indent(&infos),
    )
        .into_response()
}

fn find(ctx: &Ctx, id: &str) -> Option<Subscription> {
    Uuid::try_parse(id)
        .ok()
        .and_then(|u| ctx.app.store.get(u))
        .filter(|s| s.version == ApiVersion::V1)
}

fn not_found() -> Problem {
    error(
        "subscription-not-found",
        "Subscription not found",
        "subscription not found",
    )
}

pub(super) async fn get_one(
    State(ctx): State<Arc<Ctx>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = id.map_or_else(|_| String::new(), |Path(id)| id);
    match find(&ctx, &id) {
        Some(sub) => json(StatusCode::OK, &info(&sub)),
        None => not_found().into_response(),
    }
}

pub(super) async fn delete_one(
    State(ctx): State<Arc<Ctx>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = id.map_or_else(|_| String::new(), |Path(id)| id);
    let Some(sub) = find(&ctx, &id) else {
        ctx.m.sub_failed_delete.inc();
        return not_found().into_response();
    };
    let store = ctx.app.store.clone();
    match crate::api::blocking(move || store.delete(sub.id)).await {
        Ok(Ok(Some(_))) => status(StatusCode::OK, "OK"),
        Ok(Ok(None)) => not_found().into_response(),
        Ok(Err(e)) => {
            ctx.m.sub_failed_delete.inc();
            v1_error(Problem::internal(e.to_string())).into_response()
        }
        Err(p) => v1_error(p).into_response(),
    }
}

pub(super) async fn delete_all(State(ctx): State<Arc<Ctx>>) -> Response {
    let store = ctx.app.store.clone();
    match crate::api::blocking(move || store.delete_version(ApiVersion::V1)).await {
        Ok(Ok(n)) => {
            info!(subscriptions = n, "all v1 subscriptions deleted");
            status(StatusCode::OK, "deleted all subscriptions")
        }
        Ok(Err(e)) => {
            ctx.m.sub_failed_delete.inc();
            v1_error(Problem::internal(e.to_string())).into_response()
        }
        Err(p) => v1_error(p).into_response(),
    }
}
