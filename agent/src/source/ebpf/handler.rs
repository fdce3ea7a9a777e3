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
                info!(pid, process = info.process(), config = ?info.origin.config, "linuxptp process found");
                status_line(&self.engine, info, true);
            }
        }
    }

    /// Finds linuxptp processes that died without an exit record (lost
    /// when the ring was full) and gives the engine their exit. Called after
    /// every loss and every few seconds.
    pub fn reconcile(&mut self) {
        for (pid, info) in self.procs.take_gone() {
            info!(pid, process = info.process(), config = ?info.origin.config, "linuxptp process gone (its exit record was lost)");
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
                    info!(pid = p.hdr.pid, process = info.process(), config = ?info.origin.config, ifaces = ?info.ifaces, "linuxptp process started");
                    status_line(&self.engine, info, true);
                }
            }
            Decoded::Exit(p) => {
                self.count(Kind::Exit);
                if let Some(info) = self.procs.remove(p.hdr.pid)
                    && info.trusted()
                {
                    info!(pid = p.hdr.pid, process = info.process(), config = ?info.origin.config, "linuxptp process exited");
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
        if flags & LOG_WRITEV != 0 {
            if info.pending.len() + data.len() <= LOG_MAX * WRITEV_MAX as usize {
                info.pending.extend_from_slice(data);
            }
            if flags & LOG_LAST == 0 {
                return;
            }
            let buf = std::mem::take(&mut info.pending);
            let ingest = |line: &[u8]| {
                h.lines.inc();
                engine.ingest_line(&info.origin, line);
            };
            if for_each_line(&buf, truncated, ingest) {
                h.truncated.inc();
            }
            info.pending = buf;
            info.pending.clear();
            return;
        }
        let ingest = |line: &[u8]| {
            h.lines.inc();
            engine.ingest_line(&info.origin, line);
        };
        if for_each_line(data, truncated, ingest) {
            h.truncated.inc();
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
mod tests {
    use std::sync::Arc;

    use agent_common::{ClockAdjtime, Header, Kind, LOG_MAX, LogLine, ProcEvent};

    use super::Handler;
    use crate::engine::tests::Recorder;
    use crate::engine::{Engine, EngineHandle, Sink, Thresholds};
    use crate::metrics::Metrics;

    fn handler() -> (Handler, Arc<Metrics>, Arc<Recorder>) {
        let metrics = Arc::new(Metrics::new().unwrap());
        let rec = Arc::new(Recorder::default());
        let engine = EngineHandle::new(
            Engine::new("n1".into(), Thresholds::default(), metrics.ptp.clone()),
            rec.clone() as Arc<dyn Sink>,
        );
        (Handler::new(engine, metrics.clone()), metrics, rec)
    }

    fn bytes<T: Copy>(v: &T) -> Vec<u8> {
        // SAFETY: test helper over #[repr(C)] records without padding.
        unsafe {
            std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>())
        }
        .to_vec()
    }

    fn log(pid: u32, text: &[u8]) -> Vec<u8> {
        let mut l = LogLine {
            hdr: Header {
                kind: Kind::LogLine as u32,
                pid,
                tid: pid,
                len: u32::try_from(text.len()).unwrap(),
                ktime_ns: 1,
            },
            fd: 1,
            flags: 0,
            total: text.len() as u64,
            data: [0; LOG_MAX],
        };
        l.data[..text.len()].copy_from_slice(text);
        bytes(&l)
    }

    fn dropped(m: &Metrics, reason: &str) -> u64 {
        m.ebpf.dropped.with_label_values(&[reason]).get()
    }

    #[test]
    fn bad_records_are_counted_never_a_panic() {
        let (mut h, m, rec) = handler();
        // Truncated anywhere, unknown kinds, a lying length.
        let good = log(
            std::process::id(),
            b"ptp4l[1.0]: master offset 1 s2 freq 0 path delay 1\n",
        );
        for cut in [0, 3, 23, 30, 41, 60] {
            h.record(&good[..cut]);
        }
        h.record(&[0xff; 64]);
        let mut lying = good.clone();
        lying[12..16].copy_from_slice(&9999u32.to_ne_bytes());
        h.record(&lying);
        assert_eq!(dropped(&m, "decode_error"), 8);
        assert!(rec.take().is_empty());
    }

    /// A process whose `comm` is `ptp4l` (exec'd through a symlink of that
    /// name to `sleep`), trusted by name alone.
    fn fake_ptp4l(dir: &std::path::Path) -> std::process::Child {
        let link = dir.join("ptp4l");
        std::os::unix::fs::symlink("/bin/sleep", &link).unwrap();
        std::process::Command::new(&link).arg("30").spawn().unwrap()
    }

    fn lock_states(rec: &Recorder) -> Vec<String> {
        rec.states()
            .into_iter()
            .filter(|(k, _)| *k == crate::event::EventKind::LockState)
            .map(|(_, s)| s)
            .collect()
    }

    #[test]
    fn a_step_or_the_exit_of_a_locked_ptp4l_is_freerun() {
        let dir = tempfile::tempdir().unwrap();
        let (mut h, m, rec) = handler();
        h.trust_any(true);
        let mut child = fake_ptp4l(dir.path());
        let pid = child.id();
        let locked = b"ptp4l[1.0]: master offset 5 s2 freq -1 path delay 10\n";
        h.record(&log(pid, locked));
        assert_eq!(lock_states(&rec), ["LOCKED"]);
        // A successful step (ADJ_SETOFFSET) of its clock.
        let step = ClockAdjtime {
            hdr: Header {
                kind: Kind::ClockAdjtime as u32,
                pid,
                tid: pid,
                ..Header::default()
            },
            modes: agent_common::ADJ_SETOFFSET | agent_common::ADJ_NANO,
            time_usec: 500,
            ..ClockAdjtime::default()
        };
        h.record(&bytes(&step));
        assert_eq!(lock_states(&rec), ["FREERUN"]);
        assert_eq!(
            m.ebpf
                .steps
                .with_label_values(&["ptp4l", "CLOCK_REALTIME"])
                .get(),
            1
        );
        h.record(&log(pid, locked));
        assert_eq!(lock_states(&rec), ["LOCKED"]);
        // Its exit.
        let exit = ProcEvent {
            hdr: Header {
                kind: Kind::Exit as u32,
                pid,
                tid: pid,
                ..Header::default()
            },
            ..ProcEvent::default()
        };
        h.record(&bytes(&exit));
        assert_eq!(lock_states(&rec), ["FREERUN"]);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_process_gone_without_exit_record_is_reconciled() {
        let (mut h, _m, _rec) = handler();
        h.trust_any(true);
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pid = child.id();
        h.record(&log(pid, b"sleep[1.0]: a line\n"));
        assert_eq!(h.known(), 1);
        h.reconcile();
        assert_eq!(h.known(), 1, "still running");
        child.kill().unwrap();
        child.wait().unwrap();
        h.reconcile();
        assert_eq!(h.known(), 0);
    }

    #[test]
    fn untrusted_and_vanished_writers_change_nothing() {
        let (mut h, m, rec) = handler();
        let line = b"ptp4l[1.0]: master offset 1 s2 freq 0 path delay 1\n";
        // This test binary (not linuxptp), and a pid that does not exist.
        h.record(&log(std::process::id(), line));
        h.record(&log(u32::MAX - 1, line));
        let adj = ClockAdjtime {
            hdr: Header {
                kind: Kind::ClockAdjtime as u32,
                pid: std::process::id(),
                ..Header::default()
            },
            modes: agent_common::ADJ_SETOFFSET,
            ..ClockAdjtime::default()
        };
        h.record(&bytes(&adj));
        assert_eq!(dropped(&m, "untrusted"), 3);
        assert_eq!(m.ebpf.lines.get(), 0);
        // The exit of a process never seen is nothing.
        let exit = ProcEvent {
            hdr: Header {
                kind: Kind::Exit as u32,
                pid: 4_000_000,
                ..Header::default()
            },
            ..ProcEvent::default()
        };
        h.record(&bytes(&exit));
        assert!(rec.take().is_empty());
        assert_eq!(m.ebpf.records.with_label_values(&["log_line"]).get(), 2);
    }
}
