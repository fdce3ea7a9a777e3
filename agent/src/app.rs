//! Builds the agent from its configuration and runs it until shutdown.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing::info;

use crate::api::{self, API_V2, AppState};
use crate::config::{Config, Role, SourceKind};
use crate::engine::{Engine, EngineHandle, Sink, Thresholds, profiles};
use crate::metrics::Metrics;
use crate::relay::{self, Relay};
use crate::source::pmc;
use crate::source::socket::SocketSource;
use crate::source::{SourceStatus, StatusHandle, ebpf};
use crate::store::{Publishers, Store, Subscriptions};
use crate::transport::amqp::{AmqpConfig, AmqpPublisher, CurrentFn};
use crate::transport::{DeliveryConfig, Dispatcher, Tap};

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
        store: store.clone(),
        publishers,
        dispatcher: dispatcher.clone(),
        engine: engine.clone(),
        metrics: metrics.clone(),
        max_body_bytes: cfg.max_body_bytes,
        source: StatusHandle::default(),
    };
    tokio::spawn(engine.clone().run_timers());
    let mut router = api::router(state.clone());
    let mut source = None;
    match cfg.role {
        Role::Publisher => {
            // Profiles before the first line, then re-read when they change.
            let mut profiles = profiles::Reloader::new(
                cfg.ptp_config_dir.clone(),
                cfg.ptp_profiles.clone(),
                thresholds,
                engine.clone(),
                metrics.ptp.clone(),
            );
            profiles.reload();
            tokio::spawn(profiles::watch(profiles));
            tokio::spawn(pmc::supervise(engine.clone(), cfg.ptp4l_uds.clone()));
            // Aborted at shutdown: dropping the socket source removes its file.
            source = Some(start_source(&cfg, engine, metrics.clone(), &state.source)?);
            if let Some(addr) = &cfg.amqp {
                let st = state.clone();
                let current: CurrentFn =
                    Arc::new(move |kind| api::notify::current_or_placeholder(&st, kind));
                let amqp = AmqpPublisher::new(amqp_config(&cfg, addr), current, metrics.clone());
                dispatcher.add_tap(amqp.clone() as Arc<dyn Tap>);
                spawn_on_own_thread("amqp-publisher", amqp.run())?;
                info!(broker = %addr, "AMQP transport on");
            }
        }
        Role::Consumer => {
            let relay = Relay::new(
                dispatcher.clone(),
                store.clone() as Arc<dyn Subscriptions>,
                &metrics,
            );
            router = router.merge(relay::inbound_router(relay.clone()));
            let endpoint = format!("{}{}", cfg.public_base, relay::INBOUND_PATH);
            for base in &cfg.http_event_publishers {
                let sub = relay::http::HttpSubscriber::new(
                    base.clone(),
                    endpoint.clone(),
                    relay.clone(),
                    cfg.publisher_check,
                    &metrics,
                );
                tokio::spawn(sub.run());
            }
            if let Some(addr) = &cfg.amqp {
                let sub = relay::amqp::AmqpSubscriber::new(
                    amqp_config(&cfg, addr),
                    relay,
                    metrics.clone(),
                );
                spawn_on_own_thread("amqp-subscriber", sub.run())?;
            }
            info!(publishers = ?cfg.http_event_publishers, amqp = ?cfg.amqp, "consumer sidecar: relaying to the CNF");
        }
    }
    tokio::spawn(serve_metrics(metrics_listener, metrics));

    info!(addr = %cfg.api_addr, node = %cfg.node_name, "REST API listening");
    axum::serve(api_listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving the REST API")?;
    if let Some(source) = source {
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
fn spawn_on_own_thread(
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

fn amqp_config(cfg: &Config, addr: &str) -> AmqpConfig {
    AmqpConfig {
        addr: addr.to_owned(),
        style: cfg.amqp_address_style,
        node: cfg.node_name.clone(),
        container: format!("cloud-event-agent-{}", uuid::Uuid::new_v4().simple()),
        credentials: cfg.amqp_credentials.clone(),
    }
}

/// Starts the eBPF source when asked for and it loads here, else the log
/// socket; says which in the log and in `/health/detail`.
///
/// # Errors
/// `--source ebpf` and the probes do not load.
fn start_source(
    cfg: &Config,
    engine: EngineHandle,
    metrics: Arc<Metrics>,
    status: &StatusHandle,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let requested = match cfg.source {
        SourceKind::Auto => "auto",
        SourceKind::Ebpf => "ebpf",
        SourceKind::Socket => "socket",
    };
    let mut st = SourceStatus {
        requested,
        active: "socket",
        ..SourceStatus::default()
    };
    if cfg.source != SourceKind::Socket {
        let opts = ebpf::Options {
            watch: cfg.watch.clone(),
            ring_bytes: cfg.ebpf_ring_bytes,
            trust_any: cfg.ebpf_trust_any,
        };
        match ebpf::Probes::load(&opts) {
            Ok(probes) => {
                for p in probes.report.iter().filter(|p| !p.attached) {
                    info!(
                        program = p.program,
                        target = p.target,
                        reason = p.error.as_deref().unwrap_or(""),
                        "optional probe not attached"
                    );
                }
                let attached: Vec<&str> = probes
                    .report
                    .iter()
                    .filter(|p| p.attached)
                    .map(|p| p.program)
                    .collect();
                info!(watch = ?cfg.watch, probes = ?attached, "source: eBPF");
                if cfg.ebpf_trust_any {
                    tracing::warn!(
                        "--ebpf-trust-any: watched processes are trusted by name alone (benches and tests only)"
                    );
                }
                st.active = "ebpf";
                st.watch.clone_from(&cfg.watch);
                st.ring_bytes = Some(cfg.ebpf_ring_bytes);
                st.probes.clone_from(&probes.report);
                status.set(st);
                return Ok(tokio::spawn(async move {
                    if let Err(e) = ebpf::run(probes, &opts, engine, metrics).await {
                        tracing::error!(error = %e, "eBPF source stopped");
                    }
                }));
            }
            Err(e) if cfg.source == SourceKind::Ebpf => {
                return Err(anyhow::Error::new(e).context("--source ebpf"));
            }
            Err(e) => {
                tracing::warn!(reason = %e, "eBPF source unavailable, falling back to the log socket");
                st.ebpf_unavailable = Some(e.to_string());
            }
        }
    }
    info!(path = %cfg.socket_path.display(), "source: log socket");
    status.set(st);
    let source = SocketSource {
        path: cfg.socket_path.clone(),
        engine,
        lines: metrics.ptp.socket_lines(),
    };
    Ok(tokio::spawn(async move {
        if let Err(e) = source.run().await {
            tracing::error!(error = %e, "log socket source stopped");
        }
    }))
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
