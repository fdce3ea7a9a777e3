//! `/api/ocloudNotifications/v2` (§1.2).

use axum::Router;
use axum::routing::get;

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
}

async fn health() -> &'static str {
    "OK"
}
