//! What sources hand the engine: typed facts, each tagged with the daemon
//! it belongs to ([`Origin`]) and the time it happened. No source formats
//! a line for the engine to parse again; a log line is handed over as the
//! daemon wrote it, and the engine's one line parser reads it, whichever
//! source saw it.

use std::sync::Arc;

use super::parse::port::PortState;

/// A running daemon as the kernel names it: its pid namespace (the inode
/// of `/proc/<pid>/ns/pid`) and its pid as the agent sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pid {
    pub ns: u64,
    pub pid: u32,
}

/// What the source knows about the writer of a fact. A log line's own
/// `[ptp4l.N.config]` tag, when it has one, names its instance only when
/// the source cannot name the process (the log socket).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Origin {
    /// Process name (`ptp4l`, `phc2sys`, ...), when known.
    pub process: Option<Arc<str>>,
    /// Config file name (`ptp4l.0.config`, `slave.cfg`), when known.
    pub config: Option<Arc<str>>,
    pub pid: Option<u32>,
    /// The process itself, when the source knows it (eBPF): a ptp4l is
    /// then its own instance, whatever its config is called.
    pub daemon: Option<Pid>,
}

/// A daemon that came up, as its source read it (command line, config).
#[derive(Clone, Copy, Debug, Default)]
pub struct Daemon<'a> {
    /// `-i`, else the config's interface sections.
    pub ifaces: &'a [String],
    /// The config's `#profile:` header.
    pub profile: Option<&'a str>,
    /// The config's `message_tag` as a config name (`ptp4l.7.config`):
    /// lines of other processes with that tag join this instance.
    pub tag: Option<&'a str>,
}

/// One fact.
#[derive(Clone, Copy, Debug)]
pub enum What<'a> {
    /// A log line as the daemon wrote it, without its newline.
    Line(&'a [u8]),
    /// The daemon started (or was found running).
    Started(Daemon<'a>),
    /// The daemon exited, or stopped answering on its management socket.
    Exited,
    /// The daemon stepped a clock (`clock_settime`, `ADJ_SETOFFSET`) by
    /// `ns`; `realtime`: the clock is CLOCK_REALTIME.
    Step { realtime: bool, ns: i64 },
    /// A port's state read from the management socket.
    PortState { port: u16, state: PortState },
    /// The grandmaster's clock class (parent data set).
    ClockClass(u8),
    /// `TIME_STATUS_NP`: the servo's last master offset and whether a
    /// grandmaster other than the clock itself is present.
    TimeStatus {
        master_offset: i64,
        gm_present: bool,
    },
}
