//! Where facts come from: kernel probes on unmodified linuxptp processes
//! (`ebpf`) or the linuxptp-daemon log socket (`socket`). Every source feeds
//! the engine through [`crate::engine::EngineHandle`].

pub(crate) mod ebpf;
pub(crate) mod pmc;
pub(crate) mod socket;
pub(crate) mod status;

use std::path::PathBuf;

pub(crate) use status::{ProbeStatus, SourceStatus, StatusHandle};

/// Which source `--source` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SourceKind {
    /// eBPF when the probes load here, else the log socket.
    Auto,
    /// Kernel probes on unmodified linuxptp processes.
    Ebpf,
    /// The linuxptp-daemon line protocol on a Unix socket.
    Socket,
}

/// What the sources are told (built by `config`).
#[derive(Clone, Debug)]
pub(crate) struct SourceConfig {
    /// `PTP_PLUGIN=false`: no source runs.
    pub(crate) enabled: bool,
    pub(crate) kind: SourceKind,
    pub(crate) ebpf: ebpf::Options,
    /// The log-line socket linuxptp-daemon writes to.
    pub(crate) socket_path: PathBuf,
    /// ptp4l's management socket for configs without `uds_address`.
    pub(crate) ptp4l_uds: PathBuf,
}
