//! Builds the agent from its configuration and runs it until shutdown: the
//! parts every role has here, the role's own parts in `publisher` and
//! `consumer`.

mod consumer;
mod limits;
mod logs;
mod publisher;

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing::info;

use crate::api::serve::{self, Closed, Limits};
use crate::api::{self, API_V2, AppState};
use crate::config::{Config, Role};
use crate::engine::{Engine, EngineHandle, Sink};
use crate::metrics::Metrics;
use crate::source::StatusHandle;
use crate::store::{Publishers, Store, Subscriptions};
use crate::tls::TlsAcceptor;
use crate::transport::policy::Policy;
use crate::transport::{Dispatcher, Outbound};

pub use logs::init_tracing;

/// Runs the agent until `shutdown` resolves, then drains.
///
/// # Errors
/// A listener cannot be bound, the store cannot be opened, or the
/// requested source cannot run.
pub async fn run(
    cfg: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let nofile = limits::raise_nofile();
    let sec = &cfg.security;
    let api_cfg = &cfg.api;
    let (api_cap, metrics_cap, outbound_cap) = limits::caps(
        nofile,
        api_cfg.max_connections,
        cfg.transport.max_connections,
    );
    info!(api = api_cap, outbound = outbound_cap, "connection caps");
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
            &format!("{}{API_V2}", api_cfg.public_base),
        )
        .context("opening the publishers")?
        .with_active_gauge(metrics.api.publishers.with_label_values(&["active"])),
    );
    let transport = &cfg.transport;
    let dispatcher = Dispatcher::new(
        transport.delivery.clone(),
        Outbound::new(
            crate::tls::client_config(&transport.endpoint_tls)
                .context("loading --endpoint-ca/-cert/-key")?,
            transport.policy.clone(),
            outbound_cap,
            metrics.security.outbound_connections.clone(),
        ),
        metrics.clone(),
        store.clone() as Arc<dyn Subscriptions>,
    );
    check_loaded(&store, &dispatcher.outbound().policy, &cfg.node_name);
    let engine = EngineHandle::new(
        Engine::new(
            cfg.node_name.clone(),
            cfg.engine.thresholds,
            metrics.ptp.clone(),
        ),
        dispatcher.clone() as Arc<dyn Sink>,
    );

    let api_listener = TcpListener::bind(api_cfg.addr)
        .await
        .with_context(|| format!("binding the REST API on {}", api_cfg.addr))?;
    let metrics_listener = TcpListener::bind(api_cfg.metrics_addr)
        .await
        .with_context(|| format!("binding metrics on {}", api_cfg.metrics_addr))?;

    let state = AppState {
        node: cfg.node_name.as_str().into(),
        public_base: api_cfg.public_base.as_str().into(),
        store,
        publishers,
        dispatcher: dispatcher.clone(),
        engine: engine.clone(),
        current: crate::current::Current::new(engine.clone(), dispatcher.clone()),
        metrics: metrics.clone(),
        max_body_bytes: api_cfg.max_body_bytes,
        source: StatusHandle::default(),
    };
    tokio::spawn(engine.clone().run_timers());
    let mut router = api::router_with(state.clone(), api_cfg.serve);
    if let Some(settings) = &sec.auth {
        let auth = crate::auth::Authenticator::new(
            settings.clone(),
            metrics.security.auth_failures.clone(),
            metrics.security.outbound_connections.clone(),
        )
        .context("setting up token auth")?;
        info!(
            token_review = settings.token_review,
            jwks = settings.jwks_url.is_some(),
            protect_reads = settings.protect_reads,
            "token auth on the REST API"
        );
        router = api::auth::layer(router, auth);
    }
    tokio::spawn(log_hangups());
    let source = match cfg.role {
        Role::Publisher => Some(publisher::start(
            &cfg.source,
            &cfg.engine,
            cfg.amqp.as_ref(),
            &state,
        )?),
        Role::Consumer => {
            router = router.merge(consumer::start(
                &cfg.relay,
                cfg.amqp.as_ref(),
                &api_cfg.public_base,
                &state,
            )?);
            None
        }
    };
    let limits = Limits {
        max_connections: api_cap,
        header_timeout: api_cfg.header_timeout,
        idle_timeout: api_cfg.idle_timeout,
        max_buf: Limits::MAX_BUF,
    };
    let closed = &metrics.security.connections_closed;
    let busy = &metrics.security.connections_busy;
    tokio::spawn(serve::serve(
        metrics_listener,
        metrics_router(metrics.clone()),
        Limits {
            max_connections: metrics_cap,
            ..limits.clone()
        },
        None,
        Closed::new(closed.clone(), busy, "metrics"),
        std::future::pending(),
    ));
    let tls = match &sec.tls {
        Some(files) => Some(
            TlsAcceptor::start(files.clone(), sec.tls_reload).context("loading the TLS files")?,
        ),
        None => None,
    };
    info!(addr = %api_cfg.addr, node = %cfg.node_name, tls = tls.is_some(), "REST API listening");
    serve::serve(
        api_listener,
        router,
        limits,
        tls,
        Closed::new(closed.clone(), busy, "api"),
        shutdown,
    )
    .await;
    if let Some(source) = source {
        // Dropping the socket source removes its file.
        source.abort();
        let _ = source.await;
    }
    info!("draining delivery queues");
    dispatcher.shutdown(transport.drain_timeout).await;
    Ok(())
}

/// Store files are validated like API input: a subscription the API
/// would refuse (bad scheme, a policy-refused host, another node's
/// resource) gets a log line naming its file. It stays in the file (a node
/// renamed back, a policy widened, finds it again) and is never delivered
/// to: routing and connecting apply the same checks.
fn check_loaded(store: &Store, policy: &Policy, node: &str) {
    for sub in store.list() {
        if let Err(why) = api::check_stored(node, policy, &sub.resource, &sub.endpoint) {
            let file = format!("{}.json", crate::store::client_id(&sub.endpoint));
            tracing::warn!(%file, id = %sub.id, reason = %why, "stored subscription is not valid here; it gets no events");
        }
    }
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

fn metrics_router(metrics: Arc<Metrics>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let m = metrics.clone();
            async move { ([("content-type", "text/plain; version=0.0.4")], m.render()) }
        }),
    )
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut t), Ok(mut i)) => {
            tokio::select! {
                _ = t.recv() => {}
                _ = i.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
    tracing::info!("shutdown requested");
}
