//! v1 `/publishers`: the same registry as v2, v1 keys and codes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::subscriptions::check_endpoint;
use super::{error, json, status, v1_error};
use crate::api::problem::Problem;
use crate::api::{API_V1, Ctx, body};
use crate::store::{Publisher, to_go_indent};

/// The v1 object of `p` (its `uriLocation` under v1).
fn render(ctx: &Ctx, p: &Publisher) -> serde_json::Value {
    let loc = format!("{}{API_V1}/publishers/{}", ctx.app.public_base, p.id);
    serde_json::json!({
        "id": p.id.to_string(),
        "endpointUri": p.endpoint,
        "uriLocation": loc,
        "resource": p.resource,
    })
}

pub(super) async fn list(State(ctx): State<Arc<Ctx>>) -> Response {
    let all: Vec<serde_json::Value> = ctx
        .app
        .publishers
        .list()
        .iter()
        .map(|p| render(&ctx, p))
        .collect();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        to_go_indent(&all),
    )
        .into_response()
}

pub(super) async fn create(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, req: Body) -> Response {
    match create_inner(&ctx, &headers, req).await {
        Ok(p) => json(StatusCode::CREATED, &render(&ctx, &p)),
        Err(p) => {
            ctx.m.pub_failed_create.inc();
            v1_error(p).into_response()
        }
    }
}

async fn create_inner(ctx: &Ctx, headers: &HeaderMap, req: Body) -> Result<Publisher, Problem> {
    let st = &ctx.app;
    let bytes = body::read(headers, req, st.max_body_bytes).await?;
    let req = body::parse_info_as(&bytes, &body::V1_KEYS)?;
    let endpoint = req.endpoint.unwrap_or_default();
    if !endpoint.is_empty() {
        body::check_endpoint(&endpoint, &st.dispatcher.outbound().policy)?;
        check_endpoint(ctx, &endpoint).await?;
    }
    let pubs = st.publishers.clone();
    let resource = req.resource;
    match crate::api::blocking(move || pubs.create(&resource, &endpoint)).await {
        Ok(Ok((p, _))) => Ok(p),
        Ok(Err(e)) => Err(Problem::internal(e.to_string())),
        Err(p) => Err(p),
    }
}

fn not_found() -> Problem {
    error(
        "publisher-not-found",
        "Publisher not found",
        "publisher not found",
    )
}

fn id_of(id: Result<Path<String>, PathRejection>) -> Option<Uuid> {
    id.ok().and_then(|Path(id)| Uuid::try_parse(&id).ok())
}

pub(super) async fn get_one(
    State(ctx): State<Arc<Ctx>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    match id_of(id).and_then(|u| ctx.app.publishers.get(u)) {
        Some(p) => json(StatusCode::OK, &render(&ctx, &p)),
        None => not_found().into_response(),
    }
}

pub(super) async fn delete_one(
    State(ctx): State<Arc<Ctx>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(uuid) = id_of(id) else {
        ctx.m.pub_failed_delete.inc();
        return not_found().into_response();
    };
    let pubs = ctx.app.publishers.clone();
    match crate::api::blocking(move || pubs.delete(uuid)).await {
        Ok(Ok(Some(_))) => status(StatusCode::OK, "OK"),
        Ok(Ok(None)) => {
            ctx.m.pub_failed_delete.inc();
            not_found().into_response()
        }
        Ok(Err(e)) => v1_error(Problem::internal(e.to_string())).into_response(),
        Err(p) => v1_error(p).into_response(),
    }
}

pub(super) async fn delete_all(State(ctx): State<Arc<Ctx>>) -> Response {
    let pubs = ctx.app.publishers.clone();
    match crate::api::blocking(move || pubs.delete_all()).await {
        Ok(Ok(_)) => status(StatusCode::OK, "deleted all publishers"),
        Ok(Err(e)) => v1_error(Problem::internal(e.to_string())).into_response(),
        Err(p) => v1_error(p).into_response(),
    }
}
