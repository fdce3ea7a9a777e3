//! The consumer sidecar role: subscribe at the publishers on the CNF's
//! behalf and relay what arrives through our own dispatcher.

use std::sync::Arc;

use tracing::info;

use super::spawn_on_own_thread;
use crate::api::AppState;
use crate::relay::{self, Relay, RelayConfig};
use crate::store::Subscriptions;
use crate::transport::amqp::AmqpConfig;

/// Starts the subscribers; returns the route publishers deliver to.
///
/// # Errors
/// The AMQP thread cannot start.
pub(super) fn start(
    cfg: &RelayConfig,
    amqp: Option<&AmqpConfig>,
    public_base: &str,
    state: &AppState,
) -> anyhow::Result<axum::Router> {
    let metrics = &state.metrics;
    let relay = Relay::new(
        state.current.clone(),
        state.store.clone() as Arc<dyn Subscriptions>,
        metrics,
    );
    let router = relay::inbound_router(&relay);
    let endpoint = format!("{public_base}{}", relay::INBOUND_PATH);
    for base in &cfg.publishers {
        let sub = relay::http::HttpSubscriber::new(
            base.clone(),
            endpoint.clone(),
            relay.clone(),
            cfg.check,
            metrics,
        );
        tokio::spawn(sub.run());
    }
    if let Some(amqp) = amqp {
        let sub = relay::amqp::AmqpSubscriber::new(amqp.clone(), relay, metrics.clone());
        spawn_on_own_thread("amqp-subscriber", sub.run())?;
    }
    info!(
        publishers = %cfg.publishers.join(","),
        amqp = %amqp.map_or("none", |a| a.link.addr.as_str()),
        "consumer sidecar: relaying to the CNF"
    );
    Ok(router)
}
