//! CPU time and memory of processes, for the benches' figures.

use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::time::TimeValLike;
use nix::unistd::{SysconfVar, sysconf};

/// CPU seconds (user + system) of a running process, from
/// `/proc/<pid>/stat`; 0 when it is gone.
#[must_use]
pub fn proc_cpu(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // The unit of those times; Linux has used 100 everywhere for decades.
    #[allow(clippy::cast_precision_loss)]
    let hz = sysconf(SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100.0, |v| v as f64);
    (ticks(11) + ticks(12)) / hz
}

/// User + system CPU seconds of reaped children (`RUSAGE_CHILDREN`).
#[must_use]
pub fn children_cpu() -> f64 {
    let Ok(ru) = getrusage(UsageWho::RUSAGE_CHILDREN) else {
        return 0.0;
    };
    #[allow(clippy::cast_precision_loss)]
    let s = |t: nix::sys::time::TimeVal| t.num_microseconds() as f64 / 1e6;
    s(ru.user_time()) + s(ru.system_time())
}

/// Resident set size of a running process, KiB; 0 when it is gone.
#[must_use]
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
