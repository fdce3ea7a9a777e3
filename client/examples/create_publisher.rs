//! Registers a publisher of one event type of a node and prints it as a
//! JSON line (the seed SDK's `CreatePublisher`). A publisher of the same
//! resource that exists already is returned as is.
//!
//! `create_publisher --publisher http://localhost:9043 --node n1 --event-type lock-state`

mod common;

use clap::Parser;
use cloud_event_client::{ApiVersion, EventType, ResourceAddress};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Register a publisher of a node's event type")]
struct Args {
    #[command(flatten)]
    common: common::Common,
    #[arg(long, env = "EVENT_TYPE", default_value = "lock-state")]
    event_type: EventType,
    /// An endpoint the publisher checks (it must answer 2xx); none by default.
    #[arg(long, env = "ENDPOINT_URI")]
    endpoint_uri: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_logging();
    let args = Args::parse();
    let client = args.common.client()?;
    let resource = match args.common.api {
        ApiVersion::V1 => ResourceAddress::v1_event(&args.common.node, args.event_type),
        ApiVersion::V2 => ResourceAddress::event(&args.common.node, args.event_type),
    };
    let p = client
        .create_publisher(&resource, args.endpoint_uri.as_deref())
        .await?;
    common::line(&json!({
        "publisher": {"id": p.id, "resource": p.resource, "endpoint": p.endpoint, "uriLocation": p.uri_location}
    }));
    Ok(())
}
