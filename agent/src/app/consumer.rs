//! The consumer sidecar role: subscribe at the publishers on the CNF's
//! behalf and relay what arrives through our own dispatcher.

use std::sync::Arc;

use tracing::info;

use super::{amqp_config, spawn_on_own_thread};
use crate::api::AppState;
use crate::config::Config;
use crate::relay::{self, Relay};
use crate::store::Subscriptions;

/// Starts the subscribers; returns the route publishers deliver to.
///
/// # Errors
/// The AMQP thread cannot start.
pub(super) fn start(cfg: &Config, state: &AppState) -> anyhow::Result<axum::Router> {
    let metrics = &state.metrics;
    let relay = Relay::new(
        state.current.clone(),
        state.store.clone() as Arc<dyn Subscriptions>,
        metrics,
    );
    let router = relay::inbound_router(&relay);
    let endpoint = format!("{}{}", cfg.public_base, relay::INBOUND_PATH);
    for base in &cfg.http_event_publishers {
        let sub = relay::http::HttpSubscriber::new(
            base.clone(),
            endpoint.clone(),
            relay.clone(),
            cfg.publisher_check,
            metrics,
        );
        tokio::spawn(sub.run());
    }
    if let Some(addr) = &cfg.amqp {
        let sub = relay::amqp::AmqpSubscriber::new(amqp_config(cfg, addr), relay, metrics.clone());
        spawn_on_own_thread("amqp-subscriber", sub.run())?;
    }
    info!(
        publishers = %cfg.http_event_publishers.join(","),
        amqp = %cfg.amqp.as_deref().unwrap_or("none"),
        "consumer sidecar: relaying to the CNF"
    );
    Ok(router)
}
