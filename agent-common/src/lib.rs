//! Records shared between the probes (`agent-ebpf`) and the agent.
//!
//! Every record starts with a [`Header`]; kinds have stable ids that are never
//! reused. No `bool`, no implicit padding: sizes are asserted below.
#![no_std]

/// Kind ids of records in the ring buffer. Never reuse a retired id.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    LogLine = 1,
    ClockAdjtime = 2,
    ClockSettime = 3,
    Exec = 4,
    Exit = 5,
}

/// Common header of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct Header {
    /// One of [`Kind`], as u32 so the probe never writes an invalid enum.
    pub kind: u32,
    /// Thread group id (the process id userspace sees).
    pub pid: u32,
    pub tid: u32,
    /// Bytes of payload that follow the fixed part (log lines), else 0.
    pub len: u32,
    /// `bpf_ktime_get_ns()` at the probe.
    pub ktime_ns: u64,
}

const _: () = assert!(core::mem::size_of::<Header>() == 24);

impl Kind {
    #[must_use]
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::LogLine),
            2 => Some(Self::ClockAdjtime),
            3 => Some(Self::ClockSettime),
            4 => Some(Self::Exec),
            5 => Some(Self::Exit),
            _ => None,
        }
    }
}
