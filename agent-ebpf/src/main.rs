//! The probes of cloud-event-agent, built for `bpfel-unknown-none` by
//! `agent/build.rs` (aya-build).
//!
//! Every probe is a thin entry calling a fallible body; nothing panics. Each
//! one first asks [`watched`]: the current process's name must be in
//! [`WATCH`] (filled from `--watch`) and it must not be the agent itself
//! ([`SELF_TGID`]). Records go to the ring buffer [`EVENTS`] (its size is set
//! by the loader); a record that does not fit is counted in [`LOST`]. Log
//! lines first pass their process's budget (`budget.rs`).
#![no_std]
#![no_main]

mod budget;
mod clock;
mod logs;
mod phc;
mod process;

use agent_common::{COMM_LEN, Header, KIND_SLOTS, Kind};
use aya_ebpf::helpers::{bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_ktime_get_ns};
use aya_ebpf::macros::map;
use aya_ebpf::maps::{Array, HashMap, PerCpuArray, RingBuf};

/// Records to userspace. 256 KiB unless the loader says otherwise.
#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(256 * 1024, 0);

/// Watched process names (`comm`, NUL padded) -> 1.
#[map(name = "WATCH")]
static WATCH: HashMap<[u8; COMM_LEN], u32> = HashMap::with_max_entries(64, 0);

/// The agent's own tgid at index 0: its writes are never traced.
#[map(name = "SELF_TGID")]
static SELF_TGID: Array<u32> = Array::with_max_entries(1, 0);

/// Records lost because the ring buffer was full, per CPU, by kind id.
#[map(name = "LOST")]
static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(KIND_SLOTS, 0);

/// Pid and tid of the current task when it is watched.
#[inline(always)]
fn watched() -> Option<(u32, u32)> {
    let id = bpf_get_current_pid_tgid();
    let tgid = (id >> 32) as u32;
    let tid = id as u32;
    if let Some(me) = SELF_TGID.get(0)
        && *me == tgid
    {
        return None;
    }
    let comm = bpf_get_current_comm().ok()?;
    WATCH.get_ptr(comm)?;
    Some((tgid, tid))
}

/// A header for `kind` stamped now.
#[inline(always)]
fn header(kind: Kind, pid: u32, tid: u32, len: u32) -> Header {
    Header {
        kind: kind as u32,
        pid,
        tid,
        len,
        // SAFETY: a helper without arguments or side effects.
        ktime_ns: unsafe { bpf_ktime_get_ns() },
    }
}

/// Counts a record that found the ring buffer full.
#[inline(always)]
fn lost(kind: Kind) {
    if let Some(p) = LOST.get_ptr_mut(kind as u32) {
        // SAFETY: the pointer is this CPU's slot of a per-CPU array; probes
        // do not preempt each other on one CPU for the same slot kind.
        unsafe { *p += 1 };
    }
}

/// Reserves a `T`, fills it with `fill` and submits it; counts a loss when
/// the ring is full.
#[inline(always)]
fn emit<T: 'static>(kind: Kind, fill: impl FnOnce(*mut T)) -> Result<u32, u32> {
    let Some(mut entry) = EVENTS.reserve::<T>(0) else {
        lost(kind);
        return Err(1);
    };
    fill(entry.as_mut_ptr());
    entry.submit(0);
    Ok(0)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
