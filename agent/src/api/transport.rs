//! The anchor's v1-era HTTP transport (OCP 4.12-4.18), served at the root
//! of the API port so consumer sidecars of that era keep working while the
//! node agent is upgraded:
//!
//! - `GET /health`: `{"ok":true}` (503 with the reason when the source
//!   stopped); the sidecars and the 4.14 consumer check it before anything.
//! - `POST /subscription`: a CloudEvent (binary mode, `ce-*` headers, or
//!   structured, `application/cloudevents+json`) whose data is the anchor's
//!   `Subscriber`: `clientID`, `endPointURI` (the sidecar's base URL),
//!   `subStore` with the subscriptions, `action` 0 (NEW) or 2 (DELETE, the
//!   whole client). Events then go to `<endPointURI>/event`.
//! - `GET /{resource}/{clientID}/CurrentState`: the v1 CloudEvent of the
//!   resource for a registered client; 400 `{"message": ...}` otherwise.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use tracing::{info, warn};
use uuid::Uuid;

use super::problem::Problem;
use super::{Ctx, body, no_such_path};
use crate::event::EventKind;
use crate::event::parse::lookup as get;
use crate::store::{ApiVersion, CreateError, Subscription, client_id};
use crate::transport::policy::Policy;

/// sdk-go `channel.Status` values the transport's `action` carries.
const ACTION_NEW: i64 = 0;
const ACTION_DELETE: i64 = 2;

/// `GET /health` at the root, as the anchor's transport answers it.
pub(super) async fn health(State(ctx): State<Arc<Ctx>>) -> Response {
    match ctx.app.source.get().stopped.clone() {
        None => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"ok":true}"#,
        )
            .into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            json!({"ok": false, "reason": reason}).to_string(),
        )
            .into_response(),
    }
}

/// A 400 with the anchor's `message` member beside the problem's own.
fn bad(kind: &'static str, title: &'static str, msg: String) -> Problem {
    Problem::bad_request(kind, title, msg.clone()).with("message", msg)
}

/// `POST /subscription`.
pub(super) async fn register(
    State(ctx): State<Arc<Ctx>>,
    headers: HeaderMap,
    req: Body,
) -> Response {
    match register_inner(&ctx, &headers, req).await {
        Ok(resp) => resp,
        Err(p) => {
            ctx.m.sub_failed_create.inc();
            p.into_response()
        }
    }
}

async fn register_inner(ctx: &Ctx, headers: &HeaderMap, req: Body) -> Result<Response, Problem> {
    let st = &ctx.app;
    let bytes = body::read(headers, req, st.max_body_bytes).await?;
    let data = cloud_event_data(headers, &bytes)?;
    let reg = Registration::parse(&data, &st.dispatcher.outbound().policy)?;
    if reg.client != client_id(&reg.endpoint) {
        warn!(client = %reg.client, endpoint = %reg.endpoint,
            "transport client id is not the UUIDv3 of its endPointURI; CurrentState will not find it");
    }
    match reg.action {
        ACTION_DELETE => {
            let store = st.store.clone();
            let endpoint = reg.endpoint.clone();
            let n = crate::api::blocking(move || delete_client(&store, &endpoint)).await??;
            info!(client = %reg.client, endpoint = %reg.endpoint, subscriptions = n, "transport client deleted");
            Ok(json_ok(&json!({"clientID": reg.client, "deleted": n})))
        }
        _ => {
            // Every resource is checked before anything is stored.
            for (_, resource) in &reg.subs {
                if EventKind::matching(&st.node, resource).next().is_none() {
                    return Err(bad(
                        "unknown-resource",
                        "Unknown resource",
                        format!(
                            "resource {resource}: node {} publishes no event at or below it",
                            st.node
                        ),
                    )
                    .with("resource", resource.clone()));
                }
            }
            let mut stored = Vec::with_capacity(reg.subs.len());
            for (id, resource) in reg.subs {
                let sub = Subscription {
                    id: id.unwrap_or_else(Uuid::new_v4),
                    uri_location: format!(
                        "{}{resource}/{}/CurrentState",
                        st.public_base, reg.client
                    ),
                    resource,
                    endpoint: reg.endpoint.clone(),
                    version: ApiVersion::Transport,
                };
                let store = st.store.clone();
                let s = sub.clone();
                let sub = match crate::api::blocking(move || store.create(s)).await {
                    Ok(Ok(())) => {
                        info!(client = %reg.client, resource = %sub.resource, endpoint = %sub.endpoint,
                            "transport subscription created");
                        sub
                    }
                    Ok(Err(CreateError::Duplicate(existing))) => *existing,
                    Ok(Err(CreateError::Store(e))) => return Err(Problem::internal(e.to_string())),
                    Err(p) => return Err(p),
                };
                stored.push(json!({"id": sub.id, "resource": sub.resource}));
            }
            Ok(json_ok(&json!({
                "clientID": reg.client,
                "endPointURI": reg.endpoint,
                "subscriptions": stored,
            })))
        }
    }
}

fn json_ok(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// Removes the client's transport subscriptions (the anchor deletes the
/// whole client). Blocking.
fn delete_client(store: &crate::store::Store, endpoint: &str) -> Result<usize, Problem> {
    let mut n = 0;
    for sub in store
        .list()
        .into_iter()
        .filter(|s| s.version == ApiVersion::Transport && s.endpoint == endpoint)
    {
        n += usize::from(
            store
                .delete(sub.id)
                .map_err(|e| Problem::internal(e.to_string()))?
                .is_some(),
        );
    }
    Ok(n)
}

/// The `data` of a CloudEvent in binary or structured HTTP mode.
fn cloud_event_data(headers: &HeaderMap, bytes: &[u8]) -> Result<Value, Problem> {
    let ce = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let structured = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.trim_start().starts_with("application/cloudevents+json"));
    if let Some(version) = ce("ce-specversion") {
        check_version(version)?;
        for h in ["ce-id", "ce-source", "ce-type"] {
            if ce(h).is_none_or(str::is_empty) {
                return Err(malformed(format!(
                    "the binary-mode CloudEvent has no {h} header"
                )));
            }
        }
        return serde_json::from_slice(bytes)
            .map_err(|e| malformed(format!("the CloudEvent's data is not JSON: {e}")));
    }
    if !structured {
        return Err(malformed(
            "not a CloudEvent: send ce-specversion, ce-id, ce-source and ce-type headers (binary mode) or Content-Type application/cloudevents+json (structured mode)".to_owned(),
        ));
    }
    let Value::Object(mut ev) = serde_json::from_slice(bytes)
        .map_err(|e| malformed(format!("the structured CloudEvent is not JSON: {e}")))?
    else {
        return Err(malformed(
            "the structured CloudEvent is not a JSON object".to_owned(),
        ));
    };
    let attr = |ev: &Map<String, Value>, k: &str| {
        ev.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let version = attr(&ev, "specversion")
        .ok_or_else(|| malformed("the CloudEvent has no specversion".to_owned()))?;
    check_version(&version)?;
    for k in ["id", "source", "type"] {
        if attr(&ev, k).is_none() {
            return Err(malformed(format!("the CloudEvent has no {k}")));
        }
    }
    match ev.remove("data") {
        Some(Value::String(s)) => serde_json::from_str(&s)
            .map_err(|e| malformed(format!("the CloudEvent's data is not JSON: {e}"))),
        Some(v) if !v.is_null() => Ok(v),
        _ => Err(malformed("the CloudEvent has no data".to_owned())),
    }
}

fn check_version(v: &str) -> Result<(), Problem> {
    if v == "1.0" || v == "0.3" {
        Ok(())
    } else {
        Err(malformed(format!(
            "CloudEvents specversion {v:?} is not 0.3 or 1.0"
        )))
    }
}

fn malformed(msg: String) -> Problem {
    bad("malformed-cloudevent", "Malformed CloudEvent", msg)
}

/// A transport registration: the anchor's `subscriber.Subscriber`.
struct Registration {
    client: Uuid,
    /// The sidecar's base URL (`http://` added when it has no scheme).
    endpoint: String,
    action: i64,
    /// (subscription id when it is a UUID, resource) per subscription.
    subs: Vec<(Option<Uuid>, String)>,
}

impl Registration {
    fn parse(data: &Value, policy: &Policy) -> Result<Self, Problem> {
        let invalid = |msg: String| bad("invalid-subscriber", "Invalid subscriber", msg);
        let Value::Object(obj) = data else {
            return Err(invalid("the data is not a subscriber object".to_owned()));
        };
        let client = get(obj, "clientID")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("the subscriber has no clientID".to_owned()))?;
        let client = Uuid::try_parse(client)
            .map_err(|_| invalid(format!("clientID {client:?} is not a UUID")))?;
        let action = match get(obj, "action") {
            None | Some(Value::Null) => ACTION_NEW,
            Some(v) => v
                .as_i64()
                .ok_or_else(|| invalid(format!("action {v} is not a number")))?,
        };
        if action != ACTION_NEW && action != ACTION_DELETE {
            return Err(invalid(format!(
                "unknown action {action}: 0 (NEW) registers, 2 (DELETE) removes the client"
            )));
        }
        let raw = get(obj, "endPointURI")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("the subscriber has no endPointURI".to_owned()))?;
        let endpoint = if raw.contains("://") {
            raw.trim_end_matches('/').to_owned()
        } else {
            format!("http://{}", raw.trim_end_matches('/'))
        };
        body::check_endpoint(&endpoint, policy).map_err(|_| {
            invalid(format!(
                "endPointURI {raw:?} is not an http URL with a host"
            ))
        })?;
        let mut subs = Vec::new();
        let store = get(obj, "subStore").and_then(|s| match s {
            Value::Object(m) => get(m, "store"),
            _ => None,
        });
        if let Some(Value::Object(items)) = store {
            for (key, item) in items {
                let Value::Object(item) = item else {
                    return Err(invalid(format!("subscription {key:?} is not an object")));
                };
                let resource = ["resource", "ResourceAddress"]
                    .iter()
                    .find_map(|k| get(item, k).and_then(Value::as_str))
                    .filter(|r| !r.is_empty())
                    .ok_or_else(|| invalid(format!("subscription {key:?} has no resource")))?;
                let id = ["id", "SubscriptionId"]
                    .iter()
                    .find_map(|k| get(item, k).and_then(Value::as_str))
                    .unwrap_or(key);
                subs.push((Uuid::try_parse(id).ok(), resource.to_owned()));
            }
        }
        if action == ACTION_NEW && subs.is_empty() {
            return Err(invalid(
                "a NEW registration needs at least one subscription in subStore".to_owned(),
            ));
        }
        Ok(Self {
            client,
            endpoint,
            action,
            subs,
        })
    }
}

/// The fallback of the whole API: `GET /{resource}/{clientID}/CurrentState`
/// of the transport, else 404.
pub(super) async fn fallback(State(ctx): State<Arc<Ctx>>, method: Method, uri: Uri) -> Response {
    let path = uri.path();
    let Some((raw_resource, client)) = path
        .strip_suffix("/CurrentState")
        .and_then(|p| p.rsplit_once('/'))
        .filter(|(r, c)| !r.is_empty() && Uuid::try_parse(c).is_ok())
    else {
        return no_such_path(path).into_response();
    };
    if !ctx.serve_v1 {
        return no_such_path(path).into_response();
    }
    if method != Method::GET {
        return super::not_allowed(&method, path).into_response();
    }
    let Ok(client) = Uuid::try_parse(client) else {
        return no_such_path(path).into_response();
    };
    match current_state(&ctx, raw_resource, client) {
        Ok(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(p) => p.into_response(),
    }
}

fn current_state(ctx: &Ctx, raw_resource: &str, client: Uuid) -> Result<Vec<u8>, Problem> {
    let st = &ctx.app;
    let resource = super::path::resource(raw_resource)
        .map_err(|p| p.with("message", "invalid resource address"))?;
    let subs: Vec<Subscription> = st
        .store
        .list()
        .into_iter()
        .filter(|s| s.version == ApiVersion::Transport && client_id(&s.endpoint) == client)
        .collect();
    if subs.is_empty() {
        return Err(bad(
            "client-not-registered",
            "Client not registered",
            format!(
                "client {client} is not registered with the event publisher {}",
                st.public_base
            ),
        ));
    }
    let node = &*st.node;
    let kind = EventKind::from_address(node, &resource)
        .filter(|k| subs.iter().any(|s| k.matched_by(node, &s.resource)))
        .ok_or_else(|| {
            bad(
                "subscription-not-found",
                "Subscription not found",
                format!(
                    "subscription for ({resource}) not found for the requesting client {client}"
                ),
            )
        })?;
    let ev = st.current.get(kind).ok_or_else(|| {
        bad("no-data", "No data yet", "event data not found".to_owned())
            .with("resource", resource.clone())
    })?;
    Ok(crate::event::v1::v1_current_state(
        &ev,
        node,
        st.dispatcher.v1_keys(),
    ))
}
