//! A CNF's event consumer: subscribes to a prefix of a node's resources
//! (default every sync event), pulls the current state of each event type
//! on start, keeps the subscription alive (health + list; subscribes again
//! when the publisher lost it), and prints every event as one JSON line on
//! stdout: `{"via":"pull"|"push", "event":{...}}`.
//!
//! `consumer --publisher http://localhost:9043 --node n1 --listen 127.0.0.1:9089`

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use cloud_event_client::{
    ApiVersion, EventType, Keeper, Receiver, ReceiverConfig, ResourceAddress,
};
use serde_json::json;
use tracing::{info, warn};

#[derive(Parser)]
#[command(about = "Subscribe to a node's sync events and print them as JSON lines")]
struct Args {
    #[command(flatten)]
    common: common::Common,
    #[arg(long, env = "LISTEN", default_value = "127.0.0.1:9089")]
    listen: SocketAddr,
    /// The EndpointUri to give the publisher (default http://<listen>/event).
    #[arg(long, env = "ENDPOINT_URI")]
    endpoint_uri: Option<String>,
    /// The resource prefix to subscribe to (default /cluster/node/<node>/sync).
    #[arg(long, env = "RESOURCE")]
    resource: Option<ResourceAddress>,
    /// Health and list check period, milliseconds.
    #[arg(long, env = "CHECK_MS", default_value_t = 30_000)]
    check_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_logging();
    let args = Args::parse();
    let node = args.common.node.clone();
    let client = args.common.client()?;
    let (rx, mut events) = Receiver::bind(args.listen, "/event", ReceiverConfig::default()).await?;
    let endpoint = args
        .endpoint_uri
        .clone()
        .unwrap_or_else(|| rx.local_endpoint());
    let prefix = args
        .resource
        .clone()
        .unwrap_or_else(|| ResourceAddress::sync(&node));
    // The v1 API has no prefixes: one subscription per event type there.
    let wanted: BTreeSet<ResourceAddress> = match args.common.api {
        ApiVersion::V2 => BTreeSet::from([prefix.clone()]),
        ApiVersion::V1 => prefix
            .event_types(&node)
            .map(|t| ResourceAddress::v1_event(&node, t))
            .collect(),
    };

    // The current state first, as far as the publisher has it.
    let types: Vec<EventType> = prefix.event_types(&node).collect();
    for t in types {
        let addr = match args.common.api {
            ApiVersion::V1 => ResourceAddress::v1_event(&node, t),
            ApiVersion::V2 => ResourceAddress::event(&node, t),
        };
        match client.current_state(&addr).await {
            Ok(Some(ev)) => common::line(&json!({"via": "pull", "event": ev.to_json()})),
            Ok(None) => info!(resource = %addr, "no current state yet"),
            Err(e) => warn!(resource = %addr, error = %e, "CurrentState failed"),
        }
    }

    let keeper = Keeper::new(client, endpoint.clone());
    let (_keep, watch) = tokio::sync::watch::channel(wanted);
    tokio::spawn(
        keeper.run(watch, Duration::from_millis(args.check_ms.max(100)), |r| {
            if let Ok(r) = r
                && !r.created.is_empty()
            {
                info!(created = r.created.len(), "subscribed");
            }
        }),
    );
    info!(%endpoint, resource = %prefix, "receiving");
    loop {
        tokio::select! {
            ev = events.next() => match ev {
                Some(ev) => common::line(&json!({"via": "push", "event": ev.to_json()})),
                None => return Ok(()),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
