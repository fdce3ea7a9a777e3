//! Builds the agent from its configuration and runs it until shutdown: the
//! parts every role has here, the role's own parts in `publisher` and
//! `consumer`.

mod consumer;
mod publisher;

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing::info;

use crate::api::{self, API_V2, AppState};
use crate::config::{Config, Role};
use crate::engine::{Engine, EngineHandle, Sink, Thresholds};
use crate::metrics::Metrics;
use crate::source::StatusHandle;
use crate::store::{Publishers, Store, Subscriptions};
use crate::transport::{DeliveryConfig, Dispatcher};

/// Runs the agent until `shutdown` resolves, then drains.
///
/// # Errors
/// A listener cannot be bound, the store cannot be opened, or the
/// requested source cannot run.
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
            v1_keys: match cfg.v1_value_keys {
                crate::config::V1ValueKeys::Legacy => crate::event::ValueKeys::Legacy,
                crate::config::V1ValueKeys::Oran => crate::event::ValueKeys::Oran,
            },
        },
        metrics.clone(),
        store.clone() as Arc<dyn Subscriptions>,
    );
    // Defaults for instances without a profile (flags).
    let thresholds = Thresholds {
        max_offset: cfg.max_offset_threshold,
        min_offset: cfg.min_offset_threshold,
        holdover: cfg.holdover_timeout,
    };
    let engine = EngineHandle::new(
        Engine::new(cfg.node_name.clone(), thresholds, metrics.ptp.clone()),
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
        source: StatusHandle::default(),
    };
    tokio::spawn(engine.clone().run_timers());
    let mut router = api::router_with(
        state.clone(),
        api::Serve {
            v1: cfg.serve_v1,
            v2: cfg.serve_v2,
        },
    );
    tokio::spawn(log_hangups());
    let source = match cfg.role {
        Role::Publisher => Some(publisher::start(&cfg, &state, thresholds)?),
        Role::Consumer => {
            router = router.merge(consumer::start(&cfg, &state)?);
            None
        }
    };
    tokio::spawn(serve_metrics(metrics_listener, metrics));

    info!(addr = %cfg.api_addr, node = %cfg.node_name, "REST API listening");
    axum::serve(api_listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving the REST API")?;
    if let Some(source) = source {
        // Dropping the socket source removes its file.
        source.abort();
        let _ = source.await;
    }
    info!("draining delivery queues");
    dispatcher.shutdown(cfg.drain_timeout).await;
    Ok(())
}

/// Runs `fut` on a single-threaded runtime of its own thread. fe2o3-amqp
/// moves every frame through three tasks (link, session, connection): on
/// one thread these hand-offs are plain task switches, not cross-CPU
/// wake-ups, which shortens the AMQP hop.
pub(crate) fn spawn_on_own_thread(
    name: &str,
    fut: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the AMQP runtime")?;
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || rt.block_on(fut))
        .context("starting the AMQP thread")?;
    Ok(())
}

pub(crate) fn amqp_config(cfg: &Config, addr: &str) -> crate::transport::amqp::AmqpConfig {
    use crate::transport::amqp::AmqpConfig;
    AmqpConfig {
        addr: addr.to_owned(),
        style: cfg.amqp_address_style,
        node: cfg.node_name.clone(),
        container: format!("cloud-event-agent-{}", uuid::Uuid::new_v4().simple()),
        credentials: cfg.amqp_credentials.clone(),
    }
}

/// SIGHUP re-reads profiles and configs (the profile watcher listens too);
/// without a handler it would end the agent, as it ends the anchor.
async fn log_hangups() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        info!("SIGHUP: re-reading PTP profiles and configs");
    }
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
