//! A CNF stand-in, as the anchor's example consumer: subscribes to the
//! node's sync events, logs each one with its latency, pulls CurrentState
//! periodically, and re-subscribes when the publisher lost its
//! subscriptions (health check + list), without duplicating them. Built on
//! the `cloud-event-client` crate (its `examples/` show each task alone).

#![warn(unused_crate_dependencies)]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use clap::Parser;
use cloud_event_client::{
    ApiVersion, Client, EventType, Keeper, Receiver, ReceiverConfig, ResourceAddress,
};
use tracing::{info, warn};

/// The event types a RAN workload watches (the anchor's consumer set).
const TYPES: [EventType; 5] = [
    EventType::LockState,
    EventType::OsClockSyncState,
    EventType::ClockClass,
    EventType::GnssSyncStatus,
    EventType::SyncState,
];

/// Which version of the O-Cloud Notification API to speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Api {
    V1,
    V2,
}

#[derive(Parser, Clone)]
#[command(about)]
struct Args {
    /// Base URL of the publisher's API, e.g. http://localhost:9043.
    #[arg(long, env = "PUBLISHER", default_value = "http://localhost:9043")]
    publisher: String,
    /// Where this consumer listens for events.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:8989")]
    listen: SocketAddr,
    /// The URL the publisher posts to (default: http://<listen>/event).
    #[arg(long, env = "ENDPOINT_URI")]
    endpoint_uri: Option<String>,
    /// Node whose events to subscribe to.
    #[arg(long, env = "NODE_NAME")]
    node_name: String,
    /// Health check / re-subscribe period, seconds.
    #[arg(long, env = "HEALTH_INTERVAL", default_value_t = 30)]
    health_interval: u64,
    /// API version to subscribe through (v1: the legacy API, e.g. of a
    /// consumer sidecar on localhost).
    #[arg(long, env = "API_VERSION", value_enum, default_value_t = Api::V2)]
    api: Api,
    /// CurrentState pull period, seconds (0 = never).
    #[arg(long, env = "PULL_INTERVAL", default_value_t = 60)]
    pull_interval: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Colour only on a terminal: piped logs stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let version = match args.api {
        Api::V1 => ApiVersion::V1,
        Api::V2 => ApiVersion::V2,
    };
    let client = Client::new(&args.publisher)?.with_version(version);
    let (rx, mut events) = Receiver::bind(args.listen, "/event", ReceiverConfig::default()).await?;
    let endpoint = args
        .endpoint_uri
        .clone()
        .unwrap_or_else(|| rx.local_endpoint());
    info!(%endpoint, "listening for events");

    let node = &args.node_name;
    let addresses: BTreeSet<ResourceAddress> = TYPES
        .iter()
        .map(|&t| match version {
            ApiVersion::V1 => ResourceAddress::v1_event(node, t),
            ApiVersion::V2 => ResourceAddress::event(node, t),
        })
        .collect();
    let keeper = Keeper::new(client.clone(), endpoint);
    let (_keep, wanted) = tokio::sync::watch::channel(addresses.clone());
    let every = Duration::from_secs(args.health_interval.max(1));
    tokio::spawn(keeper.run(wanted, every, |r| match r {
        Ok(r) => {
            for s in &r.created {
                info!(resource = %s.resource, id = %s.id, "created subscription");
            }
        }
        Err(e) => warn!(error = %e, "publisher not healthy; will retry"),
    }));

    let pull_every = Duration::from_secs(args.pull_interval.max(1));
    let mut pull = tokio::time::interval_at(tokio::time::Instant::now() + pull_every, pull_every);
    loop {
        tokio::select! {
            ev = events.next() => {
                let Some(ev) = ev else { return Ok(()) };
                // Plain values in log fields: an event without a time (or
                // from the future) logs no latency rather than `None`.
                let latency_ms = ev
                    .time
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .map_or_else(String::new, |d| format!("{:.3}", d.as_secs_f64() * 1e3));
                let values: Vec<String> = ev
                    .values
                    .iter()
                    .map(|v| format!("{}={}", v.resource, v.value))
                    .collect();
                info!(r#type = %ev.type_name, values = ?values, latency_ms = %latency_ms, "received event");
            }
            _ = pull.tick(), if args.pull_interval > 0 => {
                for a in &addresses {
                    match client.current_state(a).await {
                        Ok(Some(ev)) => info!(resource = %a, state = ?ev.sync_state(), metric = ?ev.metric(), "Got CurrentState"),
                        Ok(None) => info!(resource = %a, "no current state yet"),
                        Err(e) => warn!(resource = %a, error = %e, "CurrentState failed"),
                    }
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
