//! Log lines: writes to stdout/stderr (`write`, `writev`) and syslog
//! datagrams (`sendto` of a buffer starting with `<`, as glibc's `syslog(3)`
//! sends them). At most [`LOG_MAX`] bytes of one write (or of one iovec) are
//! copied; the rest is cut and the record is flagged [`LOG_TRUNCATED`].
//! Each call (one write, one writev, one datagram) is one line of its
//! process's budget, admitted or dropped whole.

use agent_common::{
    Kind, LOG_FAULT, LOG_LAST, LOG_MAX, LOG_SYSLOG, LOG_TRUNCATED, LOG_WRITEV, LogLine, WRITEV_MAX,
};
use aya_ebpf::helpers::bpf_probe_read_user;
use aya_ebpf::helpers::generated::bpf_probe_read_user as read_user_raw;
use aya_ebpf::macros::tracepoint;
use aya_ebpf::programs::TracePointContext;
use core::ptr::addr_of_mut;

use crate::{budget, emit, header, watched};

/// `syscalls/sys_enter_write`: `fd` u64 at 16, `buf` at 24, `count` at 32.
#[tracepoint]
pub(crate) fn tp_write(ctx: TracePointContext) -> u32 {
    match try_write(&ctx) {
        Ok(v) | Err(v) => v,
    }
}

fn try_write(ctx: &TracePointContext) -> Result<u32, u32> {
    let Some((pid, tid)) = watched() else {
        return Ok(0);
    };
    // SAFETY: offsets from the tracepoint format pinned above.
    let fd: u64 = unsafe { ctx.read_at(16) }.map_err(|_| 1u32)?;
    if fd != 1 && fd != 2 {
        return Ok(0);
    }
    // SAFETY: as above.
    let buf: u64 = unsafe { ctx.read_at(24) }.map_err(|_| 1u32)?;
    // SAFETY: as above.
    let count: u64 = unsafe { ctx.read_at(32) }.map_err(|_| 1u32)?;
    if count == 0 || !budget::admit(pid) {
        return Ok(0);
    }
    copy_line(ids(pid, tid), fd << 32, buf, count)
}

/// `syscalls/sys_enter_writev`: `fd` at 16, `vec` at 24, `vlen` at 32. One
/// record per iovec (up to [`WRITEV_MAX`]), the last flagged [`LOG_LAST`].
#[tracepoint]
pub(crate) fn tp_writev(ctx: TracePointContext) -> u32 {
    match try_writev(&ctx) {
        Ok(v) | Err(v) => v,
    }
}

fn try_writev(ctx: &TracePointContext) -> Result<u32, u32> {
    let Some((pid, tid)) = watched() else {
        return Ok(0);
    };
    // SAFETY: offsets from the tracepoint format pinned above.
    let fd: u64 = unsafe { ctx.read_at(16) }.map_err(|_| 1u32)?;
    if fd != 1 && fd != 2 {
        return Ok(0);
    }
    // SAFETY: as above.
    let vec: u64 = unsafe { ctx.read_at(24) }.map_err(|_| 1u32)?;
    // SAFETY: as above.
    let vlen: u64 = unsafe { ctx.read_at(32) }.map_err(|_| 1u32)?;
    let n = if vlen > WRITEV_MAX as u64 {
        WRITEV_MAX as u64
    } else {
        vlen
    };
    if n == 0 || !budget::admit(pid) {
        return Ok(0);
    }
    for i in 0..WRITEV_MAX as u64 {
        if i >= n {
            break;
        }
        // SAFETY: reads a `struct iovec` (two u64) from user memory; a fault
        // is an error, not a crash.
        let iov: [u64; 2] =
            unsafe { bpf_probe_read_user((vec + i * 16) as *const [u64; 2]) }.map_err(|_| 1u32)?;
        let last = if i + 1 == n { LOG_LAST } else { 0 };
        let _ = copy_line(
            ids(pid, tid),
            (fd << 32) | u64::from(LOG_WRITEV | last),
            iov[0],
            iov[1],
        );
    }
    Ok(0)
}

/// `syscalls/sys_enter_sendto`: `fd` at 16, `buff` at 24, `len` at 32. Only
/// buffers that start with `<` (a syslog priority) are copied.
#[tracepoint]
pub(crate) fn tp_sendto(ctx: TracePointContext) -> u32 {
    match try_sendto(&ctx) {
        Ok(v) | Err(v) => v,
    }
}

fn try_sendto(ctx: &TracePointContext) -> Result<u32, u32> {
    let Some((pid, tid)) = watched() else {
        return Ok(0);
    };
    // SAFETY: offsets from the tracepoint format pinned above.
    let fd: u64 = unsafe { ctx.read_at(16) }.map_err(|_| 1u32)?;
    // SAFETY: as above.
    let buf: u64 = unsafe { ctx.read_at(24) }.map_err(|_| 1u32)?;
    // SAFETY: as above.
    let len: u64 = unsafe { ctx.read_at(32) }.map_err(|_| 1u32)?;
    if len < 4 {
        return Ok(0);
    }
    // SAFETY: one byte of user memory; a fault is an error.
    let first: u8 = unsafe { bpf_probe_read_user(buf as *const u8) }.map_err(|_| 1u32)?;
    if first != b'<' || !budget::admit(pid) {
        return Ok(0);
    }
    copy_line(ids(pid, tid), (fd << 32) | u64::from(LOG_SYSLOG), buf, len)
}

#[inline(always)]
fn ids(pid: u32, tid: u32) -> u64 {
    (u64::from(pid) << 32) | u64::from(tid)
}

/// Copies up to [`LOG_MAX`] bytes from `buf` into a new [`LogLine`].
///
/// Not inlined: a BPF-to-BPF call keeps the length clamp and the copy
/// together, so older verifiers (6.1) see the bound on the length register
/// (inlined into the `writev` loop, LLVM spilled the length before the
/// clamp and reloaded it unbounded).
/// BPF calls take at most five arguments: pid and tid travel as
/// `pid << 32 | tid`, fd and flags as `fd << 32 | flags`.
#[inline(never)]
fn copy_line(ids: u64, fd_flags: u64, buf: u64, count: u64) -> Result<u32, u32> {
    let (pid, tid) = ((ids >> 32) as u32, ids as u32);
    let fd = (fd_flags >> 32) as u32;
    let mut flags = fd_flags as u32;
    let mut n = count;
    if n > LOG_MAX as u64 {
        n = LOG_MAX as u64;
        flags |= LOG_TRUNCATED;
    }
    let r = emit::<LogLine>(agent_common::Kind::LogLine, |rec| {
        // SAFETY: `rec` points at a reserved ring-buffer slot of
        // size_of::<LogLine>() bytes; `n <= LOG_MAX` bounds the copy into
        // `data`; bpf_probe_read_user returns an error on a fault (and
        // zeroes the destination) instead of faulting.
        unsafe {
            let dst = addr_of_mut!((*rec).data).cast::<u8>();
            let r = read_user_raw(dst.cast(), n as u32, buf as *const _);
            let (len, flags) = if r == 0 {
                (n as u32, flags)
            } else {
                (0, flags | LOG_FAULT)
            };
            addr_of_mut!((*rec).hdr).write(header(Kind::LogLine, pid, tid, len));
            addr_of_mut!((*rec).fd).write(fd);
            addr_of_mut!((*rec).flags).write(flags);
            addr_of_mut!((*rec).total).write(count);
        }
    });
    if r.is_err() {
        budget::ring_full(pid);
    }
    r
}
