//! The O-RAN O-Cloud Notification REST API, v2 and the legacy v1.
//!
//! Handlers are thin: they read the request, call the store, the engine or
//! the notifier, and map the outcome to a status code; every error is a
//! problem+json body ([`problem::Problem`]).

pub(crate) mod auth;
mod body;
pub(crate) mod notify;
mod path;
pub(crate) mod problem;
pub(crate) mod schemas;
pub(crate) mod serve;
mod transport;
mod v1;
mod v2;

use std::sync::Arc;

use axum::Router;
use axum::http::{Method, Uri};
use prometheus::IntGauge;

use crate::engine::EngineHandle;
use crate::metrics::Metrics;
use crate::store::{Publishers, Store};
use crate::transport::Dispatcher;
pub(crate) use body::check_stored;
use problem::Problem;

/// Path of the v2 API.
pub(crate) const API_V2: &str = "/api/ocloudNotifications/v2";

/// Path of the legacy v1 API.
pub(crate) const API_V1: &str = "/api/ocloudNotifications/v1";

/// The committed OpenAPI 3 document of the API.
pub(crate) const OPENAPI: &str = include_str!("openapi.json");

/// What the REST API and the metrics listener are told (built by `config`).
#[derive(Clone, Debug)]
pub(crate) struct ApiConfig {
    pub addr: std::net::SocketAddr,
    pub metrics_addr: std::net::SocketAddr,
    /// `http://host:port` of this publisher, for `UriLocation`.
    pub public_base: String,
    pub max_body_bytes: usize,
    pub serve: Serve,
    /// Open connections at most (0: derived from the open-file limit).
    pub max_connections: usize,
    pub header_timeout: std::time::Duration,
    pub idle_timeout: std::time::Duration,
}

/// Everything a handler may touch.
#[derive(Clone)]
pub(crate) struct AppState {
    pub node: Arc<str>,
    /// `http://host:port` of this publisher, for `UriLocation`.
    pub public_base: Arc<str>,
    pub store: Arc<Store>,
    pub publishers: Arc<Publishers>,
    pub dispatcher: Arc<Dispatcher>,
    pub engine: EngineHandle,
    /// The current state of every kind: the only thing readers ask.
    pub current: Arc<crate::current::Current>,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
    /// Which source runs and which probes attached (`/health/detail`).
    pub source: crate::source::StatusHandle,
}

/// Metric handles of the error paths, resolved once.
struct Counters {
    sub_failed_create: IntGauge,
    sub_failed_delete: IntGauge,
    pub_failed_create: IntGauge,
    pub_failed_delete: IntGauge,
}

/// What the handlers share.
struct Ctx {
    app: AppState,
    m: Counters,
    /// The v1 API and the v1-era transport are served.
    serve_v1: bool,
}

/// Which API versions a router serves (`--api-version-only`). v2's
/// `/health` and the root `/health` answer in every case: ptp-operator's
/// daemon container waits for the former before it starts linuxptp.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Serve {
    pub v1: bool,
    pub v2: bool,
}

impl Ctx {
    /// `<public base>/api/ocloudNotifications/v2`.
    fn api_base(&self) -> String {
        format!("{}{API_V2}", self.app.public_base)
    }
}

/// The whole API router, both versions.
#[cfg(test)]
pub(crate) fn router(state: AppState) -> Router {
    router_with(state, Serve { v1: true, v2: true })
}

/// The API router serving the versions in `serve`.
pub(crate) fn router_with(state: AppState, serve: Serve) -> Router {
    let api = &state.metrics.api;
    let m = Counters {
        sub_failed_create: api.subscriptions.with_label_values(&["failed to create"]),
        sub_failed_delete: api.subscriptions.with_label_values(&["failed to delete"]),
        pub_failed_create: api.publishers.with_label_values(&["failed to create"]),
        pub_failed_delete: api.publishers.with_label_values(&["failed to delete"]),
    };
    let ctx = Arc::new(Ctx {
        app: state,
        m,
        serve_v1: serve.v1,
    });
    let mut r = Router::new().route("/health", axum::routing::get(transport::health));
    r = if serve.v2 {
        r.nest(API_V2, v2::router())
    } else {
        r.route(&format!("{API_V2}/health"), axum::routing::get(v2::health))
    };
    if serve.v1 {
        r = r
            .nest(API_V1, v1::router())
            .route("/subscription", axum::routing::post(transport::register));
    }
    r.fallback(transport::fallback).with_state(ctx)
}

/// The reason the active source stopped, if it has (`/health` is 503).
fn source_stopped(ctx: &Ctx) -> Option<String> {
    ctx.app.source.get().stopped.clone()
}

fn no_such_path(path: &str) -> Problem {
    Problem::not_found(
        "not-found",
        "No such resource",
        format!("nothing is served at {path}"),
    )
}

/// For routes of the v2 router, which see their path without the prefix.
async fn method_not_allowed(method: Method, uri: Uri) -> Problem {
    not_allowed(&method, &full_path(API_V2, &uri))
}

fn not_allowed(method: &Method, path: &str) -> Problem {
    Problem::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!("{method} is not allowed on {path}"),
    )
}

/// The full path of a request seen by a handler nested under `api`
/// ([`API_V2`] or [`API_V1`]).
fn full_path(api: &str, uri: &Uri) -> String {
    let p = uri.path();
    if p.starts_with(api) {
        p.to_owned()
    } else {
        format!("{api}{p}")
    }
}

/// Runs a blocking store operation (file writes and fsync) off the async
/// workers: the one `spawn_blocking` of the API; a task that panicked is a
/// 500.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Problem> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Problem::internal(format!("the store task failed: {e}")))
}

#[cfg(test)]
mod tests;
