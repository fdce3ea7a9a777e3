//! The AMQP 1.0 transport (anchor §6.3, LAB.md §5), with fe2o3-amqp: every
//! event is also sent to the AMQP address of its resource, and status
//! requests on `<resource>/status` are answered with the current state.
//! It is a tap of the dispatcher: it sees the same [`super::Outgoing`]
//! events as HTTP delivery and never blocks it.

pub mod address;
pub mod link;
pub mod message;
mod publisher;

pub use publisher::{AmqpPublisher, CurrentFn};

use crate::config::{AmqpAddressStyle, AmqpCredentials};

/// Where and how to reach the broker.
#[derive(Clone, Debug)]
pub struct AmqpConfig {
    /// `host:port`.
    pub addr: String,
    pub style: AmqpAddressStyle,
    pub node: String,
    /// Container id of our connection (unique per agent).
    pub container: String,
    /// SASL PLAIN; none: ANONYMOUS.
    pub credentials: Option<AmqpCredentials>,
}
