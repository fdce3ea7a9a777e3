//! A client of the O-RAN O-Cloud Notification API for CNFs: subscribe to a
//! node's PTP/SyncE sync events, receive them pushed (typed, as a
//! [`futures_core::Stream`]), pull their current state, and publish
//! cloud-native events, against cloud-event-agent or any publisher of the
//! same API (v2, and the legacy v1).
//!
//! ```no_run
//! use std::collections::BTreeSet;
//! use std::time::Duration;
//! use cloud_event_client::{Client, Keeper, Receiver, ReceiverConfig, ResourceAddress};
//!
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::new("http://ptp-event-publisher-service-n1:9043")?;
//! let (rx, mut events) = Receiver::bind("0.0.0.0:9089".parse()?, "/event", ReceiverConfig::default()).await?;
//! let keeper = Keeper::new(client.clone(), rx.endpoint("my-cnf.my-ns.svc"));
//! let (_wanted, watch) = tokio::sync::watch::channel(BTreeSet::from([ResourceAddress::sync("n1")]));
//! tokio::spawn(keeper.run(watch, Duration::from_secs(30), |_| {}));
//! while let Some(ev) = events.next().await {
//!     println!("{:?}: {:?}", ev.event_type, ev.sync_state());
//! }
//! # Ok(()) }
//! ```
//!
//! With the `amqp` feature, [`amqp`] receives at resource addresses over
//! AMQP 1.0 and answers status requests, as v1-era consumers did.

// Not under test: unit tests see the dev-dependencies of the whole package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

#[cfg(feature = "amqp")]
pub mod amqp;
// The README's example compiles.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
mod endpoint;
mod event;
mod keeper;
mod receiver;
mod resource;
mod rest;
mod time;

pub use endpoint::{Endpoint, EndpointError, Scheme};
pub use event::{
    CloudNativeEvent, DataType, DataValue, DecodeError, Event, Format, KeyStyle, ValueType,
    parse_data,
};
pub use keeper::{Keeper, SyncReport, backoff};
pub use receiver::{
    Accepted, EventStream, Inbox, Observer, ReceiveError, Receiver, ReceiverConfig, ReceiverStats,
};
pub use resource::{
    AddressError, EventType, NODE_PREFIX, ResourceAddress, SyncState, UnknownEventType,
};
pub use rest::{API_V1, API_V2, ApiVersion, Client, Created, Error, Publisher, Subscription};
pub use time::{format_rfc3339, parse_rfc3339};
