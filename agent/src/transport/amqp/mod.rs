//! The AMQP 1.0 transport of the anchor, with fe2o3-amqp: every
//! event is also sent to the AMQP address of its resource, and status
//! requests on `<resource>/status` are answered with the current state.
//! It is a tap of the dispatcher: it sees the same [`super::Outgoing`]
//! events as HTTP delivery and never blocks it.

pub(crate) mod message;
mod publisher;

pub(crate) use publisher::{AmqpPublisher, CurrentFn};

/// Where and how to reach the broker: the connection is the client
/// crate's (one AMQP client for the publisher and the consumer sidecar).
#[derive(Clone, Debug)]
pub(crate) struct AmqpConfig {
    /// Broker address, credentials, our container id, address style.
    pub link: cloud_event_client::amqp::AmqpConfig,
    pub node: String,
}
