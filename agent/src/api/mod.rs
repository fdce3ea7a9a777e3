//! The O-RAN O-Cloud Notification REST API (v2; v1 later).

mod v2;

use std::sync::Arc;

use axum::Router;

use crate::engine::EngineHandle;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::transport::Dispatcher;

/// Everything a handler may touch.
#[derive(Clone)]
pub struct AppState {
    pub node: Arc<str>,
    /// `http://host:port` of this publisher, for `UriLocation`.
    pub public_base: Arc<str>,
    pub store: Arc<Store>,
    pub dispatcher: Arc<Dispatcher>,
    pub engine: EngineHandle,
    pub metrics: Arc<Metrics>,
    pub max_body_bytes: usize,
}

/// The whole API router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/ocloudNotifications/v2", v2::router())
        .with_state(state)
}
