//! The publisher role: profiles, the ptp4l management socket, the source
//! (eBPF or the log socket) and, when asked for, the AMQP transport.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tracing::info;

use super::spawn_on_own_thread;
use crate::api::AppState;
use crate::engine::{EngineConfig, EngineHandle, profiles};
use crate::metrics::Metrics;
use crate::source::socket::SocketSource;
use crate::source::{SourceConfig, SourceKind, SourceStatus, StatusHandle, ebpf, pmc};
use crate::transport::Tap;
use crate::transport::amqp::{AmqpConfig, AmqpPublisher, CurrentFn};

/// Starts what feeds the engine; returns the source task.
///
/// # Errors
/// `--source ebpf` and the probes do not load, or the AMQP thread cannot
/// start.
pub(super) fn start(
    cfg: &SourceConfig,
    engine_cfg: &EngineConfig,
    amqp: Option<&AmqpConfig>,
    state: &AppState,
) -> anyhow::Result<JoinHandle<()>> {
    let engine = &state.engine;
    let metrics = &state.metrics;
    // Profiles before the first line, then re-read when they change.
    let mut profiles = profiles::Reloader::new(
        engine_cfg.ptp_config_dir.clone(),
        engine_cfg.ptp_profiles.clone(),
        engine_cfg.thresholds,
        engine.clone(),
        metrics.ptp.clone(),
    );
    let daemons = pmc::Daemons::default();
    let source = if cfg.enabled {
        profiles.reload();
        tokio::spawn(profiles::watch(profiles));
        let source = start_source(
            cfg,
            engine.clone(),
            daemons.clone(),
            metrics.clone(),
            &state.source,
        )?;
        tokio::spawn(pmc::supervise(
            engine.clone(),
            daemons,
            cfg.ptp4l_uds.clone(),
        ));
        source
    } else {
        // The anchor loads its PTP plugin only with PTP_PLUGIN=true.
        info!("PTP_PLUGIN is false: no PTP source runs; the API serves what is published to it");
        tokio::spawn(std::future::pending())
    };
    if let Some(amqp_cfg) = amqp {
        let st = state.current.clone();
        let current: CurrentFn = Arc::new(move |kind| st.or_placeholder(kind));
        let amqp = AmqpPublisher::new(amqp_cfg.clone(), current, metrics.clone());
        state.dispatcher.add_tap(amqp.clone() as Arc<dyn Tap>);
        spawn_on_own_thread("amqp-publisher", amqp.run())?;
        info!(broker = %amqp_cfg.link.addr, "AMQP transport on");
    }
    Ok(source)
}

/// Starts the eBPF source when asked for and it loads here, else the log
/// socket; says which in the log and in `/health/detail`.
///
/// # Errors
/// `--source ebpf` and the probes do not load.
fn start_source(
    cfg: &SourceConfig,
    engine: EngineHandle,
    daemons: pmc::Daemons,
    metrics: Arc<Metrics>,
    status: &StatusHandle,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let requested = match cfg.kind {
        SourceKind::Auto => "auto",
        SourceKind::Ebpf => "ebpf",
        SourceKind::Socket => "socket",
    };
    let mut st = SourceStatus {
        requested,
        active: "socket",
        ..SourceStatus::default()
    };
    if cfg.kind != SourceKind::Socket {
        let opts = cfg.ebpf.clone();
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
                info!(
                    watch = %opts.watch.join(","),
                    probes = %attached.join(","),
                    "source: eBPF"
                );
                if opts.trust_any {
                    tracing::warn!(
                        "--ebpf-trust-any: watched processes are trusted by name alone (benches and tests only)"
                    );
                }
                // Before the management clients start: they follow the
                // daemons the probes find, not the profiles' configs.
                daemons.keep();
                st.active = "ebpf";
                st.watch.clone_from(&opts.watch);
                st.ring_bytes = Some(opts.ring_bytes);
                st.probes.clone_from(&probes.report);
                status.set(st);
                let status = status.clone();
                return Ok(tokio::spawn(async move {
                    let reason = match ebpf::run(probes, &opts, engine, daemons, metrics).await {
                        Err(e) => format!("the eBPF source stopped: {e}"),
                        Ok(()) => "the eBPF source stopped".to_owned(),
                    };
                    tracing::error!(reason, "source stopped");
                    status.stopped(reason);
                }));
            }
            Err(e) if cfg.kind == SourceKind::Ebpf => {
                return Err(anyhow::Error::new(e).context("--source ebpf"));
            }
            Err(e) => {
                tracing::warn!(error = %e, "eBPF source unavailable, falling back to the log socket");
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
    let status = status.clone();
    Ok(tokio::spawn(async move {
        let reason = match source.run().await {
            Err(e) => format!("the log socket source stopped: {e}"),
            Ok(()) => "the log socket source stopped".to_owned(),
        };
        tracing::error!(reason, "source stopped");
        status.stopped(reason);
    }))
}
