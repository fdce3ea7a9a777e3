//! A stand-in for a watched process in the eBPF tests: renames itself
//! (`prctl(PR_SET_NAME)`) so the probes' name filter matches it, then
//! prints lines, floods, or reads the clock with `clock_adjtime` (modes 0:
//! it only reads, never changes the clock).

// It makes the raw syscalls ptp4l makes (prctl, clock_adjtime, writev, send)
// so the probes see what they would see from ptp4l.
#![allow(unsafe_code)]

use std::io::Write;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Args {
    /// Process name to take (`comm`, at most 15 bytes).
    #[arg(long)]
    name: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// `clock_adjtime(CLOCK_REALTIME, {modes: 0})` `count` times.
    Adjtime {
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Writes `line` (plus a newline) `count` times, one write(2) each,
    /// `interval_ms` apart, then sleeps `hold_ms`.
    Print {
        #[arg(long)]
        line: String,
        #[arg(long, default_value_t = 1)]
        count: u32,
        #[arg(long, default_value_t = 0)]
        interval_ms: u64,
        #[arg(long, default_value_t = 0)]
        hold_ms: u64,
    },
    /// Benches: `count` ptp4l offset lines alternating in range (5 ns) and
    /// out of range (5000 ns), `gap_us` apart; the wall-clock time (ns)
    /// taken just before each write(2) goes to `times`, one per line.
    Flip {
        #[arg(long)]
        count: u32,
        #[arg(long)]
        gap_us: u64,
        #[arg(long)]
        times: std::path::PathBuf,
        /// The in-range offset (ns).
        #[arg(long, default_value_t = 5)]
        low: i64,
        /// The out-of-range offset (ns).
        #[arg(long, default_value_t = 5000)]
        high: i64,
    },
    /// Writes `count` lines as fast as it can, one write(2) each: garbage,
    /// or with `valid` a phc2sys offset line that changes nothing after
    /// the first (every fourth line; the rest garbage).
    Flood {
        #[arg(long)]
        count: u64,
        #[arg(long)]
        valid: bool,
    },
    /// One writev(2) of `parts` to stdout (one iovec each).
    Writev {
        #[arg(long, num_args = 1..)]
        parts: Vec<String>,
    },
    /// `clock_settime(CLOCK_MONOTONIC, ...)`: always refused (EINVAL), so
    /// it changes no clock, but the probe sees the call.
    SettimeMonotonic,
    /// Sends `msg` as a datagram on a socketpair with send(2) (sendto in
    /// the kernel), as glibc's syslog(3) sends to /dev/log.
    Syslog {
        #[arg(long)]
        msg: String,
    },
    /// Sleeps, then exits (an exit record).
    Sleep {
        #[arg(long)]
        ms: u64,
    },
}

fn set_name(name: &str) -> anyhow::Result<()> {
    let c = std::ffi::CString::new(name)?;
    // SAFETY: PR_SET_NAME reads a NUL-terminated string of at most 16
    // bytes from the pointer; `c` outlives the call.
    let r = unsafe { libc::prctl(libc::PR_SET_NAME, c.as_ptr(), 0, 0, 0) };
    anyhow::ensure!(r == 0, "prctl: {}", std::io::Error::last_os_error());
    Ok(())
}

/// One unbuffered write(2) of `buf` to stdout.
fn write_once(buf: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(buf)?;
    out.flush()
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    set_name(&args.name)?;
    match args.cmd {
        Cmd::Adjtime { count } => {
            for _ in 0..count {
                // SAFETY: an all-zero timex is valid; modes = 0 only reads.
                let mut tx: libc::timex = unsafe { std::mem::zeroed() };
                tx.modes = 0;
                // SAFETY: `tx` is a valid timex for the duration of the call.
                let r = unsafe { libc::clock_adjtime(libc::CLOCK_REALTIME, &raw mut tx) };
                anyhow::ensure!(r >= 0, "clock_adjtime: {}", std::io::Error::last_os_error());
                println!("state={r} freq={}", tx.freq);
            }
        }
        Cmd::Flip {
            count,
            gap_us,
            times,
            low,
            high,
        } => {
            let mut stamps = String::new();
            let t0 = std::time::Instant::now();
            for k in 0..count {
                let off = if k % 2 == 0 { low } else { high };
                let line =
                    format!("ptp4l[{k}.000]: master offset {off} s2 freq -1 path delay 100\n");
                // Paced on a schedule, so a slow write does not shift the rest.
                let due = t0 + Duration::from_micros(gap_us * u64::from(k));
                if let Some(d) = due.checked_duration_since(std::time::Instant::now()) {
                    std::thread::sleep(d);
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_nanos();
                write_once(line.as_bytes())?;
                stamps.push_str(&format!("{now}\n"));
            }
            std::fs::write(times, stamps)?;
        }
        Cmd::Print {
            line,
            count,
            interval_ms,
            hold_ms,
        } => {
            let mut buf = line.into_bytes();
            buf.push(b'\n');
            for i in 0..count {
                if i > 0 && interval_ms > 0 {
                    std::thread::sleep(Duration::from_millis(interval_ms));
                }
                write_once(&buf)?;
            }
            std::thread::sleep(Duration::from_millis(hold_ms));
        }
        Cmd::Flood { count, valid } => {
            for i in 0..count {
                let line = if valid && i % 4 == 0 {
                    format!("phc2sys[{i}.000]: CLOCK_REALTIME phc offset 7 s2 freq -1 delay 500\n")
                } else {
                    format!("flood line {i}\n")
                };
                write_once(line.as_bytes())?;
            }
        }
        Cmd::Writev { parts } => {
            let iov: Vec<libc::iovec> = parts
                .iter()
                .map(|p| libc::iovec {
                    iov_base: p.as_ptr() as *mut libc::c_void,
                    iov_len: p.len(),
                })
                .collect();
            let n = libc::c_int::try_from(iov.len())?;
            // SAFETY: every iovec points into a String of `parts`, alive
            // for the call; writev only reads them.
            let r = unsafe { libc::writev(1, iov.as_ptr(), n) };
            anyhow::ensure!(r >= 0, "writev: {}", std::io::Error::last_os_error());
        }
        Cmd::SettimeMonotonic => {
            let ts = libc::timespec {
                tv_sec: 12345,
                tv_nsec: 678,
            };
            // SAFETY: `ts` is valid for the call. CLOCK_MONOTONIC cannot be
            // set: the kernel answers EINVAL and changes nothing.
            let r = unsafe { libc::clock_settime(libc::CLOCK_MONOTONIC, &raw const ts) };
            anyhow::ensure!(r == -1, "clock_settime(CLOCK_MONOTONIC) succeeded?");
        }
        Cmd::Syslog { msg } => {
            use std::os::fd::AsRawFd;
            let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
            // libc's send(3), as syslog(3) calls it (std's send is a write).
            // SAFETY: sends `msg.len()` bytes of a live buffer on an open socket.
            let r = unsafe { libc::send(a.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
            anyhow::ensure!(r >= 0, "send: {}", std::io::Error::last_os_error());
            let mut buf = vec![0u8; msg.len() + 1];
            let n = b.recv(&mut buf)?;
            anyhow::ensure!(n == msg.len(), "short datagram");
        }
        Cmd::Sleep { ms } => std::thread::sleep(Duration::from_millis(ms)),
    }
    Ok(())
}
