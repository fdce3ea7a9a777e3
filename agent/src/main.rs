//! Wiring only: flags -> tracing -> app -> SIGTERM -> drain.

// The library uses the dependencies; this binary only wires it.
#![allow(unused_crate_dependencies)]

use std::process::ExitCode;

use clap::Parser;
use cloud_event_agent::{Args, EX_USAGE, anchor_compatible_args, init_tracing, shutdown_signal};

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
    match rt.block_on(cloud_event_agent::run(cfg, shutdown_signal())) {
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
