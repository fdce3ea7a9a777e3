//! Loads the probe object and attaches its programs: the tracepoints are
//! required, the kprobe and fentry on `ptp_clock_adjtime` are attached when
//! the kernel allows them (not on every kernel: no kprobes, or fentry EPERM).

use agent_common::{COMM_LEN, LIMIT_BURST, LIMIT_INTERVAL, LIMITS_MAP, SELF_MAP, WATCH_MAP};
use aya::programs::{FEntry, KProbe, TracePoint};
use aya::{Btf, Ebpf, EbpfLoader};

use super::EbpfError;
use crate::source::ProbeStatus;

/// The probe object built by `agent/build.rs` (empty when the build skipped it).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/agent-ebpf"));

/// Whether this build carries the probes.
#[must_use]
pub fn built() -> bool {
    !OBJECT.is_empty()
}

#[derive(Clone, Copy)]
enum Attach {
    /// `target` is `category/name`.
    Tracepoint,
    /// `target` is the kernel function.
    Kprobe,
    /// `target` is the kernel function.
    Fentry,
}

struct Spec {
    program: &'static str,
    attach: Attach,
    target: &'static str,
}

impl Spec {
    /// Tracepoints are required; the `ptp_clock_adjtime` probes are not.
    const fn required(&self) -> bool {
        matches!(self.attach, Attach::Tracepoint)
    }
}

const fn tp(program: &'static str, target: &'static str) -> Spec {
    Spec {
        program,
        attach: Attach::Tracepoint,
        target,
    }
}

/// Every program of the object, in attach order.
const SPECS: &[Spec] = &[
    tp("tp_exec", "sched/sched_process_exec"),
    tp("tp_exit", "sched/sched_process_exit"),
    tp("tp_write", "syscalls/sys_enter_write"),
    tp("tp_writev", "syscalls/sys_enter_writev"),
    tp("tp_sendto", "syscalls/sys_enter_sendto"),
    tp("tp_adj_enter", "syscalls/sys_enter_clock_adjtime"),
    tp("tp_adj_exit", "syscalls/sys_exit_clock_adjtime"),
    tp("tp_set_enter", "syscalls/sys_enter_clock_settime"),
    tp("tp_set_exit", "syscalls/sys_exit_clock_settime"),
    Spec {
        program: "kp_ptp_adjtime",
        attach: Attach::Kprobe,
        target: "ptp_clock_adjtime",
    },
    Spec {
        program: "fe_ptp_adjtime",
        attach: Attach::Fentry,
        target: "ptp_clock_adjtime",
    },
];

/// Loads the object with a ring of `opts.ring_bytes`, fills the watch list
/// and the line budget and attaches every program. Fails when a required
/// program does not attach.
///
/// # Errors
/// No probes in this build, the object does not load, a map is missing, or
/// a required program fails to load or attach.
pub(crate) fn load(opts: &super::Options) -> Result<(Ebpf, Vec<ProbeStatus>), EbpfError> {
    let (watch, ring_bytes) = (&opts.watch, opts.ring_bytes);
    if !built() {
        return Err(EbpfError::NotBuilt);
    }
    raise_memlock();
    let mut ebpf = EbpfLoader::new()
        .map_max_entries(agent_common::RING_MAP, ring_bytes)
        .load(OBJECT)
        .map_err(EbpfError::Load)?;
    fill_maps(&mut ebpf, watch)?;
    set_budget(&mut ebpf, opts.line_budget, opts.line_burst)?;
    let btf = Btf::from_sys_fs().ok();
    let mut report = Vec::with_capacity(SPECS.len());
    for s in SPECS {
        let r = attach(&mut ebpf, s, btf.as_ref());
        let r = match r {
            Err(source) if s.required() => {
                return Err(EbpfError::Attach {
                    program: s.program,
                    source,
                });
            }
            // `/health` shows why an optional probe is off.
            r => r.map_err(|e| e.to_string()),
        };
        report.push(ProbeStatus {
            program: s.program,
            kind: match s.attach {
                Attach::Tracepoint => "tracepoint",
                Attach::Kprobe => "kprobe",
                Attach::Fentry => "fentry",
            },
            target: s.target,
            required: s.required(),
            attached: r.is_ok(),
            error: r.err(),
        });
    }
    Ok((ebpf, report))
}

/// Why one program did not attach.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("program {0} not in the object")]
    Missing(&'static str),
    #[error("tracepoint {0} is not category/name")]
    Target(&'static str),
    #[error("no kernel BTF (/sys/kernel/btf/vmlinux)")]
    NoBtf,
    #[error("{0}")]
    Type(#[source] aya::programs::ProgramError),
    #[error("load: {0}")]
    Load(#[source] aya::programs::ProgramError),
    #[error("attach: {0}")]
    Attach(#[source] aya::programs::ProgramError),
}

fn attach(ebpf: &mut Ebpf, s: &Spec, btf: Option<&Btf>) -> Result<(), AttachError> {
    use AttachError::{Attach as Attaching, Load, Missing, NoBtf, Target, Type};
    let prog = ebpf.program_mut(s.program).ok_or(Missing(s.program))?;
    match s.attach {
        Attach::Tracepoint => {
            let (cat, name) = s.target.split_once('/').ok_or(Target(s.target))?;
            let p: &mut TracePoint = prog.try_into().map_err(Type)?;
            p.load().map_err(Load)?;
            p.attach(cat, name).map_err(Attaching)?;
        }
        Attach::Kprobe => {
            let p: &mut KProbe = prog.try_into().map_err(Type)?;
            p.load().map_err(Load)?;
            p.attach(s.target, 0).map_err(Attaching)?;
        }
        Attach::Fentry => {
            let btf = btf.ok_or(NoBtf)?;
            let p: &mut FEntry = prog.try_into().map_err(Type)?;
            p.load(s.target, btf).map_err(Load)?;
            p.attach().map_err(Attaching)?;
        }
    }
    Ok(())
}

fn fill_maps(ebpf: &mut Ebpf, watch: &[String]) -> Result<(), EbpfError> {
    let map = |name: &'static str| EbpfError::NoMap { map: name };
    let err = |name: &'static str| move |source| EbpfError::Map { map: name, source };
    {
        let m = ebpf.map_mut(WATCH_MAP).ok_or_else(|| map(WATCH_MAP))?;
        let mut h: aya::maps::HashMap<_, [u8; COMM_LEN], u32> =
            aya::maps::HashMap::try_from(m).map_err(err(WATCH_MAP))?;
        for name in watch {
            h.insert(comm_key(name), 1, 0).map_err(err(WATCH_MAP))?;
        }
    }
    let m = ebpf.map_mut(SELF_MAP).ok_or_else(|| map(SELF_MAP))?;
    let mut a: aya::maps::Array<_, u32> = aya::maps::Array::try_from(m).map_err(err(SELF_MAP))?;
    a.set(0, std::process::id(), 0).map_err(err(SELF_MAP))?;
    Ok(())
}

/// The budget's settings in ns (see `agent-ebpf/src/budget.rs`): one line
/// costs `1e9 / rate` ns of budget, a burst is `burst` lines' worth.
/// `rate` 0: no budget.
#[must_use]
fn budget_ns(rate: u32, burst: u32) -> (u64, u64) {
    if rate == 0 {
        return (0, 0);
    }
    let interval = 1_000_000_000 / u64::from(rate);
    (interval, interval.saturating_mul(u64::from(burst)))
}

fn set_budget(ebpf: &mut Ebpf, rate: u32, burst: u32) -> Result<(), EbpfError> {
    let err = |source| EbpfError::Map {
        map: LIMITS_MAP,
        source,
    };
    let m = ebpf
        .map_mut(LIMITS_MAP)
        .ok_or(EbpfError::NoMap { map: LIMITS_MAP })?;
    let mut a: aya::maps::Array<_, u64> = aya::maps::Array::try_from(m).map_err(err)?;
    let (interval, burst) = budget_ns(rate, burst);
    a.set(LIMIT_INTERVAL, interval, 0).map_err(err)?;
    a.set(LIMIT_BURST, burst, 0).map_err(err)?;
    Ok(())
}

/// A process name as the kernel's `comm`: at most 15 bytes, NUL padded.
#[must_use]
pub(crate) fn comm_key(name: &str) -> [u8; COMM_LEN] {
    let mut k = [0u8; COMM_LEN];
    let b = name.as_bytes();
    let n = b.len().min(COMM_LEN - 1);
    k[..n].copy_from_slice(&b[..n]);
    k
}

/// Older kernels charge BPF maps to RLIMIT_MEMLOCK; newer ones use memcg.
/// Failing here is harmless on the latter (and common without
/// CAP_SYS_RESOURCE), so it is logged at debug level only.
fn raise_memlock() {
    let r = nix::sys::resource::setrlimit(
        nix::sys::resource::Resource::RLIMIT_MEMLOCK,
        nix::sys::resource::RLIM_INFINITY,
        nix::sys::resource::RLIM_INFINITY,
    );
    if let Err(e) = r {
        tracing::debug!(error = %e, "setrlimit(RLIMIT_MEMLOCK) failed; the kernel may account BPF memory through memcg");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn comm_keys() {
        assert_eq!(&super::comm_key("ptp4l")[..6], b"ptp4l\0");
        assert_eq!(super::comm_key("a-very-long-process-name")[15], 0);
    }

    #[test]
    fn budget_in_ns() {
        assert_eq!(super::budget_ns(0, 200), (0, 0));
        assert_eq!(super::budget_ns(1000, 200), (1_000_000, 200_000_000));
        assert_eq!(super::budget_ns(3, 1), (333_333_333, 333_333_333));
    }
}
