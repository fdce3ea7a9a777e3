//! The handler fed hand-made records in-process: bad input is counted,
//! untrusted writers change nothing, steps and exits reach the engine.

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
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
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

/// A ptp4l (by name) whose config does not parse: counted and logged once,
/// the process is still followed; a line it writes in two pieces is one.
#[test]
fn an_unparsable_config_is_counted_and_a_split_line_is_stitched() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, m, rec) = handler();
    h.trust_any(true);
    let cfg = dir.path().join("bad.cfg");
    std::fs::write(&cfg, "[global]\n[ens1f0\n").unwrap();
    let link = dir.path().join("ptp4l");
    std::os::unix::fs::symlink("/bin/sh", &link).unwrap();
    let mut child = std::process::Command::new(&link)
        .args(["-c", "sleep 30", "-f"])
        .arg(&cfg)
        .spawn()
        .unwrap();
    let pid = child.id();
    // Until sh has set up its argv, /proc shows the old command line.
    std::thread::sleep(std::time::Duration::from_millis(100));
    let exec = ProcEvent {
        hdr: Header {
            kind: Kind::Exec as u32,
            pid,
            tid: pid,
            ..Header::default()
        },
        ..ProcEvent::default()
    };
    h.record(&bytes(&exec));
    let errors = || {
        m.ptp
            .config_errors
            .with_label_values(&["process_config"])
            .get()
    };
    assert_eq!(errors(), 1);
    h.record(&log(pid, b"ptp4l[1.0]: master offset 5 s2"));
    assert!(lock_states(&rec).is_empty());
    h.record(&log(pid, b" freq -1 path delay 10\n"));
    assert_eq!(lock_states(&rec), ["LOCKED"]);
    assert_eq!(errors(), 1);
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Log lines the kernel dropped for a ptp4l (over its budget, ring full):
/// counted by process and reason, and its next reading is published again
/// even though unchanged (its state may have changed unseen).
#[test]
fn kernel_drops_are_counted_per_process_and_republish_its_state() {
    let dir = tempfile::tempdir().unwrap();
    let (mut h, m, rec) = handler();
    h.trust_any(true);
    let mut child = fake_ptp4l(dir.path());
    let pid = child.id();
    let locked = b"ptp4l[1.0]: master offset 5 s2 freq -1 path delay 10\n";
    h.record(&log(pid, locked));
    assert_eq!(lock_states(&rec), ["LOCKED"]);
    h.record(&log(pid, locked));
    assert!(lock_states(&rec).is_empty(), "unchanged: nothing");
    h.lines_dropped(&[super::Dropped {
        pid,
        over: 7,
        ring_full: 2,
    }]);
    let count = |reason| {
        m.ebpf
            .lines_dropped
            .with_label_values(&["ptp4l", reason])
            .get()
    };
    assert_eq!((count("over_budget"), count("ring_full")), (7, 2));
    h.record(&log(pid, locked));
    assert_eq!(lock_states(&rec), ["LOCKED"]);
    h.record(&log(pid, locked));
    assert!(lock_states(&rec).is_empty(), "once only");
    // More drops right after (while the warning is still rate-limited):
    // the state is as uncertain as after the first ones.
    h.lines_dropped(&[super::Dropped {
        pid,
        over: 1,
        ring_full: 0,
    }]);
    h.record(&log(pid, locked));
    assert_eq!(lock_states(&rec), ["LOCKED"], "again after the next drops");
    child.kill().unwrap();
    child.wait().unwrap();
}
