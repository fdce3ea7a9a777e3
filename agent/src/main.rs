//! Wiring only: flags -> tracing -> app -> SIGTERM -> drain.

use std::process::ExitCode;

use clap::Parser;
use cloud_event_agent::config::{Args, EX_USAGE, LogFormat, anchor_compatible_args};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    // The operator's sidecar template passes the anchor's flags: those that
    // change nothing here are dropped with a warning, not an exit.
    let (argv, ignored) = anchor_compatible_args(std::env::args_os());
    let args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { EX_USAGE } else { 0 };
            let _ = e.print();
            return exit(code);
        }
    };
    let cfg = match args.validate() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cloud-event-agent: invalid configuration: {e}");
            return exit(EX_USAGE);
        }
    };
    init_tracing(cfg.log_format);
    for flag in ignored {
        tracing::warn!(%flag, "a flag of cloud-event-proxy that changes nothing here; ignored");
    }

    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cloud-event-agent: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(cloud_event_agent::app::run(cfg, shutdown_signal())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "cloud-event-agent failed");
            ExitCode::FAILURE
        }
    }
}

fn exit(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn init_tracing(format: LogFormat) {
    let filter = std::env::var("LOG_LEVEL")
        .ok()
        .and_then(|l| EnvFilter::try_new(logrus_level(&l)).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    // Colour codes only for a person at a terminal: piped or collected
    // logs stay plain (and NO_COLOR turns colour off everywhere).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// `LOG_LEVEL` as the anchor reads it (logrus names) or a tracing filter.
fn logrus_level(level: &str) -> &str {
    match level.trim() {
        "panic" | "fatal" | "PANIC" | "FATAL" => "error",
        "warning" | "WARNING" => "warn",
        other => other,
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
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
