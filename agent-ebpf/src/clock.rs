//! `clock_adjtime` and `clock_settime`: the request is read at syscall entry
//! and kept per thread in a hash map; at exit one record carries request and
//! result together.

use agent_common::{ClockAdjtime, ClockSettime, Kind};
use aya_ebpf::helpers::{bpf_get_current_pid_tgid, bpf_probe_read_user};
use aya_ebpf::macros::{map, tracepoint};
use aya_ebpf::maps::HashMap;
use aya_ebpf::programs::TracePointContext;

use crate::{emit, header, watched};

/// A `clock_adjtime` between entry and exit.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct PendingAdj {
    pub rec: ClockAdjtime,
    /// The user's `struct __kernel_timex *`, read again at exit.
    pub utx: u64,
}

/// Calls in progress, by tid.
#[map(name = "ADJ_PENDING")]
pub(crate) static ADJ_PENDING: HashMap<u32, PendingAdj> = HashMap::with_max_entries(1024, 0);

/// `clock_settime` calls in progress, by tid.
#[map(name = "SET_PENDING")]
static SET_PENDING: HashMap<u32, ClockSettime> = HashMap::with_max_entries(1024, 0);

/// The first 88 bytes of `struct __kernel_timex` (x86_64 and aarch64 layout):
/// modes (u32) at 0, offset 8, freq 16, maxerror 24, esterror 32, status 40,
/// constant 48, precision 56, tolerance 64, time.tv_sec 72, time.tv_usec 80.
type TimexHead = [i64; 11];

/// `syscalls/sys_enter_clock_adjtime`: `which_clock` at 16, `utx` at 24.
#[tracepoint]
pub(crate) fn tp_adj_enter(ctx: TracePointContext) -> u32 {
    match try_adj_enter(&ctx) {
        Ok(v) | Err(v) => v,
    }
}

fn try_adj_enter(ctx: &TracePointContext) -> Result<u32, u32> {
    let Some((pid, tid)) = watched() else {
        return Ok(0);
    };
    // SAFETY: offsets from the tracepoint format pinned above.
    let clock: u64 = unsafe { ctx.read_at(16) }.map_err(|_| 1u32)?;
    // SAFETY: as above.
    let utx: u64 = unsafe { ctx.read_at(24) }.map_err(|_| 1u32)?;
    // SAFETY: user memory; a fault is an error, not a crash.
    let t: TimexHead = unsafe { bpf_probe_read_user(utx as *const TimexHead) }.map_err(|_| 1u32)?;
    let p = PendingAdj {
        rec: ClockAdjtime {
            hdr: header(Kind::ClockAdjtime, pid, tid, 0),
            clock_id: clock as i32,
            modes: t[0] as u32,
            offset: t[1],
            freq: t[2],
            time_sec: t[9],
            time_usec: t[10],
            freq_after: 0,
            ret: 0,
            exit_ktime_ns: 0,
        },
        utx,
    };
    ADJ_PENDING.insert(tid, p, 0).map_err(|_| 1u32)?;
    Ok(0)
}

/// `syscalls/sys_exit_clock_adjtime`: `ret` (i64) at 16.
#[tracepoint]
pub(crate) fn tp_adj_exit(ctx: TracePointContext) -> u32 {
    match try_adj_exit(&ctx) {
        Ok(v) | Err(v) => v,
    }
}

fn try_adj_exit(ctx: &TracePointContext) -> Result<u32, u32> {
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(p) = ADJ_PENDING.get_ptr(tid) else {
        return Ok(0);
    };
    // SAFETY: the map value stays valid for this program run (we remove it
    // only after copying).
    let p: PendingAdj = unsafe { *p };
    let _ = ADJ_PENDING.remove(tid);
    // SAFETY: offset from the tracepoint format pinned above.
    let ret: i64 = unsafe { ctx.read_at(16) }.map_err(|_| 1u32)?;
    // SAFETY: user memory; the kernel wrote the clock's state back there.
    let after: i64 = unsafe { bpf_probe_read_user((p.utx + 16) as *const i64) }.unwrap_or(0);
    let exit_ns = header(Kind::ClockAdjtime, 0, 0, 0).ktime_ns;
    emit::<ClockAdjtime>(Kind::ClockAdjtime, |rec| {
        let mut r = p.rec;
        r.ret = ret;
        r.freq_after = after;
        r.exit_ktime_ns = exit_ns;
        // SAFETY: `rec` is a reserved slot of size_of::<ClockAdjtime>().
        unsafe { rec.write(r) };
    })
}

/// `syscalls/sys_enter_clock_settime`: `which_clock` at 16, `tp` at 24.
#[tracepoint]
pub(crate) fn tp_set_enter(ctx: TracePointContext) -> u32 {
    match try_set_enter(&ctx) {
        Ok(v) | Err(v) => v,
    }
}

fn try_set_enter(ctx: &TracePointContext) -> Result<u32, u32> {
    let Some((pid, tid)) = watched() else {
        return Ok(0);
    };
    // SAFETY: offsets from the tracepoint format pinned above.
    let clock: u64 = unsafe { ctx.read_at(16) }.map_err(|_| 1u32)?;
    // SAFETY: as above.
    let tp: u64 = unsafe { ctx.read_at(24) }.map_err(|_| 1u32)?;
    // SAFETY: a `struct __kernel_timespec` in user memory; faults are errors.
    let ts: [i64; 2] = unsafe { bpf_probe_read_user(tp as *const [i64; 2]) }.unwrap_or([0, 0]);
    let r = ClockSettime {
        hdr: header(Kind::ClockSettime, pid, tid, 0),
        clock_id: clock as i32,
        _pad: 0,
        tv_sec: ts[0],
        tv_nsec: ts[1],
        ret: 0,
    };
    SET_PENDING.insert(tid, r, 0).map_err(|_| 1u32)?;
    Ok(0)
}

/// `syscalls/sys_exit_clock_settime`: `ret` at 16.
#[tracepoint]
pub(crate) fn tp_set_exit(ctx: TracePointContext) -> u32 {
    match try_set_exit(&ctx) {
        Ok(v) | Err(v) => v,
    }
}

fn try_set_exit(ctx: &TracePointContext) -> Result<u32, u32> {
    let tid = bpf_get_current_pid_tgid() as u32;
    let Some(p) = SET_PENDING.get_ptr(tid) else {
        return Ok(0);
    };
    // SAFETY: as in `try_adj_exit`.
    let mut r: ClockSettime = unsafe { *p };
    let _ = SET_PENDING.remove(tid);
    // SAFETY: offset from the tracepoint format pinned above.
    r.ret = unsafe { ctx.read_at(16) }.map_err(|_| 1u32)?;
    emit::<ClockSettime>(Kind::ClockSettime, |rec| {
        // SAFETY: `rec` is a reserved slot of size_of::<ClockSettime>().
        unsafe { rec.write(r) };
    })
}
