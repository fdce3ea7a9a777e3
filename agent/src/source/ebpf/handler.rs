//! One decoded record at a time: log lines to the engine, clock calls to
//! metrics (and a step to the engine), exit of a linuxptp process to the
//! engine at once. Synchronous, so it is tested without a kernel.

use std::sync::Arc;

use agent_common::{
    ADJ_FREQUENCY, ADJ_NANO, ADJ_SETOFFSET, ClockAdjtime, ClockSettime, Decoded, KIND_SLOTS, Kind,
    LOG_LAST, LOG_MAX, LOG_SYSLOG, LOG_TRUNCATED, LOG_WRITEV, PhcAdjtime, WRITEV_MAX, comm_str,
    decode,
};
use prometheus::IntCounter;
use tracing::{debug, info, trace};

use super::lines::{for_each_line, syslog_to_stdout};
use super::procs::{ProcInfo, ProcTable};
use crate::engine::EngineHandle;
use crate::metrics::Metrics;

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
    engine: EngineHandle,
    metrics: Arc<Metrics>,
    h: Handles,
    /// Reused for rewritten syslog lines.
    scratch: Vec<u8>,
}

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
            engine,
            metrics,
            h,
            scratch: Vec::with_capacity(LOG_MAX + 64),
        }
    }

    /// Trusts watched processes by name alone (benches and tests only).
    pub fn trust_any(&mut self, yes: bool) {
        self.procs.trust_any = yes;
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
                status_line(&self.engine, info, true);
            }
        }
    }

    /// Records were lost in the kernel: the engine's state may be stale.
    pub fn records_lost(&self) {
        self.engine.with(|e, _| e.records_lost());
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
            status_line(&self.engine, &info, false);
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
                self.log(hdr.pid, flags, data);
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
                        "linuxptp process started"
                    );
                    status_line(&self.engine, info, true);
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
                    status_line(&self.engine, &info, false);
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

    fn log(&mut self, pid: u32, flags: u32, data: &[u8]) {
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
                engine.ingest_line(&info.origin, scratch);
            }
            return;
        }
        info.saw_stdio = true;
        let data = if flags & LOG_WRITEV != 0 {
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
        if for_each_line(data, truncated, |line| {
            h.lines.inc();
            engine.ingest_line(origin, line);
        }) {
            h.truncated.inc();
        }
        if flags & LOG_WRITEV != 0 {
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

/// `PTP_PROCESS_STATUS:N` as the linuxptp-daemon writes it, with the
/// process's origin: a dead ptp4l frees its clocks at once. A ptp4l that
/// comes up also names its instance's interface (its first `-i` or config
/// section), so values are addressed by interface as the anchor does.
fn status_line(engine: &EngineHandle, info: &ProcInfo, up: bool) {
    if up
        && info.process() == "ptp4l"
        && let Some(iface) = info.ifaces.first()
    {
        let instance = info.origin.config.as_deref().unwrap_or("ptp4l");
        engine.with(|e, _| e.set_interface(instance, iface));
    }
    let line = format!(
        "{}[{}]: PTP_PROCESS_STATUS:{}",
        info.process(),
        unix_secs(),
        u8::from(up)
    );
    engine.ingest_line(&info.origin, line.as_bytes());
}

/// A clock step by a linuxptp daemon: fed to the engine as the servo line
/// the daemon prints when it steps (`s1`), so a step on a locked clock is
/// FREERUN even when the daemon's output is not seen.
fn step(engine: &EngineHandle, info: &ProcInfo, clock: &str, step_ns: i64, ktime_ns: u64) {
    debug!(process = info.process(), clock, step_ns, "clock step");
    let ts = format!(
        "{}.{:03}",
        ktime_ns / 1_000_000_000,
        (ktime_ns / 1_000_000) % 1000
    );
    let line = match info.process() {
        "ptp4l" => format!("ptp4l[{ts}]: master offset {step_ns} s1 freq 0 path delay 0"),
        "phc2sys" if clock == "CLOCK_REALTIME" => {
            format!("phc2sys[{ts}]: CLOCK_REALTIME phc offset {step_ns} s1 freq 0 delay 0")
        }
        _ => return,
    };
    engine.ingest_line(&info.origin, line.as_bytes());
}

fn unix_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
#[path = "handler_tests.rs"]
mod tests;
