//! v1 event routes: `create/event` (publish through a publisher id), `log`,
//! the status ping and `{resource}/CurrentState` (specversion 0.3).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tracing::{debug, info, warn};
use uuid::Uuid;

use super::{error, status, v1_error};
use crate::api::problem::Problem;
use crate::api::{API_V1, Ctx, body, no_such_path, not_allowed};
use crate::event::parse::{ParseError, kind_of, parse_values};
use crate::event::{Event, EventKind};
use crate::store::ApiVersion;

fn bad_event(e: &ParseError) -> Problem {
    error(
        "invalid-event",
        "Invalid event",
        &format!("the event is not valid: {e}"),
    )
}

fn json_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(o)) => Ok(o),
        Ok(_) => Err(bad_event(&ParseError::NotObject)),
        Err(e) => Err(bad_event(&ParseError::Json(e))),
    }
}

/// `POST create/event`: a cloud-native event whose `id` is a publisher id;
/// published to the subscribers of the publisher's resource (and over
/// AMQP). 202 `{"status":"Event sent"}`. The event's time is when the agent
/// takes it (it is created here).
pub(in crate::api) async fn create_event(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    req: Body,
) -> Response {
    match create_inner(&ctx, &headers, req).await {
        Ok((addr, ev)) => {
            debug!(address = %addr, id = %ev.id, "event created through a publisher");
            ctx.app.current.publish(ev);
            ctx.app
                .metrics
                .api
                .events_published
                .with_label_values(&[addr.as_str(), "success"])
                .inc();
            status(StatusCode::ACCEPTED, "Event sent")
        }
        Err(p) => v1_error(p).into_response(),
    }
}

async fn create_inner(
    ctx: &Ctx,
    headers: &HeaderMap,
    req: Body,
) -> Result<(String, Event), Problem> {
    let st = &ctx.app;
    let bytes = body::read(headers, req, st.max_body_bytes).await?;
    let obj = json_object(&bytes)?;
    let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
    let publisher = Uuid::try_parse(id)
        .ok()
        .and_then(|u| st.publishers.get(u))
        .ok_or_else(|| {
            error(
                "publisher-not-found",
                "Publisher not found",
                &format!("no publisher data for id {id} found to publish event for"),
            )
            .field("id")
        })?;
    let ty = obj.get("type").and_then(Value::as_str);
    let kind = EventKind::from_address(&st.node, &publisher.resource)
        .or_else(|| kind_of(Some(&publisher.resource), ty))
        .ok_or_else(|| {
            error(
                "unknown-resource",
                "Unknown resource",
                &format!(
                    "publisher {id} has resource {}, which names no event type of node {}",
                    publisher.resource, st.node
                ),
            )
        })?;
    let data = obj
        .get("data")
        .ok_or_else(|| bad_event(&ParseError::Missing("data")))?;
    let values = parse_values(data).map_err(|e| bad_event(&e))?;
    Ok((publisher.resource, Event::new(kind, values)))
}

/// `POST log`: logs a cloud-native event. 202.
pub(super) async fn log(State(ctx): State<Arc<Ctx>>, headers: HeaderMap, req: Body) -> Response {
    let bytes = match body::read(&headers, req, ctx.app.max_body_bytes).await {
        Ok(b) => b,
        Err(p) => return v1_error(p).into_response(),
    };
    match json_object(&bytes) {
        Ok(ev) => {
            info!(event = %serde_json::Value::Object(ev), "event published to log");
            status(StatusCode::ACCEPTED, "Event published to log")
        }
        Err(p) => p.into_response(),
    }
}

/// `PUT subscriptions/status/{id}`: sends the current state of the
/// subscription's resource to its endpoint, in its version's format. 202.
pub(super) async fn status_ping(
    State(ctx): State<Arc<Ctx>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let m = &ctx.app.metrics.api.status_ping;
    let sub = id
        .ok()
        .and_then(|Path(id)| Uuid::try_parse(&id).ok())
        .and_then(|u| ctx.app.store.get(u));
    let Some(sub) = sub else {
        m.with_label_values(&["failed"]).inc();
        return error(
            "subscription-not-found",
            "Subscription not found",
            "subscription not found",
        )
        .into_response();
    };
    m.with_label_values(&["success"]).inc();
    let st = ctx.app.clone();
    tokio::spawn(async move {
        for kind in EventKind::matching(&st.node, &sub.resource) {
            let ev = st.current.or_placeholder(kind);
            let body = match sub.version {
                ApiVersion::V1 => {
                    crate::event::v1::v1_event(sub.id, &ev, &st.node, st.dispatcher.v1_keys())
                }
                ApiVersion::V2 => ev.to_v2_json(),
                // A v1-era sidecar pulls its state through the transport.
                ApiVersion::Transport => continue,
            };
            if let Err(e) = st.dispatcher.post_once(&sub.endpoint, body.into()).await {
                warn!(endpoint = %sub.endpoint, error = %e, "status ping not delivered");
            }
        }
    });
    status(StatusCode::ACCEPTED, "ping sent")
}

/// `GET {resource}/CurrentState`: the v1 CloudEvent (specversion 0.3).
pub(super) async fn current_state(
    State(ctx): State<Arc<Ctx>>,
    method: Method,
    uri: Uri,
) -> Response {
    let full = crate::api::full_path(API_V1, &uri);
    let path = full.as_str();
    let rest = path.strip_prefix(API_V1).unwrap_or(path);
    let Some(addr) = rest
        .strip_suffix("CurrentState")
        .filter(|a| a.ends_with('/'))
    else {
        return no_such_path(path).into_response();
    };
    if method != Method::GET {
        return not_allowed(&method, path).into_response();
    }
    let resource = match crate::api::path::resource(addr) {
        Ok(r) => r,
        Err(p) => return v1_error(p).into_response(),
    };
    let resource = resource.as_str();
    let node = &*ctx.app.node;
    let Some(kind) = EventKind::from_address(node, resource) else {
        return error(
            "unknown-resource",
            "Unknown resource",
            &format!("{resource} is not the address of an event published by node {node}"),
        )
        .into_response();
    };
    match ctx.app.current.get(kind) {
        Some(ev) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            crate::event::v1::v1_current_state(&ev, node, ctx.app.dispatcher.v1_keys()),
        )
            .into_response(),
        None => error("no-data", "No data yet", "event not found").into_response(),
    }
}
