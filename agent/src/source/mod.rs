//! Where facts come from: the log socket (and, later, eBPF probes and the
//! ptp4l management socket). Every source feeds the engine through
//! [`crate::engine::EngineHandle`].

pub mod pmc;
pub mod socket;
