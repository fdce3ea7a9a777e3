//! Where facts come from: kernel probes on unmodified linuxptp processes
//! (`ebpf`) or the linuxptp-daemon log socket (`socket`). Every source feeds
//! the engine through [`crate::engine::EngineHandle`].

pub(crate) mod ebpf;
pub(crate) mod pmc;
pub(crate) mod socket;
pub(crate) mod status;

pub(crate) use status::{ProbeStatus, SourceStatus, StatusHandle};
