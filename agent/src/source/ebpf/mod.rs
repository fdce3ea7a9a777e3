//! The eBPF source: kernel probes on unmodified ptp4l, phc2sys and ts2phc.
//!
//! `loader` loads and attaches the probes, the ring buffer is read here
//! through tokio's `AsyncFd` (drained fully before `clear_ready`, records
//! decoded in place), `handler` turns records into engine input, `procs`
//! maps pids to instances and decides which processes are trusted.

// The loader's one unsafe call registers the ring buffer's fd with tokio.
#![allow(unsafe_code)]

mod handler;
mod lines;
pub(crate) mod loader;
pub(crate) mod procs;
pub(crate) mod tracefs;

use std::sync::Arc;
use std::time::Duration;

use std::collections::HashMap;

use agent_common::{
    BUDGET_MAP, BUDGET_OVER, BUDGET_RING_FULL, Budget, KIND_SLOTS, Kind, LOST_MAP, RING_MAP,
};
use aya::Ebpf;
use aya::maps::{MapData, PerCpuArray, RingBuf};
use tokio::io::unix::AsyncFd;
use tracing::{info, warn};

pub(crate) use handler::Handler;

use crate::engine::EngineHandle;
use crate::metrics::Metrics;
use crate::source::ProbeStatus;

/// Why the eBPF source cannot run here.
#[derive(Debug, thiserror::Error)]
pub enum EbpfError {
    #[error("this build carries no probes (built with AYA_BUILD_SKIP or without bpf-linker)")]
    NotBuilt,
    #[error("tracefs is not mounted and mounting it failed: {0}")]
    Tracefs(#[source] nix::Error),
    #[error("loading the probes failed: {0}")]
    Load(#[source] aya::EbpfError),
    #[error("map {map} is not in the object")]
    NoMap { map: &'static str },
    #[error("map {map}: {source}")]
    Map {
        map: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("required probe {program} did not attach: {source}")]
    Attach {
        program: &'static str,
        #[source]
        source: loader::AttachError,
    },
    #[error("reading the ring buffer: {0}")]
    Io(#[from] std::io::Error),
}

/// What the probes are told.
#[derive(Clone, Debug)]
pub struct Options {
    /// Process names to watch (at most 15 bytes each, as `comm`).
    pub watch: Vec<String>,
    /// Ring buffer bytes: a power-of-two multiple of the page size.
    pub ring_bytes: u32,
    /// Log lines per second each process may send (0: no budget).
    pub line_budget: u32,
    /// Lines a process may send at once above that rate.
    pub line_burst: u32,
    /// Trust watched processes by name alone (benches and tests only).
    pub trust_any: bool,
    /// Pid namespaces (inode numbers) whose processes change nothing.
    pub ignore_pidns: Vec<u64>,
}

/// Loaded and attached probes; their ring buffer and loss counters.
pub struct Probes {
    /// Keeps the programs attached (they detach on drop).
    _ebpf: Ebpf,
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
    /// Per-kind losses already reported.
    lost_seen: [u64; KIND_SLOTS as usize],
    /// Per-process line budgets and their drop counters.
    budget: aya::maps::HashMap<MapData, u32, Budget>,
    /// Per process, the drops (over budget, ring full) already reported.
    budget_seen: HashMap<u32, [u64; 2]>,
    pub report: Vec<ProbeStatus>,
}

impl Probes {
    /// Mounts tracefs when missing, loads the probes and attaches them.
    ///
    /// # Errors
    /// See [`EbpfError`]: the caller falls back to the socket source.
    pub fn load(opts: &Options) -> Result<Self, EbpfError> {
        if !loader::built() {
            return Err(EbpfError::NotBuilt);
        }
        if tracefs::ensure_mounted().map_err(EbpfError::Tracefs)? {
            info!("mounted tracefs on /sys/kernel/tracing");
        }
        let (mut ebpf, report) = loader::load(opts)?;
        let missing = |map: &'static str| EbpfError::NoMap { map };
        let ring = ebpf.take_map(RING_MAP).ok_or_else(|| missing(RING_MAP))?;
        let ring = RingBuf::try_from(ring).map_err(|source| EbpfError::Map {
            map: RING_MAP,
            source,
        })?;
        let lost = ebpf.take_map(LOST_MAP).ok_or_else(|| missing(LOST_MAP))?;
        let lost = PerCpuArray::try_from(lost).map_err(|source| EbpfError::Map {
            map: LOST_MAP,
            source,
        })?;
        let budget = ebpf
            .take_map(BUDGET_MAP)
            .ok_or_else(|| missing(BUDGET_MAP))?;
        let budget = aya::maps::HashMap::try_from(budget).map_err(|source| EbpfError::Map {
            map: BUDGET_MAP,
            source,
        })?;
        Ok(Self {
            _ebpf: ebpf,
            ring,
            lost,
            lost_seen: [0; KIND_SLOTS as usize],
            budget,
            budget_seen: HashMap::new(),
            report,
        })
    }

    /// Records lost in the kernel since the last call, by kind id.
    pub fn take_lost(&mut self) -> [u64; KIND_SLOTS as usize] {
        let mut out = [0; KIND_SLOTS as usize];
        for k in 0..KIND_SLOTS {
            let Ok(v) = self.lost.get(&k, 0) else {
                continue;
            };
            let total: u64 = v.iter().sum();
            let i = k as usize;
            out[i] = total.saturating_sub(self.lost_seen[i]);
            self.lost_seen[i] = total;
        }
        out
    }

    /// Log records each process had dropped in the kernel since the last
    /// call: `(pid, over budget, ring full)`, only processes with drops.
    pub fn take_dropped(&mut self) -> Vec<Dropped> {
        let mut out = Vec::new();
        let mut seen = HashMap::with_capacity(self.budget_seen.len());
        for (pid, b) in self.budget.iter().filter_map(Result::ok) {
            let now = [b[BUDGET_OVER], b[BUDGET_RING_FULL]];
            // A process first seen now: everything it has is new.
            let before = self.budget_seen.get(&pid).copied().unwrap_or_default();
            let over = now[0].saturating_sub(before[0]);
            let ring_full = now[1].saturating_sub(before[1]);
            if over > 0 || ring_full > 0 {
                out.push(Dropped {
                    pid,
                    over,
                    ring_full,
                });
            }
            seen.insert(pid, now);
        }
        // Forgotten processes (LRU) leave with their counts.
        self.budget_seen = seen;
        out
    }

    /// Calls `f` with every record now in the ring (no waiting).
    pub fn drain(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        let mut n = 0;
        while let Some(item) = self.ring.next() {
            f(&item);
            n += 1;
        }
        n
    }

    /// Reads records until the task is dropped: each wake-up drains the ring
    /// into `handler`; losses are polled every 500 ms.
    ///
    /// # Errors
    /// The ring buffer's fd cannot be polled.
    pub async fn run(
        self,
        mut handler: Handler,
        mut order: tokio::sync::mpsc::Receiver<crate::engine::Deferred>,
        metrics: Arc<Metrics>,
    ) -> Result<(), EbpfError> {
        // SAFETY: the fd is the ring buffer map's, owned by `self.ring`,
        // which lives inside the AsyncFd and is never replaced: it stays open
        // and `as_raw_fd` returns the same fd until the AsyncFd is dropped.
        let mut fd =
            unsafe { AsyncFd::register_with_interest(self, tokio::io::Interest::READABLE) }
                .map_err(|e| EbpfError::Io(std::io::Error::from(e)))?;
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut ticks = 0u32;
        loop {
            tokio::select! {
                guard = fd.readable_mut() => {
                    let mut guard = guard?;
                    guard.get_inner_mut().drain(|rec| handler.record(rec));
                    guard.clear_ready();
                    // A record committed between the drain and clear_ready
                    // woke us before the readiness was cleared: read it now,
                    // or it would wait for the next record.
                    guard.get_inner_mut().drain(|rec| handler.record(rec));
                }
                Some((origin, at, what)) = order.recv() => {
                    // Lines written before this fact first.
                    fd.get_mut().drain(|rec| handler.record(rec));
                    handler.apply(&origin, at, what);
                }
                _ = tick.tick() => {
                    let probes = fd.get_mut();
                    probes.drain(|rec| handler.record(rec));
                    let lost = probes.take_lost();
                    ticks = ticks.wrapping_add(1);
                    // A lost record may be an exit: look at /proc at once,
                    // else every 5 s.
                    let lost_any = report_lost(&lost, &metrics);
                    if lost_any {
                        handler.records_lost();
                    }
                    let dropped = probes.take_dropped();
                    handler.lines_dropped(&dropped);
                    if lost_any || ticks.is_multiple_of(10) {
                        handler.reconcile();
                    }
                }
            }
        }
    }
}

impl std::os::fd::AsRawFd for Probes {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.ring.as_raw_fd()
    }
}

/// Log records of one process dropped in the kernel since the last look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dropped {
    pub pid: u32,
    /// Over the process's line budget.
    pub over: u64,
    /// The ring was full (or three quarters full: the rest is kept for
    /// exits and clock records).
    pub ring_full: u64,
}

/// Losses go to the metric and, once per poll, to the log; returns whether
/// there were any (the caller then reconciles processes with /proc, since
/// an exit record may be among them).
fn report_lost(lost: &[u64], metrics: &Metrics) -> bool {
    let total: u64 = lost.iter().sum();
    if total == 0 {
        return false;
    }
    for (k, &n) in lost.iter().enumerate() {
        if n > 0 {
            let name = u32::try_from(k)
                .ok()
                .and_then(Kind::from_u32)
                .map_or("unknown", Kind::name);
            metrics.ebpf.lost.with_label_values(&[name]).inc_by(n);
        }
    }
    warn!(lost = total, "ring buffer full: records lost in the kernel");
    true
}

/// Runs the eBPF source on an already loaded set of probes.
pub(crate) async fn run(
    probes: Probes,
    opts: &Options,
    engine: EngineHandle,
    daemons: crate::source::pmc::Daemons,
    metrics: Arc<Metrics>,
) -> Result<(), EbpfError> {
    let order = engine.order_after_lines();
    let mut handler = Handler::new(engine, metrics.clone());
    handler.trust_any(opts.trust_any);
    handler.ignore_pid_namespaces(opts.ignore_pidns.clone());
    daemons.keep();
    handler.follow(daemons);
    // Probes are attached: processes started from now on are seen by exec;
    // the ones already running are read from /proc.
    handler.adopt_running(&procs::scan(&opts.watch));
    probes.run(handler, order, metrics).await
}
