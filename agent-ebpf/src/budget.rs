//! Per-process line budget: one chatty daemon cannot take the ring buffer
//! from the others. Each watched process (tgid) may send log lines at
//! `1e9 / LIMITS[LIMIT_INTERVAL]` per second with a burst of
//! `LIMITS[LIMIT_BURST]` ns of budget; a line over it is dropped here and
//! counted in its [`Budget`] (userspace exports and logs the counts). Only
//! log lines are budgeted: exec, exit and clock records never are.
//!
//! Log lines also leave the last quarter of the ring to the other records,
//! so a flood of many processes within budget still cannot cost an exit or
//! a clock step its slot.

use agent_common::{
    BUDGET_ENTRIES, BUDGET_OVER, BUDGET_RING_FULL, BUDGET_TAT, Budget, LIMIT_BURST,
    LIMIT_INTERVAL,
};
use aya_ebpf::bindings::{BPF_NOEXIST, BPF_RB_AVAIL_DATA, BPF_RB_RING_SIZE};
use aya_ebpf::helpers::bpf_ktime_get_ns;
use aya_ebpf::macros::map;
use aya_ebpf::maps::{Array, LruHashMap};

use crate::EVENTS;

/// tgid -> its budget and drop counters.
#[map(name = "BUDGET")]
static BUDGET: LruHashMap<u32, Budget> = LruHashMap::with_max_entries(BUDGET_ENTRIES, 0);

/// [`LIMIT_INTERVAL`] and [`LIMIT_BURST`], ns; all zero: no budget.
#[map(name = "LIMITS")]
static LIMITS: Array<u64> = Array::with_max_entries(2, 0);

/// The budget entry of `tgid`, made on first use.
#[inline(always)]
fn entry(tgid: u32) -> Option<*mut Budget> {
    if let Some(p) = BUDGET.get_ptr_mut(tgid) {
        return Some(p);
    }
    // Another CPU may have made it meanwhile: then this insert fails and
    // the lookup finds theirs.
    let _ = BUDGET.insert(tgid, [0u64; 4], u64::from(BPF_NOEXIST));
    BUDGET.get_ptr_mut(tgid)
}

/// Adds one to slot `i` of `b`. Not atomic (the BPF target has no atomic
/// add in `core`): two threads of one process writing at once on two CPUs
/// may count one drop; linuxptp daemons log from one thread.
#[inline(always)]
fn bump(b: *mut Budget, i: usize) {
    // SAFETY: `b` points at a live map value of four u64 and `i < 4`.
    unsafe { (*b)[i] += 1 };
}

/// Whether one more log line (one write) of `tgid` may go to the ring.
/// Lines over budget, or when the ring is three quarters full, are counted
/// against `tgid` and refused.
#[inline(always)]
pub fn admit(tgid: u32) -> bool {
    let interval = LIMITS.get(LIMIT_INTERVAL).copied().unwrap_or(0);
    let burst = LIMITS.get(LIMIT_BURST).copied().unwrap_or(0);
    let Some(b) = entry(tgid) else {
        // No entry (the map refused): do not lose the line for that.
        return true;
    };
    let avail = EVENTS.query(u64::from(BPF_RB_AVAIL_DATA));
    let size = EVENTS.query(u64::from(BPF_RB_RING_SIZE));
    if avail > size - (size >> 2) {
        bump(b, BUDGET_RING_FULL);
        return false;
    }
    if interval == 0 {
        return true;
    }
    // SAFETY: a helper without arguments or side effects.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: `b` points at a live map value; a racing thread of the same
    // process may read the same stamp, which lets one extra line through.
    let tat = unsafe { (*b)[BUDGET_TAT] };
    let start = if tat > now { tat } else { now };
    if start - now > burst {
        bump(b, BUDGET_OVER);
        return false;
    }
    // SAFETY: as above.
    unsafe { (*b)[BUDGET_TAT] = start + interval };
    true
}

/// A log line of `tgid` found the ring full.
#[inline(always)]
pub fn ring_full(tgid: u32) {
    if let Some(b) = entry(tgid) {
        bump(b, BUDGET_RING_FULL);
    }
}
