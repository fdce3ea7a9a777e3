//! `ptp_clock_adjtime(struct posix_clock *pc, struct __kernel_timex *tx)`:
//! the kernel's PHC path, below the syscall. Attached by kprobe or fentry
//! where the kernel allows those (not on every kernel: the loader says which
//! attached). `tx` is a kernel pointer to the same layout as the user's timex.

use agent_common::{Kind, PhcAdjtime, VIA_FENTRY, VIA_KPROBE};
use aya_ebpf::helpers::bpf_probe_read_kernel;
use aya_ebpf::macros::{fentry, kprobe};
use aya_ebpf::programs::{FEntryContext, ProbeContext};

use crate::clock::ADJ_PENDING;
use crate::{emit, header, watched};

#[kprobe]
pub(crate) fn kp_ptp_adjtime(ctx: ProbeContext) -> u32 {
    let tx: Option<u64> = ctx.arg(1);
    match tx.map_or(Err(1), |tx| try_phc(tx, VIA_KPROBE)) {
        Ok(v) | Err(v) => v,
    }
}

#[fentry(function = "ptp_clock_adjtime")]
pub(crate) fn fe_ptp_adjtime(ctx: FEntryContext) -> u32 {
    let tx: u64 = ctx.arg(1);
    match try_phc(tx, VIA_FENTRY) {
        Ok(v) | Err(v) => v,
    }
}

fn try_phc(tx: u64, via: u32) -> Result<u32, u32> {
    let Some((pid, tid)) = watched() else {
        return Ok(0);
    };
    // SAFETY: kernel memory behind the function's second argument; a fault
    // is an error.
    let t: [i64; 3] = unsafe { bpf_probe_read_kernel(tx as *const [i64; 3]) }.map_err(|_| 1u32)?;
    let clock_id = match ADJ_PENDING.get_ptr(tid) {
        // SAFETY: a map value, valid during this program run.
        Some(p) => unsafe { (*p).rec.clock_id },
        None => 0,
    };
    emit::<PhcAdjtime>(Kind::PhcAdjtime, |rec| {
        let r = PhcAdjtime {
            hdr: header(Kind::PhcAdjtime, pid, tid, 0),
            clock_id,
            modes: t[0] as u32,
            offset: t[1],
            freq: t[2],
            via,
            _pad: 0,
        };
        // SAFETY: `rec` is a reserved slot of size_of::<PhcAdjtime>().
        unsafe { rec.write(r) };
    })
}
