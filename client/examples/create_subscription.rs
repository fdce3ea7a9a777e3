//! Subscribes to one event type (or a prefix) of a node, waits for the
//! initial notification (v2) and prints the subscription and that event,
//! each as a JSON line. A subscription that exists already is reused.
//!
//! `create_subscription --publisher http://localhost:9043 --node n1 --listen 127.0.0.1:9089 --event-type lock-state`

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use cloud_event_client::{ApiVersion, EventType, Receiver, ReceiverConfig, ResourceAddress};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Subscribe to a node's events and wait for the initial notification")]
struct Args {
    #[command(flatten)]
    common: common::Common,
    /// Where to receive events.
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:9089")]
    listen: SocketAddr,
    /// The EndpointUri to give the publisher (default http://<listen>/event).
    #[arg(long, env = "ENDPOINT_URI")]
    endpoint_uri: Option<String>,
    /// The event type (lock-state, os-clock-sync-state, sync-state, ...).
    #[arg(
        long,
        env = "EVENT_TYPE",
        default_value = "lock-state",
        conflicts_with = "resource"
    )]
    event_type: EventType,
    /// A resource address or prefix instead, e.g. /cluster/node/n1/sync.
    #[arg(long, env = "RESOURCE")]
    resource: Option<ResourceAddress>,
    /// How long to wait for the initial notification, seconds.
    #[arg(long, env = "WAIT", default_value_t = 10)]
    wait: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_logging();
    let args = Args::parse();
    let client = args.common.client()?;
    let (rx, mut events) = Receiver::bind(args.listen, "/event", ReceiverConfig::default()).await?;
    let endpoint = args
        .endpoint_uri
        .clone()
        .unwrap_or_else(|| rx.local_endpoint());
    let resource = args
        .resource
        .clone()
        .unwrap_or_else(|| match args.common.api {
            ApiVersion::V1 => ResourceAddress::v1_event(&args.common.node, args.event_type),
            ApiVersion::V2 => ResourceAddress::event(&args.common.node, args.event_type),
        });
    let created = client.create_subscription(&resource, &endpoint).await?;
    let s = &created.subscription;
    common::line(&json!({
        "subscription": {
            "id": s.id, "resource": s.resource, "endpoint": s.endpoint,
            "uriLocation": s.uri_location, "existing": created.existing,
        }
    }));
    if args.common.api == ApiVersion::V2 && !created.existing {
        let wait = Duration::from_secs(args.wait);
        match tokio::time::timeout(wait, events.next()).await {
            Ok(Some(ev)) => common::line(&json!({"initial": ev.to_json()})),
            _ => anyhow::bail!("no initial notification within {wait:?}"),
        }
    }
    Ok(())
}
