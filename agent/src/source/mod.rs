//! Where facts come from: kernel probes on unmodified linuxptp processes
//! (`ebpf`) or the linuxptp-daemon log socket (`socket`). Every source feeds
//! the engine through [`crate::engine::EngineHandle`].

pub mod ebpf;
pub mod pmc;
pub mod socket;
pub mod status;

pub use status::{ProbeStatus, SourceStatus, StatusHandle};
