//! What the examples share: the publisher/node flags and logging to stderr
//! (stdout carries only the examples' JSON lines).

#![allow(dead_code, reason = "each example uses part of it")]

use cloud_event_client::{ApiVersion, Client};

#[derive(clap::Args, Clone, Debug)]
pub(crate) struct Common {
    /// Base URL of the publisher's API, e.g. http://localhost:9043.
    #[arg(long, env = "PUBLISHER", default_value = "http://localhost:9043")]
    pub publisher: String,
    /// The node whose events to use (the `<node>` of
    /// `/cluster/node/<node>/...`).
    #[arg(long, env = "NODE_NAME")]
    pub node: String,
    /// API version: v2 (O-RAN) or v1 (legacy).
    #[arg(long, env = "API_VERSION", default_value = "v2", value_parser = parse_api)]
    pub api: ApiVersion,
}

fn parse_api(s: &str) -> Result<ApiVersion, String> {
    match s {
        "v1" => Ok(ApiVersion::V1),
        "v2" => Ok(ApiVersion::V2),
        other => Err(format!("{other:?}: use v1 or v2")),
    }
}

impl Common {
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::new(&self.publisher)?.with_version(self.api))
    }
}

/// Logs to stderr, `RUST_LOG` or info.
pub(crate) fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
}

/// Prints one JSON line on stdout.
pub(crate) fn line(v: &serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}
