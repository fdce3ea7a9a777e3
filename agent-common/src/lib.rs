//! Records shared between the probes (`agent-ebpf`) and the agent.
//!
//! Every record starts with a [`Header`]; kinds have stable ids that are never
//! reused. No `bool`, no implicit padding: sizes are asserted below, so the
//! probe (bpfel) and userspace (x86_64, aarch64) agree byte for byte.

// Not under test: unit tests see the dev-dependencies of the whole package.
#![cfg_attr(not(test), warn(unused_crate_dependencies))]
#![no_std]

#[cfg(feature = "user")]
mod user;
#[cfg(feature = "user")]
pub use user::{DecodeError, Decoded, comm_str, decode};

/// Kind ids of records in the ring buffer. Never reuse a retired id.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// [`LogLine`]: bytes written to stdout/stderr or sent to the syslog socket.
    LogLine = 1,
    /// [`ClockAdjtime`]: one `clock_adjtime` call, enter and exit together.
    ClockAdjtime = 2,
    /// [`ClockSettime`]: one `clock_settime` call, enter and exit together.
    ClockSettime = 3,
    /// [`ProcEvent`]: a watched name was exec'd.
    Exec = 4,
    /// [`ProcEvent`]: a watched process (its thread-group leader) exited.
    Exit = 5,
    /// [`PhcAdjtime`]: `ptp_clock_adjtime` in the kernel (kprobe or fentry),
    /// where the kernel allows those.
    PhcAdjtime = 6,
}

/// Number of kind slots (ids `0..KIND_SLOTS`) in per-kind maps such as
/// [`LOST_MAP`].
pub const KIND_SLOTS: u32 = 8;

/// Name of the per-CPU array (`KIND_SLOTS` × u64) of records lost because the
/// ring buffer was full, indexed by kind id.
pub const LOST_MAP: &str = "LOST";
/// Name of the LRU hash of per-process line budgets: tgid -> [`Budget`].
pub const BUDGET_MAP: &str = "BUDGET";
/// Name of the array of the budget's settings (index [`LIMIT_INTERVAL`]
/// and [`LIMIT_BURST`], ns), filled by the loader.
pub const LIMITS_MAP: &str = "LIMITS";
/// [`LIMITS_MAP`]: ns of budget one line costs (`1e9 / lines per second`);
/// 0 turns the budget off.
pub const LIMIT_INTERVAL: u32 = 0;
/// [`LIMITS_MAP`]: how far ahead of now a process may have spent its budget
/// (the burst, in ns of budget).
pub const LIMIT_BURST: u32 = 1;
/// Processes whose budgets are kept; the least recently written is
/// forgotten first (only watched processes get one).
pub const BUDGET_ENTRIES: u32 = 1024;

/// One watched process's line budget and drop counters (a GCRA token
/// bucket: one time stamp instead of tokens and a refill time). Plain
/// `[u64; 4]`, so userspace reads it without a `Pod` impl of its own.
pub type Budget = [u64; 4];
/// [`Budget`]: the time (`bpf_ktime_get_ns`) its budget is spent up to.
pub const BUDGET_TAT: usize = 0;
/// [`Budget`]: log records (writes) dropped for being over budget.
pub const BUDGET_OVER: usize = 1;
/// [`Budget`]: log records dropped because the ring was (nearly) full.
pub const BUDGET_RING_FULL: usize = 2;

/// Name of the ring buffer map.
pub const RING_MAP: &str = "EVENTS";
/// Name of the hash map of watched process names (`[u8; 16]` comm -> u32 1).
pub const WATCH_MAP: &str = "WATCH";
/// Name of the one-entry array holding the agent's own tgid (ignored).
pub const SELF_MAP: &str = "SELF_TGID";

/// Bytes of a process name (`TASK_COMM_LEN`).
pub const COMM_LEN: usize = 16;

/// Bytes of one write copied into a [`LogLine`]. A longer write is cut here:
/// the record carries the first `LOG_MAX` bytes, `total` says how long the
/// write was, and [`LOG_TRUNCATED`] is set.
pub const LOG_MAX: usize = 512;

/// [`LogLine::flags`]: the write was longer than [`LOG_MAX`].
pub const LOG_TRUNCATED: u32 = 1;
/// [`LogLine::flags`]: from `sendto` (a syslog datagram), not stdout/stderr.
pub const LOG_SYSLOG: u32 = 2;
/// [`LogLine::flags`]: one iovec of a `writev`; more of the same call follow
/// unless [`LOG_LAST`] is also set.
pub const LOG_WRITEV: u32 = 4;
/// [`LogLine::flags`]: the last piece of a `writev`.
pub const LOG_LAST: u32 = 8;
/// [`LogLine::flags`]: the user buffer could not be read (faulted page).
pub const LOG_FAULT: u32 = 16;

/// Iovecs of one `writev` that are copied (one record each).
pub const WRITEV_MAX: u32 = 4;

/// Common header of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct Header {
    /// One of [`Kind`], as u32 so the probe never writes an invalid enum.
    pub kind: u32,
    /// Thread group id (the process id userspace sees), in the initial PID
    /// namespace.
    pub pid: u32,
    pub tid: u32,
    /// Bytes of payload that follow the fixed part (log lines), else 0.
    pub len: u32,
    /// `bpf_ktime_get_ns()` at the probe (CLOCK_MONOTONIC).
    pub ktime_ns: u64,
}

const _: () = assert!(core::mem::size_of::<Header>() == 24);

/// Bytes a process wrote to fd 1 or 2, or sent to a socket (syslog).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct LogLine {
    pub hdr: Header,
    /// The file descriptor written to.
    pub fd: u32,
    /// `LOG_*` bits.
    pub flags: u32,
    /// Length the process asked to write (may exceed `hdr.len`).
    pub total: u64,
    /// `hdr.len` bytes are valid.
    pub data: [u8; LOG_MAX],
}

const _: () = assert!(core::mem::size_of::<LogLine>() == 24 + 16 + LOG_MAX);

/// A `clock_adjtime(clock, timex)` call: the request as read at syscall
/// entry, the kernel's answer (`ret`) and the frequency it reports after the
/// call.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ClockAdjtime {
    pub hdr: Header,
    /// `clockid_t` (negative for dynamic PHC clocks: `(~fd << 3) | 3`).
    pub clock_id: i32,
    /// `timex.modes` as requested (`ADJ_*`).
    pub modes: u32,
    /// `timex.offset` as requested (ns with `ADJ_NANO`, else µs).
    pub offset: i64,
    /// `timex.freq` as requested, scaled ppm (ppm × 2^16).
    pub freq: i64,
    /// `timex.time.tv_sec` (the step of `ADJ_SETOFFSET`).
    pub time_sec: i64,
    /// `timex.time.tv_usec` (ns with `ADJ_NANO`).
    pub time_usec: i64,
    /// `timex.freq` after the call (what the clock runs at now).
    pub freq_after: i64,
    /// The syscall's return value (clock state, or -errno).
    pub ret: i64,
    /// `bpf_ktime_get_ns()` at syscall exit.
    pub exit_ktime_ns: u64,
}

const _: () = assert!(core::mem::size_of::<ClockAdjtime>() == 24 + 8 + 7 * 8);

/// A `clock_settime(clock, ts)` call.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ClockSettime {
    pub hdr: Header,
    pub clock_id: i32,
    pub _pad: u32,
    pub tv_sec: i64,
    pub tv_nsec: i64,
    pub ret: i64,
}

const _: () = assert!(core::mem::size_of::<ClockSettime>() == 24 + 8 + 3 * 8);

/// Exec or exit of a watched process.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcEvent {
    pub hdr: Header,
    /// `comm` at the event.
    pub comm: [u8; COMM_LEN],
    /// Exec: the pid before exec (`old_pid`); exit: 0.
    pub aux: u32,
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<ProcEvent>() == 24 + 16 + 8);

/// `ptp_clock_adjtime(posix_clock, kernel timex)`: the kernel's PHC path,
/// seen from a kprobe or fentry (where the kernel offers them).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PhcAdjtime {
    pub hdr: Header,
    /// The clock id of the `clock_adjtime` syscall in progress on this
    /// thread, when the syscall probe saw it; else 0.
    pub clock_id: i32,
    pub modes: u32,
    pub offset: i64,
    pub freq: i64,
    /// Which program saw it: 1 kprobe, 2 fentry.
    pub via: u32,
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<PhcAdjtime>() == 24 + 8 + 16 + 8);

/// [`PhcAdjtime::via`] of a kprobe.
pub const VIA_KPROBE: u32 = 1;
/// [`PhcAdjtime::via`] of fentry.
pub const VIA_FENTRY: u32 = 2;

/// `ADJ_OFFSET`.
pub const ADJ_OFFSET: u32 = 0x0001;
/// `ADJ_FREQUENCY`.
pub const ADJ_FREQUENCY: u32 = 0x0002;
/// `ADJ_SETOFFSET`: step the clock by `time`.
pub const ADJ_SETOFFSET: u32 = 0x0100;
/// `ADJ_NANO`: `offset` and `time.tv_usec` are in ns.
pub const ADJ_NANO: u32 = 0x2000;

impl Kind {
    #[must_use]
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            1 => Some(Self::LogLine),
            2 => Some(Self::ClockAdjtime),
            3 => Some(Self::ClockSettime),
            4 => Some(Self::Exec),
            5 => Some(Self::Exit),
            6 => Some(Self::PhcAdjtime),
            _ => None,
        }
    }

    /// Short name for metrics and logs.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::LogLine => "log_line",
            Self::ClockAdjtime => "clock_adjtime",
            Self::ClockSettime => "clock_settime",
            Self::Exec => "exec",
            Self::Exit => "exit",
            Self::PhcAdjtime => "phc_adjtime",
        }
    }
}
