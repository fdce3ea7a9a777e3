//! Exec and exit of watched processes (`sched` tracepoints).

use agent_common::{COMM_LEN, Kind, ProcEvent};
use aya_ebpf::helpers::bpf_get_current_comm;
use aya_ebpf::macros::tracepoint;
use aya_ebpf::programs::TracePointContext;

use crate::{emit, header, watched};

/// `sched/sched_process_exec`: `pid` (i32) at 12, `old_pid` at 16. Runs after
/// the new image is in place, so `comm` is the new name.
#[tracepoint]
pub(crate) fn tp_exec(ctx: TracePointContext) -> u32 {
    match try_exec(&ctx) {
        Ok(v) | Err(v) => v,
    }
}

fn try_exec(ctx: &TracePointContext) -> Result<u32, u32> {
    let Some((pid, tid)) = watched() else {
        return Ok(0);
    };
    // SAFETY: offset from the tracepoint format pinned above.
    let old: i32 = unsafe { ctx.read_at(16) }.unwrap_or(0);
    proc_event(Kind::Exec, pid, tid, old as u32)
}

/// `sched/sched_process_exit` (fires per thread): only the thread-group
/// leader's exit is reported. The fields are not read (their layout differs
/// between kernels: 6.1 has no `group_dead`).
#[tracepoint]
pub(crate) fn tp_exit(_ctx: TracePointContext) -> u32 {
    match try_exit() {
        Ok(v) | Err(v) => v,
    }
}

fn try_exit() -> Result<u32, u32> {
    let Some((pid, tid)) = watched() else {
        return Ok(0);
    };
    if pid != tid {
        return Ok(0);
    }
    proc_event(Kind::Exit, pid, tid, 0)
}

#[inline(always)]
fn proc_event(kind: Kind, pid: u32, tid: u32, aux: u32) -> Result<u32, u32> {
    let comm = bpf_get_current_comm().unwrap_or([0u8; COMM_LEN]);
    emit::<ProcEvent>(kind, |rec| {
        let r = ProcEvent {
            hdr: header(kind, pid, tid, 0),
            comm,
            aux,
            _pad: 0,
        };
        // SAFETY: `rec` is a reserved slot of size_of::<ProcEvent>().
        unsafe { rec.write(r) };
    })
}
