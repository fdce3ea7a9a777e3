//! One decoded record at a time, handed to the engine as typed facts
//! tagged with the process and the kernel's timestamp: log lines (a line
//! split over two writes stitched first), clock steps, and the start and
//! exit of a linuxptp process (at once). Clock calls also go to metrics.
//! Synchronous, so it is tested without a kernel.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_common::{
    ADJ_FREQUENCY, ADJ_NANO, ADJ_SETOFFSET, ClockAdjtime, ClockSettime, Decoded, KIND_SLOTS, Kind,
    LOG_LAST, LOG_MAX, LOG_SYSLOG, LOG_TRUNCATED, LOG_WRITEV, PhcAdjtime, WRITEV_MAX, comm_str,
    decode,
};
use prometheus::IntCounter;
use tracing::{debug, info, trace, warn};

use super::Dropped;
use super::lines::{stitch, syslog_to_stdout};
use super::procs::{ProcInfo, ProcTable};
use crate::engine::{Daemon, EngineHandle, Origin, What};
use crate::metrics::Metrics;
use crate::source::pmc::Daemons;

/// Metric handles resolved once.
struct Handles {
    records: Vec<IntCounter>,
    decode_error: IntCounter,
    untrusted: IntCounter,
    truncated: IntCounter,
    syslog_dup: IntCounter,
    lines: IntCounter,
}

/// Turns records into engine input and metrics.
pub struct Handler {
    procs: ProcTable,
    /// Live ptp4l and their management sockets, for the clients.
    daemons: Daemons,
    engine: EngineHandle,
    metrics: Arc<Metrics>,
    h: Handles,
    /// Reused for rewritten syslog lines.
    scratch: Vec<u8>,
    /// Kernel drops not yet logged, per pid: (over budget, ring full).
    unwarned: HashMap<u32, (u64, u64)>,
    /// When drops may be logged again.
    next_warn: Instant,
}

/// Drops of one process are logged (and its clocks marked) at most this
/// often.
const WARN_EVERY: Duration = Duration::from_secs(5);

impl Handler {
    #[must_use]
    pub fn new(engine: EngineHandle, metrics: Arc<Metrics>) -> Self {
        let e = &metrics.ebpf;
        let h = Handles {
            records: (0..KIND_SLOTS)
                .map(|k| {
                    let name = Kind::from_u32(k).map_or("unknown", Kind::name);
                    e.records.with_label_values(&[name])
                })
                .collect(),
            decode_error: e.dropped.with_label_values(&["decode_error"]),
            untrusted: e.dropped.with_label_values(&["untrusted"]),
            truncated: e.dropped.with_label_values(&["truncated"]),
            syslog_dup: e.dropped.with_label_values(&["syslog_duplicate"]),
            lines: e.lines.clone(),
        };
        Self {
            procs: ProcTable::default(),
            daemons: Daemons::default(),
            engine,
            metrics,
            h,
            scratch: Vec::with_capacity(LOG_MAX + 64),
            unwarned: HashMap::new(),
            next_warn: Instant::now(),
        }
    }

    /// Trusts watched processes by name alone (benches and tests only).
    pub fn trust_any(&mut self, yes: bool) {
        self.procs.trust_any = yes;
    }

    /// Keeps `d` up to date with the live ptp4l processes.
    pub fn follow(&mut self, d: Daemons) {
        self.daemons = d;
    }

    /// A fact of another source, in order after the lines read so far.
    pub fn apply(&self, origin: &Origin, at: Instant, what: What<'_>) {
        self.engine.apply(origin, at, what);
    }

    /// Processes in these pid namespaces change nothing.
    pub fn ignore_pid_namespaces(&mut self, ns: Vec<u64>) {
        self.procs.ignore_ns = ns;
    }

    /// Learns processes that ran before the probes: their exit must be seen
    /// as the exit of a linuxptp daemon, and they are up.
    pub fn adopt_running(&mut self, pids: &[u32]) {
        for &pid in pids {
            let info = self.procs.refresh(pid);
            if info.trusted() {
                info!(
                    pid,
                    process = info.process(),
                    config = %info.origin.config.as_deref().unwrap_or("none"),
                    "linuxptp process found"
                );
                started(&self.engine, &self.metrics, info, Instant::now());
                if let Some(uds) = &info.uds {
                    self.daemons.up(&info.origin, uds.clone());
                }
            }
        }
    }

    /// Records were lost in the kernel: the engine's state may be stale.
    pub fn records_lost(&self) {
        self.engine.with(|e, _| e.records_lost());
    }

    /// Log records the probes dropped, per process: counted by process and
    /// reason and that daemon's clocks marked so their next readings are
    /// published again (`Engine::evidence_lost`), both at once; logged at
    /// most every [`WARN_EVERY`].
    pub fn lines_dropped(&mut self, dropped: &[Dropped]) {
        for d in dropped {
            let info = self.procs.get(d.pid);
            let process = if info.trusted() {
                let origin = info.origin.clone();
                self.engine.with(|e, _| e.evidence_lost(&origin));
                info.process()
            } else {
                "untrusted"
            };
            let m = &self.metrics.ebpf.lines_dropped;
            for (n, reason) in [(d.over, "over_budget"), (d.ring_full, "ring_full")] {
                if n > 0 {
                    m.with_label_values(&[process, reason]).inc_by(n);
                }
            }
            let p = self.unwarned.entry(d.pid).or_default();
            p.0 += d.over;
            p.1 += d.ring_full;
        }
        let now = Instant::now();
        if self.unwarned.is_empty() || now < self.next_warn {
            return;
        }
        self.next_warn = now + WARN_EVERY;
        for (pid, (over, ring_full)) in std::mem::take(&mut self.unwarned) {
            let info = self.procs.get(pid);
            if !info.trusted() {
                continue;
            }
            warn!(
                pid,
                process = info.process(),
                config = %info.origin.config.as_deref().unwrap_or("none"),
                over_budget = over,
                ring_full,
                "log lines of a linuxptp process dropped in the kernel; its next readings are published again"
            );
        }
    }

    /// Finds linuxptp processes that died without an exit record (lost
    /// when the ring was full) and gives the engine their exit. Called after
    /// every loss and every few seconds.
    pub fn reconcile(&mut self) {
        for (pid, info) in self.procs.take_gone() {
            info!(
                pid,
                process = info.process(),
                config = %info.origin.config.as_deref().unwrap_or("none"),
                "linuxptp process gone (its exit record was lost)"
            );
            self.daemons.down(&info.origin);
            self.engine
                .apply(&info.origin, Instant::now(), What::Exited);
        }
    }

    /// One ring-buffer record. Never panics: what cannot be used is counted.
    pub fn record(&mut self, buf: &[u8]) {
        let rec = match decode(buf) {
            Ok(r) => r,
            Err(e) => {
                self.h.decode_error.inc();
                trace!(error = %e, "undecodable record");
                return;
            }
        };
        match rec {
            Decoded::Log {
                hdr,
                fd,
                flags,
                total,
                data,
            } => {
                self.count(Kind::LogLine);
                trace!(
                    pid = hdr.pid,
                    fd,
                    flags,
                    total,
                    len = data.len(),
                    "log record"
                );
                self.log(hdr.pid, flags, data, instant_of(hdr.ktime_ns));
            }
            Decoded::ClockAdjtime(r) => {
                self.count(Kind::ClockAdjtime);
                self.adjtime(&r);
            }
            Decoded::ClockSettime(r) => {
                self.count(Kind::ClockSettime);
                self.settime(&r);
            }
            Decoded::Exec(p) => {
                self.count(Kind::Exec);
                let info = self.procs.refresh(p.hdr.pid);
                debug!(pid = p.hdr.pid, comm = %String::from_utf8_lossy(comm_str(&p.comm)), trusted = info.trusted(), "exec");
                if info.trusted() {
                    info!(
                        pid = p.hdr.pid,
                        process = info.process(),
                        config = %info.origin.config.as_deref().unwrap_or("none"),
                        ifaces = %info.ifaces.join(","),
                        uds = %info.uds.as_ref().map_or("none".into(), |u| u.display().to_string()),
                        "linuxptp process started"
                    );
                    started(
                        &self.engine,
                        &self.metrics,
                        info,
                        instant_of(p.hdr.ktime_ns),
                    );
                    if let Some(uds) = &info.uds {
                        self.daemons.up(&info.origin, uds.clone());
                    }
                }
            }
            Decoded::Exit(p) => {
                self.count(Kind::Exit);
                if let Some(info) = self.procs.remove(p.hdr.pid)
                    && info.trusted()
                {
                    info!(
                        pid = p.hdr.pid,
                        process = info.process(),
                        config = %info.origin.config.as_deref().unwrap_or("none"),
                        "linuxptp process exited"
                    );
                    self.daemons.down(&info.origin);
                    self.engine
                        .apply(&info.origin, instant_of(p.hdr.ktime_ns), What::Exited);
                }
            }
            Decoded::PhcAdjtime(r) => {
                self.count(Kind::PhcAdjtime);
                self.phc(&r);
            }
        }
    }

    fn count(&self, k: Kind) {
        if let Some(c) = self.h.records.get(k as usize) {
            c.inc();
        }
    }

    fn log(&mut self, pid: u32, flags: u32, data: &[u8], at: Instant) {
        let Self {
            procs,
            engine,
            h,
            scratch,
            ..
        } = self;
        let info = procs.get(pid);
        if !info.trusted() {
            h.untrusted.inc();
            return;
        }
        let truncated = flags & LOG_TRUNCATED != 0;
        if flags & LOG_SYSLOG != 0 {
            if info.saw_stdio {
                h.syslog_dup.inc();
            } else if syslog_to_stdout(data, scratch).is_some() {
                h.lines.inc();
                engine.apply(&info.origin, at, What::Line(scratch));
            }
            return;
        }
        info.saw_stdio = true;
        let writev = flags & LOG_WRITEV != 0;
        let data = if writev {
            if info.pending.len() + data.len() <= LOG_MAX * WRITEV_MAX as usize {
                info.pending.extend_from_slice(data);
            }
            if flags & LOG_LAST == 0 {
                return;
            }
            &info.pending[..]
        } else {
            data
        };
        let origin = &info.origin;
        let cut = stitch(&mut info.partial, data, truncated, LOG_MAX, |line| {
            h.lines.inc();
            engine.apply(origin, at, What::Line(line));
        });
        if cut {
            h.truncated.inc();
        }
        if writev {
            info.pending.clear();
        }
    }

    fn adjtime(&mut self, r: &ClockAdjtime) {
        let pid = r.hdr.pid;
        trace!(
            pid,
            clock_id = r.clock_id,
            modes = r.modes,
            freq = r.freq,
            offset = r.offset,
            ret = r.ret,
            "clock_adjtime"
        );
        let info = self.procs.get(pid);
        if !info.trusted() {
            self.h.untrusted.inc();
            return;
        }
        let clock = info.clock_name(pid, r.clock_id);
        let process = info.process();
        let m = &self.metrics.ebpf;
        let result = if r.ret >= 0 { "ok" } else { "error" };
        m.adjtime
            .with_label_values(&[process, &clock, result])
            .inc();
        if r.ret < 0 {
            return;
        }
        if r.modes & ADJ_FREQUENCY != 0 {
            // timex.freq is scaled ppm: ppm << 16.
            #[allow(clippy::cast_precision_loss, reason = "a frequency in ppb fits f64")]
            let ppb = r.freq as f64 * 1000.0 / 65536.0;
            m.frequency_ppb
                .with_label_values(&[process, &clock])
                .set(ppb);
        }
        if r.modes & ADJ_SETOFFSET != 0 {
            let unit = if r.modes & ADJ_NANO != 0 { 1 } else { 1000 };
            let step_ns = r
                .time_sec
                .saturating_mul(1_000_000_000)
                .saturating_add(r.time_usec.saturating_mul(unit));
            m.steps.with_label_values(&[process, &clock]).inc();
            step(&self.engine, info, &clock, step_ns, r.hdr.ktime_ns);
        }
    }

    fn settime(&mut self, r: &ClockSettime) {
        let pid = r.hdr.pid;
        trace!(
            pid,
            clock_id = r.clock_id,
            sec = r.tv_sec,
            ret = r.ret,
            "clock_settime"
        );
        let info = self.procs.get(pid);
        if !info.trusted() {
            self.h.untrusted.inc();
            return;
        }
        if r.ret < 0 {
            return;
        }
        let clock = info.clock_name(pid, r.clock_id);
        self.metrics
            .ebpf
            .steps
            .with_label_values(&[info.process(), &clock])
            .inc();
        step(&self.engine, info, &clock, 0, r.hdr.ktime_ns);
    }

    fn phc(&mut self, r: &PhcAdjtime) {
        trace!(
            pid = r.hdr.pid,
            clock_id = r.clock_id,
            modes = r.modes,
            freq = r.freq,
            via = r.via,
            "ptp_clock_adjtime"
        );
        if !self.procs.get(r.hdr.pid).trusted() {
            self.h.untrusted.inc();
        }
    }

    /// Processes known (for tests and health).
    #[must_use]
    pub fn known(&self) -> usize {
        self.procs.len()
    }
}

/// A linuxptp process came up: its instance learns its interfaces (values
/// are then addressed by interface, as the anchor does), tag and profile.
fn started(engine: &EngineHandle, metrics: &Metrics, info: &ProcInfo, at: Instant) {
    if let Some(e) = &info.config_error {
        // Once per process: the pid is read once.
        tracing::warn!(pid = info.origin.pid.unwrap_or(0), error = %e, "linuxptp config not readable; interfaces and profile unknown");
        metrics
            .ptp
            .config_errors
            .with_label_values(&["process_config"])
            .inc();
    }
    let d = Daemon {
        ifaces: &info.ifaces,
        profile: info.profile.as_deref(),
        tag: info.tag.as_deref(),
    };
    engine.apply(&info.origin, at, What::Started(d));
}

/// A clock step by a linuxptp daemon: FREERUN at once, even when the
/// daemon's output is not seen.
fn step(engine: &EngineHandle, info: &ProcInfo, clock: &str, step_ns: i64, ktime_ns: u64) {
    debug!(process = info.process(), clock, step_ns, "clock step");
    let what = What::Step {
        realtime: clock == "CLOCK_REALTIME",
        ns: step_ns,
    };
    engine.apply(&info.origin, instant_of(ktime_ns), what);
}

/// The `Instant` of a kernel timestamp (`bpf_ktime_get_ns`, CLOCK_MONOTONIC).
fn instant_of(ktime_ns: u64) -> Instant {
    let now = Instant::now();
    let Ok(ts) = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) else {
        return now;
    };
    let mono_ns = u64::try_from(ts.tv_sec())
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(ts.tv_nsec()).unwrap_or(0));
    now.checked_sub(Duration::from_nanos(mono_ns.saturating_sub(ktime_ns)))
        .unwrap_or(now)
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
