//! Builds the agent from its configuration and runs it until shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing::info;

use crate::api::{self, API_V2, AppState};
use crate::config::Config;
use crate::engine::{Engine, EngineHandle, Sink, Thresholds, profiles};
use crate::metrics::Metrics;
use crate::source::pmc;
use crate::source::socket::SocketSource;
use crate::store::{Publishers, Store, Subscriptions};
use crate::transport::{DeliveryConfig, Dispatcher};

/// Runs the agent until `shutdown` resolves, then drains.
///
/// # Errors
/// A listener cannot be bound or the store cannot be opened.
pub async fn run(
    cfg: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let metrics = Arc::new(Metrics::new().context("registering metrics")?);
    // Start-up, nothing else runs yet: loading (and fsync) may block here.
    let store = Arc::new(
        Store::open(&cfg.store_path)
            .context("opening the subscription store")?
            .with_active_gauge(metrics.api.subscriptions.with_label_values(&["active"])),
    );
    let publishers = Arc::new(
        Publishers::open(
            Some(&cfg.store_path),
            &cfg.node_name,
            &format!("{}{API_V2}", cfg.public_base),
        )
        .context("opening the publishers")?
        .with_active_gauge(metrics.api.publishers.with_label_values(&["active"])),
    );
    let dispatcher = Dispatcher::new(
        DeliveryConfig {
            node: cfg.node_name.clone(),
            timeout: cfg.delivery_timeout,
            queue_capacity: cfg.queue_capacity,
            max_consecutive_failures: cfg.max_consecutive_failures,
        },
        metrics.clone(),
        store.clone() as Arc<dyn Subscriptions>,
    );
    let engine = EngineHandle::new(
        Engine::new(
            cfg.node_name.clone(),
            Thresholds::default(),
            metrics.ptp.clone(),
        ),
        dispatcher.clone() as Arc<dyn Sink>,
    );

    let api_listener = TcpListener::bind(cfg.api_addr)
        .await
        .with_context(|| format!("binding the REST API on {}", cfg.api_addr))?;
    let metrics_listener = TcpListener::bind(cfg.metrics_addr)
        .await
        .with_context(|| format!("binding metrics on {}", cfg.metrics_addr))?;

    let state = AppState {
        node: cfg.node_name.as_str().into(),
        public_base: cfg.public_base.as_str().into(),
        store,
        publishers,
        dispatcher: dispatcher.clone(),
        engine: engine.clone(),
        metrics: metrics.clone(),
        max_body_bytes: cfg.max_body_bytes,
    };
    tokio::spawn(engine.clone().run_timers());
    // Profiles before the first line, then re-read when they change.
    let mut profiles = profiles::Reloader::new(
        cfg.ptp_config_dir.clone(),
        cfg.ptp_profiles.clone(),
        Thresholds::default(),
        engine.clone(),
        metrics.ptp.clone(),
    );
    profiles.reload();
    tokio::spawn(profiles::watch(profiles));
    tokio::spawn(pmc::supervise(engine.clone(), cfg.ptp4l_uds.clone()));
    let source = SocketSource {
        path: cfg.socket_path.clone(),
        engine,
        lines: metrics.ptp.socket_lines(),
    };
    // Aborted at shutdown: dropping it removes the socket file.
    let source = tokio::spawn(async move {
        if let Err(e) = source.run().await {
            tracing::error!(error = %e, "log socket source stopped");
        }
    });
    tokio::spawn(serve_metrics(metrics_listener, metrics));

    info!(addr = %cfg.api_addr, node = %cfg.node_name, "REST API listening");
    axum::serve(api_listener, api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving the REST API")?;
    source.abort();
    let _ = source.await;
    info!("draining delivery queues");
    dispatcher.shutdown(cfg.drain_timeout).await;
    Ok(())
}

async fn serve_metrics(listener: TcpListener, metrics: Arc<Metrics>) {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move { ([("content-type", "text/plain; version=0.0.4")], m.render()) }
        }),
    );
    if let Err(e) = axum::serve(listener, app).await {
        tracing::error!(error = %e, "metrics listener stopped");
    }
}
