//! Builds a cloud-native event with values and publishes it through
//! `create/event` (the seed's publisher example): registers (or finds) the
//! publisher of the event type, then sends a state and an offset.
//!
//! `publish_event --publisher http://localhost:9043 --node n1 --event-type lock-state --state LOCKED --offset -12`

mod common;

use clap::Parser;
use cloud_event_client::{
    CloudNativeEvent, DataValue, EventType, KeyStyle, ResourceAddress, SyncState,
};
use serde_json::json;

#[derive(Parser)]
#[command(about = "Publish one cloud-native event through create/event")]
struct Args {
    #[command(flatten)]
    common: common::Common,
    #[arg(long, env = "EVENT_TYPE", default_value = "lock-state")]
    event_type: EventType,
    /// The state (LOCKED, HOLDOVER, FREERUN, ...).
    #[arg(long, env = "STATE", default_value = "LOCKED", value_parser = parse_state)]
    state: SyncState,
    /// An offset (ns) to send as the metric value; none when absent.
    #[arg(long, env = "OFFSET", allow_hyphen_values = true)]
    offset: Option<i64>,
    /// The interface part of the values' address (`/cluster/node/<node>/<iface>`).
    #[arg(long, env = "IFACE", default_value = "ens1fx/master")]
    iface: String,
    /// Write the values with the legacy keys (resource, dataType, valueType).
    #[arg(long, env = "LEGACY_KEYS")]
    legacy_keys: bool,
}

fn parse_state(s: &str) -> Result<SyncState, String> {
    SyncState::parse(s).ok_or_else(|| format!("{s:?} is no sync state"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::init_logging();
    let args = Args::parse();
    let client = args.common.client()?;
    let node = &args.common.node;
    let publisher = client
        .create_publisher(&ResourceAddress::event(node, args.event_type), None)
        .await?;
    let at = format!("/cluster/node/{node}/{}", args.iface);
    let mut ev = CloudNativeEvent::new(&publisher.id, args.event_type)
        .value(DataValue::state(&at, args.state));
    if let Some(o) = args.offset {
        ev = ev.value(DataValue::metric(&at, o));
    }
    if args.legacy_keys {
        ev = ev.keys(KeyStyle::Legacy);
    }
    client.publish(&ev).await?;
    common::line(
        &json!({"published": {"publisher": publisher.id, "resource": publisher.resource, "state": args.state.as_str()}}),
    );
    Ok(())
}
