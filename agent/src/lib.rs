//! cloud-event-agent: tells RAN workloads the moment a node's time
//! synchronisation changes.
//!
//! Data moves `source -> engine -> transport`; `api` and `store` sit beside
//! `transport`. Nothing in `engine` knows HTTP. `current` owns the current
//! state of every event kind; every reader asks it.
//!
//! The library exists for the binary, the engine bench and the eBPF root
//! tests: it exposes only what they use, so the compiler finds dead code.

// Not under test: unit tests see the dev-dependencies of the whole package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]

mod api;
mod app;
mod auth;
mod config;
mod current;
mod engine;
mod event;
mod metrics;
mod relay;
mod source;
mod store;
mod tls;
mod transport;

pub use app::{init_tracing, run, shutdown_signal};
pub use config::{Args, EX_USAGE, LogFormat, anchor_compatible_args};

/// The engine's entry points, for `benches/engine.rs`.
pub mod bench {
    pub use crate::engine::parse::common::prefix;
    pub use crate::engine::parse::{Msg, message};
    pub use crate::engine::profiles::{ProfileSet, file::parse as parse_config};
    pub use crate::engine::{Engine, Origin, Sink, Thresholds};
    pub use crate::event::Event;
    pub use crate::metrics::PtpMetrics;
}

/// The probe loader, for the eBPF root tests.
pub mod probes {
    pub use crate::source::ebpf::loader::built;
    pub use crate::source::ebpf::{Options, Probes};
}
