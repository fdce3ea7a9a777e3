//! `/subscriptions` (O-RAN TC5.3.1-5.3.4).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tracing::{info, warn};
use uuid::Uuid;

use super::{json, json_list, known_addresses, path_id};
use crate::api::problem::Problem;
use crate::api::{Ctx, body, notify};
use crate::event::EventKind;
use crate::store::{ApiVersion, CreateError, StoreError, Subscription, SubscriptionInfo};

pub(super) async fn create(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, req: Body) -> Response {
    match create_inner(&ctx, &headers, req).await {
        Ok(sub) => {
            info!(id = %sub.id, resource = %sub.resource, endpoint = %sub.endpoint, "subscription created");
            let mut resp = json(StatusCode::CREATED, &sub.to_info());
            if let Ok(loc) = sub.uri_location.parse() {
                resp.headers_mut().insert(header::LOCATION, loc);
            }
            resp
        }
        Err(p) => {
            ctx.m.sub_failed_create.inc();
            p.into_response()
        }
    }
}

async fn create_inner(ctx: &Ctx, headers: &HeaderMap, req: Body) -> Result<Subscription, Problem> {
    let st = &ctx.app;
    let bytes = body::read(headers, req, st.max_body_bytes).await?;
    let info = body::parse_info(&bytes)?;
    let endpoint = info.endpoint.ok_or_else(|| body::missing("EndpointUri"))?;
    body::check_endpoint(&endpoint, &st.dispatcher.outbound().policy)?;
    let kinds: Vec<EventKind> = EventKind::matching(&st.node, &info.resource).collect();
    if kinds.is_empty() {
        return Err(unknown_resource(&st.node, &info.resource));
    }
    // Cheap check first, so a duplicate does not notify the consumer again;
    // the store checks again under its lock.
    if let Some(existing) = st.store.find(&info.resource, &endpoint, ApiVersion::V2) {
        return Err(conflict(&existing));
    }
    let id = Uuid::new_v4();
    let sub = Subscription {
        id,
        resource: info.resource,
        endpoint,
        uri_location: format!("{}/subscriptions/{id}", ctx.api_base()),
        version: ApiVersion::V2,
    };
    let store = st.store.clone();
    let stored = sub.clone();
    match crate::api::blocking(move || store.create(stored)).await {
        Ok(Ok(())) => {}
        Ok(Err(CreateError::Duplicate(existing))) => return Err(conflict(&existing)),
        Ok(Err(CreateError::Store(e))) => return Err(store_failed(&e)),
        Err(p) => return Err(p),
    }
    if let Err(p) = notify::initial(st, &kinds, &sub.endpoint).await {
        // Undo: an endpoint that cannot take its first event is not subscribed.
        let store = st.store.clone();
        match crate::api::blocking(move || store.delete(id)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!(%id, error = %e, "could not undo a subscription"),
            Err(p) => warn!(%id, error = %p.detail, "could not undo a subscription"),
        }
        return Err(p);
    }
    Ok(sub)
}

/// 404 for a resource that covers none of this node's event kinds.
fn unknown_resource(node: &str, resource: &str) -> Problem {
    Problem::not_found(
        "unknown-resource",
        "Unknown resource",
        format!(
            "ResourceAddress {resource}: node {node} publishes no event at or below it; subscribe to one of the known addresses or a prefix of them"
        ),
    )
    .field("ResourceAddress")
    .with("known", known_addresses(node))
}

/// 409 naming the existing subscription (id in the body, `Location`).
fn conflict(existing: &Subscription) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "duplicate-subscription",
        "Subscription already exists",
        format!(
            "subscription {} already exists for {} and {}",
            existing.id, existing.resource, existing.endpoint
        ),
    )
    .with("SubscriptionId", existing.id.to_string())
    .with("UriLocation", existing.uri_location.clone())
    .location(existing.uri_location.clone())
}

fn store_failed(e: &StoreError) -> Problem {
    warn!(error = %e, "subscription store failed");
    Problem::internal(format!("{e}"))
}

fn no_such(id: &str) -> Problem {
    Problem::not_found(
        "subscription-not-found",
        "Subscription not found",
        format!("there is no subscription with id {id:?}"),
    )
}

/// v2 sees only the subscriptions made through v2: the v1 API and the
/// v1-era transport keep theirs (a v2 consumer that deletes all at start-up
/// must not wipe the node's v1 applications).
fn is_v2(s: &Subscription) -> bool {
    s.version == ApiVersion::V2
}

pub(super) async fn list(State(ctx): State<Arc<Ctx>>) -> Response {
    let infos: Vec<SubscriptionInfo> = ctx
        .app
        .store
        .list()
        .iter()
        .filter(|s| is_v2(s))
        .map(Subscription::to_info)
        .collect();
    json_list(&infos)
}

pub(super) async fn get_one(
    State(ctx): State<Arc<Ctx>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = path_id(id);
    match Uuid::try_parse(&id)
        .ok()
        .and_then(|u| ctx.app.store.get(u))
        .filter(is_v2)
    {
        Some(sub) => json(StatusCode::OK, &sub.to_info()),
        None => no_such(&id).into_response(),
    }
}

pub(super) async fn delete_one(
    State(ctx): State<Arc<Ctx>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let id = path_id(id);
    let Some(uuid) = Uuid::try_parse(&id)
        .ok()
        .filter(|u| ctx.app.store.get(*u).is_some_and(|s| is_v2(&s)))
    else {
        ctx.m.sub_failed_delete.inc();
        return no_such(&id).into_response();
    };
    let store = ctx.app.store.clone();
    match crate::api::blocking(move || store.delete(uuid)).await {
        Ok(Ok(Some(sub))) => {
            info!(id = %sub.id, resource = %sub.resource, endpoint = %sub.endpoint, "subscription deleted");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Ok(None)) => {
            ctx.m.sub_failed_delete.inc();
            no_such(&id).into_response()
        }
        Ok(Err(e)) => {
            ctx.m.sub_failed_delete.inc();
            store_failed(&e).into_response()
        }
        Err(p) => p.into_response(),
    }
}

pub(super) async fn delete_all(State(ctx): State<Arc<Ctx>>) -> Response {
    let store = ctx.app.store.clone();
    match crate::api::blocking(move || store.delete_version(ApiVersion::V2)).await {
        Ok(Ok(n)) => {
            info!(subscriptions = n, "all v2 subscriptions deleted");
            StatusCode::NO_CONTENT.into_response()
        }
        Ok(Err(e)) => {
            ctx.m.sub_failed_delete.inc();
            store_failed(&e).into_response()
        }
        Err(p) => p.into_response(),
    }
}
