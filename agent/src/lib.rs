//! cloud-event-agent: tells RAN workloads the moment a node's time
//! synchronisation changes.
//!
//! Data moves `source -> engine -> transport`; `api` and `store` sit beside
//! `transport`. Nothing in `engine` knows HTTP. `current` owns the current
//! state of every event kind; every reader asks it.

pub mod api;
pub mod app;
pub mod auth;
pub mod config;
pub mod current;
pub mod engine;
pub mod event;
pub mod metrics;
pub mod relay;
pub mod source;
pub mod store;
pub mod tls;
pub mod transport;
