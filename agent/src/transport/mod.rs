//! Delivery of events to subscribers: HTTP now, AMQP later.

pub mod http;

pub use http::{DeliveryConfig, DeliveryError, Dispatcher};
