//! The status ping, from the consumer's side: subscribes, then asks the
//! publisher to send the current state again (`PUT
//! subscriptions/status/{id}`) every `--interval` seconds, and prints each
//! event that arrives as a JSON line. Duplicates are kept: a ping answers
//! with the same event when nothing changed.
//!
//! `status_listener --publisher http://localhost:9043 --node n1 --listen 127.0.0.1:9089 --count 2`

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use cloud_event_client::{EventType, Receiver, ReceiverConfig, ResourceAddress};
use serde_json::json;
use tracing::warn;

#[derive(Parser)]
#[command(about = "Ping a subscription's status and print what arrives")]
struct Args {
    #[command(flatten)]
    common: common::Common,
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:9089")]
    listen: SocketAddr,
    /// The EndpointUri to give the publisher (default http://<listen>/event).
    #[arg(long, env = "ENDPOINT_URI")]
    endpoint_uri: Option<String>,
    #[arg(long, env = "EVENT_TYPE", default_value = "lock-state")]
    event_type: EventType,
    /// Seconds between pings.
    #[arg(long, env = "INTERVAL", default_value_t = 1)]
    interval: u64,
    /// Exit after this many events (0: never).
    #[arg(long, env = "COUNT", default_value_t = 0)]
    count: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_logging();
    let args = Args::parse();
    let client = args.common.client()?;
    let cfg = ReceiverConfig {
        dedupe_window: 0,
        ..ReceiverConfig::default()
    };
    let (rx, mut events) = Receiver::bind(args.listen, "/event", cfg).await?;
    let endpoint = args
        .endpoint_uri
        .clone()
        .unwrap_or_else(|| rx.local_endpoint());
    let resource = ResourceAddress::event(&args.common.node, args.event_type);
    let sub = client
        .create_subscription(&resource, &endpoint)
        .await?
        .subscription;
    common::line(&json!({"subscription": sub.id}));
    let mut ping = tokio::time::interval(Duration::from_secs(args.interval.max(1)));
    let mut seen = 0;
    loop {
        tokio::select! {
            _ = ping.tick() => {
                if let Err(e) = client.status_ping(&sub.id).await {
                    warn!(error = %e, "status ping failed");
                }
            }
            ev = events.next() => {
                let Some(ev) = ev else { return Ok(()) };
                common::line(&json!({"event": ev.to_json()}));
                seen += 1;
                if seen == args.count {
                    // Leave nothing behind at the publisher.
                    let _ = client.delete_subscription(&sub.id).await;
                    return Ok(());
                }
            }
        }
    }
}
