//! `/publishers`: the list (an O-RAN extension of the anchor) and the
//! internal create/get/delete routes, with the anchor's
//! success codes; unknown ids are 404 problems (the anchor says 400).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json as j;
use tracing::info;
use uuid::Uuid;

use super::{json, json_list, path_id};
use crate::api::problem::Problem;
use crate::api::{Ctx, body};
use crate::store::{Publisher, SubscriptionInfo};

pub(super) async fn list(State(ctx): State<Arc<Ctx>>) -> Response {
    let infos: Vec<SubscriptionInfo> = ctx
        .app
        .publishers
        .list()
        .iter()
        .map(Publisher::to_info)
        .collect();
    json_list(&infos)
}

pub(super) async fn create(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, req: Body) -> Response {
    match create_inner(&ctx, &headers, req).await {
        Ok(p) => {
            let mut resp = json(StatusCode::CREATED, &p.to_info());
            if let Ok(loc) = p.uri_location.parse() {
                resp.headers_mut().insert(header::LOCATION, loc);
            }
            resp
        }
        Err(p) => {
            ctx.m.pub_failed_create.inc();
            p.into_response()
        }
    }
}

async fn create_inner(ctx: &Ctx, headers: &HeaderMap, req: Body) -> Result<Publisher, Problem> {
    let st = &ctx.app;
    let bytes = body::read(headers, req, st.max_body_bytes).await?;
    let info = body::parse_info(&bytes)?;
    let endpoint = info.endpoint.unwrap_or_default();
    if !endpoint.is_empty() {
        // The anchor checks a publisher endpoint with an empty POST.
        body::check_endpoint(&endpoint, &st.dispatcher.outbound().policy)?;
        let refused = |detail: String| {
            Problem::bad_request("endpoint-rejected", "The endpoint check failed", detail)
                .field("EndpointUri")
        };
        match st.dispatcher.post_once(&endpoint, Bytes::new()).await {
            Ok(code) if (200..300).contains(&code) => {}
            Ok(code) => {
                return Err(refused(format!(
                    "the endpoint {endpoint} answered HTTP {code}; it must answer 2xx"
                ))
                .with("endpointStatus", code));
            }
            Err(e) => return Err(refused(format!("POST to {endpoint} failed: {e}"))),
        }
    }
    let pubs = st.publishers.clone();
    let resource = info.resource;
    match crate::api::blocking(move || pubs.create(&resource, &endpoint)).await {
        Ok(Ok((p, created))) => {
            if created {
                info!(id = %p.id, resource = %p.resource, "publisher created");
            }
            Ok(p)
        }
        Ok(Err(e)) => Err(Problem::internal(e.to_string())),
        Err(p) => Err(p),
    }
}

fn no_such(id: &str) -> Problem {
    Problem::not_found(
        "publisher-not-found",
        "Publisher not found",
        format!("there is no publisher with id {id:?}"),
    )
}

pub(super) async fn get_one(
    State(ctx): State<Arc<Ctx>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = path_id(id);
    match Uuid::try_parse(&id)
        .ok()
        .and_then(|u| ctx.app.publishers.get(u))
    {
        Some(p) => json(StatusCode::OK, &p.to_info()),
        None => no_such(&id).into_response(),
    }
}

pub(super) async fn delete_one(
    State(ctx): State<Arc<Ctx>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = path_id(id);
    let Ok(uuid) = Uuid::try_parse(&id) else {
        ctx.m.pub_failed_delete.inc();
        return no_such(&id).into_response();
    };
    let pubs = ctx.app.publishers.clone();
    match crate::api::blocking(move || pubs.delete(uuid)).await {
        Ok(Ok(Some(_))) => json(StatusCode::OK, &j!({"status": "OK"})),
        Ok(Ok(None)) => {
            ctx.m.pub_failed_delete.inc();
            no_such(&id).into_response()
        }
        Ok(Err(e)) => {
            ctx.m.pub_failed_delete.inc();
            Problem::internal(e.to_string()).into_response()
        }
        Err(p) => p.into_response(),
    }
}

pub(super) async fn delete_all(State(ctx): State<Arc<Ctx>>) -> Response {
    let pubs = ctx.app.publishers.clone();
    match crate::api::blocking(move || pubs.delete_all()).await {
        Ok(Ok(_)) => json(StatusCode::OK, &j!({"status": "deleted all publishers"})),
        Ok(Err(e)) => {
            ctx.m.pub_failed_delete.inc();
            Problem::internal(e.to_string()).into_response()
        }
        Err(p) => p.into_response(),
    }
}
