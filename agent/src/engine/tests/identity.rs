//! Instances are running daemons (pid namespace and pid), whatever their
//! config is called; their death frees their clocks and clears their class
//! and port roles; summaries and the management socket are evidence too.

use std::time::Duration;

use super::*;
use crate::engine::parse::port::PortState;
use crate::engine::{Daemon, Ingest, Origin, Pid, Snapshot, What};

fn daemon(ns: u64, pid: u32, config: Option<&str>) -> Origin {
    Origin {
        process: Some("ptp4l".into()),
        config: config.map(Into::into),
        pid: Some(pid),
        daemon: Some(Pid { ns, pid }),
    }
}

impl T {
    fn start(&mut self, o: &Origin, ifaces: &[&str], tag: Option<&str>, profile: Option<&str>) {
        let ifaces: Vec<String> = ifaces.iter().map(|s| (*s).to_owned()).collect();
        let d = Daemon {
            ifaces: &ifaces,
            profile,
            tag,
        };
        self.e.apply(o, self.now, What::Started(d), &self.r);
    }

    fn fact(&mut self, o: &Origin, w: What<'_>) -> Ingest {
        self.e.apply(o, self.now, w, &self.r)
    }

    fn line(&mut self, o: &Origin, l: &str) -> Ingest {
        self.e.apply(o, self.now, What::Line(l.as_bytes()), &self.r)
    }

    /// Published clock-class values (address, value), then forgets all.
    fn classes(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *self.r.0.lock())
            .into_iter()
            .filter(|e| e.kind == EventKind::ClockClass)
            .flat_map(|e| e.values)
            .map(|v| (v.resource_address, v.value))
            .collect()
    }
}

const LOCKED: &str = "ptp4l[1.0]: master offset 5 s2 freq 1 path delay 2";

#[test]
fn two_daemons_with_one_config_name_are_two_clocks() {
    let mut t = T::new();
    let (a, b) = (
        daemon(1, 100, Some("ptp4l.0.config")),
        daemon(2, 100, Some("ptp4l.0.config")),
    );
    t.start(&a, &["ens1f0"], None, None);
    t.start(&b, &["ens2f0"], None, None);
    t.line(&a, LOCKED);
    t.line(&b, LOCKED);
    let ev = t.r.take();
    assert_eq!(ev[0].1, "/cluster/node/n1/ens1fx/master");
    assert_eq!(ev[2].1, "/cluster/node/n1/ens2fx/master");
    assert_eq!(t.e.instance_count(), 2);
    // One dies: its clock only; the node is as bad as the worst.
    t.fact(&b, What::Exited);
    let ev = t.r.take();
    assert_eq!(ev[0].1, "/cluster/node/n1/ens2fx/master");
    assert_eq!(ev[0].2, "FREERUN");
    assert_eq!(ev[1].2, "FREERUN");
    assert_eq!(ev.len(), 2);
    t.line(&a, LOCKED);
    assert!(t.r.take().is_empty());
}

#[test]
fn plain_slaves_without_config_are_two_clocks() {
    let mut t = T::new();
    let (a, b) = (daemon(1, 10, None), daemon(1, 11, None));
    t.start(&a, &["veth0"], None, None);
    t.start(&b, &["veth1"], None, None);
    t.line(&a, LOCKED);
    t.line(&b, "ptp4l[1.0]: master offset 5 s0 freq 1 path delay 2");
    let ev = t.r.take();
    assert_eq!(ev[0].1, "/cluster/node/n1/veth0/master");
    assert_eq!(ev[2].1, "/cluster/node/n1/veth1/master");
    assert_eq!(
        t.e.snapshot(SYNC),
        Snapshot::Values(vec![crate::event::DataValue::state(
            "/cluster/node/n1/sync/sync-status/sync-state".into(),
            crate::event::SyncState::Freerun
        ),])
    );
}

#[test]
fn message_tag_and_config_of_one_process_are_one_instance() {
    let mut t = T::new();
    let o = daemon(1, 7, Some("slave.cfg"));
    t.start(&o, &["ens3f0"], Some("ptp4l.7.config"), None);
    t.line(
        &o,
        "ptp4l[1.0]: [ptp4l.7.config] master offset 5 s2 freq 1 path delay 2",
    );
    assert_eq!(t.r.take()[0].1, "/cluster/node/n1/ens3fx/master");
    // An untagged phc2sys line with the tag joins it (E3 sees its E1).
    let phc = Origin {
        process: Some("phc2sys".into()),
        daemon: Some(Pid { ns: 1, pid: 8 }),
        ..Origin::default()
    };
    t.line(
        &phc,
        "phc2sys[1.0]: [ptp4l.7.config] CLOCK_REALTIME phc offset 3 s2 freq 1 delay 5",
    );
    t.r.take();
    t.fact(&o, What::Exited);
    let s = t.states();
    assert!(s.contains(&st(LOCK, "FREERUN")), "{s:?}");
    assert!(s.contains(&st(OS, "FREERUN")), "{s:?}");
    assert_eq!(t.e.instance_count(), 1);
}

#[test]
fn death_clears_clock_class_and_port_roles() {
    let mut t = T::new();
    let o = daemon(1, 5, Some("a.cfg"));
    t.start(&o, &["ens1f0"], None, None);
    t.line(
        &o,
        "ptp4l[1.0]: port 1: UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED",
    );
    t.line(&o, LOCKED);
    t.fact(&o, What::ClockClass(248));
    assert_eq!(
        t.classes(),
        [(
            "/cluster/node/n1/ens1fx/master".to_owned(),
            "248".to_owned()
        )]
    );
    let m = t.metrics.clone();
    let role = move || {
        m.interface_role
            .with_label_values(&["ptp4l", NODE, "ens1f0"])
            .get()
    };
    assert_eq!(role(), 1);
    t.fact(&o, What::Exited);
    assert_eq!(t.e.snapshot(EventKind::ClockClass), Snapshot::NotFound);
    let lock = t.e.snapshot(LOCK);
    let Snapshot::Values(v) = lock else {
        panic!("{lock:?}")
    };
    assert_eq!(v[0].value, "FREERUN");
    // The role series is gone (a new handle reads 0).
    assert_eq!(role(), 0);
    // The socket protocol's status line clears them too.
    let mut t = T::new();
    t.feed("ptp4l[1]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 248");
    t.feed(&ptp(5, "s2"));
    t.classes();
    t.feed("ptp4l[2]:[ptp4l.0.config] PTP_PROCESS_STATUS:0");
    assert_eq!(t.e.snapshot(EventKind::ClockClass), Snapshot::NotFound);
}

#[test]
fn a_daemon_that_dies_without_state_leaves_nothing() {
    let mut t = T::new();
    let healthy = daemon(1, 5, Some("ptp4l.8.config"));
    t.start(&healthy, &["ens1f0"], None, None);
    t.line(&healthy, LOCKED);
    t.r.take();
    for pid in 1000..3000 {
        let o = daemon(2, pid, Some("ptp4l.8.config"));
        t.start(&o, &["eth9"], None, None);
        t.fact(&o, What::Exited);
    }
    assert!(t.r.take().is_empty());
    assert_eq!(t.e.instance_count(), 1);
    // An exit of a process the engine never knew changes nothing.
    assert_eq!(t.fact(&daemon(3, 1, None), What::Exited), Ingest::Ignored);
}

#[test]
fn summaries_with_the_port_state_are_offset_evidence() {
    let mut t = T::new();
    let o = daemon(1, 5, None);
    t.start(&o, &["ens1f0"], None, None);
    // Ports unknown: metrics only.
    t.line(
        &o,
        "ptp4l[1.0]: rms 12 max 25 freq -11507 +/- 40 delay 2298 +/- 3",
    );
    assert!(t.r.take().is_empty());
    t.line(
        &o,
        "ptp4l[1.0]: port 1: LISTENING to UNCALIBRATED on RS_SLAVE",
    );
    t.line(
        &o,
        "ptp4l[1.0]: rms 12 max 25 freq -11507 +/- 40 delay 2298 +/- 3",
    );
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.line(
        &o,
        "ptp4l[1.0]: port 1: UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED",
    );
    t.line(
        &o,
        "ptp4l[1.0]: rms 12 max 25 freq -11507 +/- 40 delay 2298 +/- 3",
    );
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);
    // The worst offset decides the range (default ±100 ns).
    t.line(
        &o,
        "ptp4l[1.0]: rms 12 max 250 freq -11507 +/- 40 delay 2298 +/- 3",
    );
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
}

#[test]
fn a_silent_ptp4l_is_followed_through_its_management_socket() {
    let mut t = T::new();
    let o = Origin {
        process: Some("ptp4l".into()),
        config: Some("ptp4l.2.config".into()),
        ..Origin::default()
    };
    let ts = |off| What::TimeStatus {
        master_offset: off,
        gm_present: true,
    };
    t.fact(
        &o,
        What::PortState {
            port: 1,
            state: PortState::Uncalibrated,
        },
    );
    t.fact(&o, ts(40));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.fact(
        &o,
        What::PortState {
            port: 1,
            state: PortState::Slave,
        },
    );
    t.fact(&o, ts(40));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);
    t.fact(&o, ts(-400));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.fact(&o, ts(4));
    t.r.take();
    // The port leaves SLAVE: HOLDOVER, then FREERUN on the timer.
    t.fact(
        &o,
        What::PortState {
            port: 1,
            state: PortState::Listening,
        },
    );
    assert_eq!(t.states(), vec![st(LOCK, "HOLDOVER"), st(SYNC, "HOLDOVER")]);
    t.fact(&o, ts(4));
    assert!(t.r.take().is_empty());
    t.advance(Duration::from_secs(6));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    // A ptp4l that prints servo lines: its lines speak, not the socket.
    let mut t = T::new();
    let o = Origin {
        config: Some("ptp4l.0.config".into()),
        ..o
    };
    t.feed(&ptp(5, "s2"));
    t.r.take();
    t.fact(
        &o,
        What::PortState {
            port: 1,
            state: PortState::Slave,
        },
    );
    t.fact(&o, ts(-400));
    assert!(t.r.take().is_empty());
}

#[test]
fn a_step_is_freerun_without_a_line() {
    let mut t = T::new();
    let o = daemon(1, 5, None);
    t.start(&o, &["ens1f0"], None, None);
    t.line(&o, LOCKED);
    t.r.take();
    t.fact(
        &o,
        What::Step {
            realtime: true,
            ns: 1_000_000,
        },
    );
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
}
