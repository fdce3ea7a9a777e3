//! What runs as the source and which probes attached, for the log and for
//! `GET /api/ocloudNotifications/v2/health/detail`.

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde::Serialize;

/// One probe program and whether it is attached here.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ProbeStatus {
    /// Program name in the object (`tp_write`, `kp_ptp_adjtime`, ...).
    pub program: &'static str,
    /// `tracepoint`, `kprobe` or `fentry`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// What it attaches to (`syscalls/sys_enter_write`, `ptp_clock_adjtime`).
    pub target: &'static str,
    /// Required probes must attach for the eBPF source to run.
    pub required: bool,
    pub attached: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The running source.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct SourceStatus {
    /// `--source` as given: `auto`, `ebpf` or `socket`.
    pub requested: &'static str,
    /// What runs: `ebpf`, `socket`, or `none` before start-up ends.
    pub active: &'static str,
    /// Why eBPF is not running, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ebpf_unavailable: Option<String>,
    /// Watched process names (eBPF).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub watch: Vec<String>,
    /// Ring buffer size in bytes (eBPF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ring_bytes: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<ProbeStatus>,
    /// Why the active source stopped, once it has: `/health` then answers
    /// 503 with this reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// Shared, swappable [`SourceStatus`].
#[derive(Clone, Debug)]
pub(crate) struct StatusHandle(Arc<ArcSwap<SourceStatus>>);

impl Default for StatusHandle {
    fn default() -> Self {
        Self(Arc::new(ArcSwap::from_pointee(SourceStatus {
            requested: "socket",
            active: "none",
            ..SourceStatus::default()
        })))
    }
}

impl StatusHandle {
    pub(crate) fn set(&self, s: SourceStatus) {
        self.0.store(Arc::new(s));
    }

    #[must_use]
    pub(crate) fn get(&self) -> Arc<SourceStatus> {
        self.0.load_full()
    }

    /// Marks the active source as stopped, for `/health`.
    pub(crate) fn stopped(&self, reason: String) {
        let mut s = (*self.get()).clone();
        s.stopped = Some(reason);
        self.set(s);
    }
}
