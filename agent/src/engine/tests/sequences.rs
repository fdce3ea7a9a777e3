//! The anchor's expected event sequences 1-7, and its quirks with the
//! behaviour we chose instead.

use super::*;
use crate::engine::{DEAD_OFFSET, Snapshot};

const FAULT: &str = "ptp4l[72444.514]: [ptp4l.0.config:5] port 1 (ens1f0): SLAVE to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)";

/// An OC with ptp4l and phc2sys both LOCKED, its port SLAVE.
fn locked() -> T {
    let mut t = T::new();
    t.profiles(&[("ptp4l.0.config", "#profile: oc\n[ens1f0]\n")], "");
    t.feed("ptp4l[72530.885]: [ptp4l.0.config:5] port 1 (ens1f0): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED");
    t.feed(&ptp(5, "s2"));
    t.feed(&phc(3, "s2"));
    t.r.take();
    t
}

#[test]
fn seq1_oc_start_up() {
    let mut t = T::new();
    t.feed(&ptp(-818, "s0"));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.feed(&phc(-62, "s0"));
    assert_eq!(t.states(), vec![st(OS, "FREERUN")]);
    t.feed(&ptp(-1, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED")]);
    // sync-state LOCKED only once both are.
    t.feed(&phc(8, "s2"));
    assert_eq!(t.states(), vec![st(OS, "LOCKED"), st(SYNC, "LOCKED")]);
}

#[test]
fn seq2_slave_port_fault_then_timeout() {
    let mut t = locked();
    t.feed(FAULT);
    assert_eq!(t.states(), vec![st(LOCK, "HOLDOVER"), st(SYNC, "HOLDOVER")]);
    // E3 = worst(phc2sys, E1).
    t.feed(&phc(3, "s2"));
    assert_eq!(t.states(), vec![st(OS, "HOLDOVER")]);
    t.advance(Duration::from_millis(4999));
    assert_eq!(t.states(), vec![]);
    t.advance(Duration::from_millis(1));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.feed(&phc(3, "s2"));
    assert_eq!(t.states(), vec![st(OS, "FREERUN")]);
}

#[test]
fn seq3_recovery_within_holdover() {
    let mut t = locked();
    t.feed(FAULT);
    t.feed(&phc(3, "s2"));
    t.r.take();
    for l in [
        "ptp4l[72530.700]: [ptp4l.0.config:5] port 1 (ens1f0): FAULTY to LISTENING on INIT_COMPLETE",
        "ptp4l[72530.751]: [ptp4l.0.config:5] port 1 (ens1f0): LISTENING to UNCALIBRATED on RS_SLAVE",
        "ptp4l[72530.885]: [ptp4l.0.config:5] port 1 (ens1f0): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED",
    ] {
        t.feed(l);
    }
    assert_eq!(t.states(), vec![]);
    t.feed(&ptp(3, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED")]);
    t.feed(&phc(3, "s2"));
    assert_eq!(t.states(), vec![st(OS, "LOCKED"), st(SYNC, "LOCKED")]);
    assert_eq!(t.e.next_deadline(), None);
    t.advance(Duration::from_secs(60));
    assert_eq!(t.states(), vec![]);
}

/// The anchor's quirk fixed: an s0 line while in HOLDOVER publishes FREERUN (the
/// anchor changed the state silently, so subscribers kept HOLDOVER).
#[test]
fn seq3_caveat_s0_during_holdover_publishes_freerun() {
    let mut t = locked();
    t.feed(FAULT);
    t.r.take();
    t.feed(&ptp(-818, "s0"));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    // The timer has nothing left to do.
    assert_eq!(t.e.next_deadline(), None);
    // phc2sys printed nothing meanwhile: the OS clock is still LOCKED.
    t.feed(&ptp(3, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);
}

#[test]
fn seq4_offset_excursion() {
    let mut t = locked();
    t.feed(&ptp(250, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.feed(&ptp(10, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);
}

#[test]
fn seq5_ptp4l_killed() {
    let mut t = locked();
    t.profiles(
        &[("ptp4l.0.config", "#profile: oc\n[ens1f0]\n")],
        r#"[{"name":"oc","phc2sysOpts":"-a -r"}]"#,
    );
    t.r.take();
    t.feed("ptp4l[1780430740]:[ptp4l.0.config] PTP_PROCESS_STATUS:0");
    let ev = t.r.take();
    assert_eq!(ev.len(), 3, "{ev:?}");
    assert_eq!((ev[0].0, ev[0].2.as_str()), (LOCK, "FREERUN"));
    assert_eq!(ev[0].3.as_deref(), Some(DEAD_OFFSET.to_string().as_str()));
    assert_eq!(ev[0].3.as_deref(), Some("-9999999999999999"));
    assert_eq!((ev[1].0, ev[1].2.as_str()), (SYNC, "FREERUN"));
    assert_eq!((ev[2].0, ev[2].2.as_str()), (OS, "FREERUN"));
}

#[test]
fn seq5_with_chronyd_the_os_clock_stays() {
    let mut t = locked();
    t.feed("chronyd[1000000800]: [chronyd.0.config] Selected source 192.168.1.1");
    t.r.take();
    t.feed("phc2sys[1780430741]:[ptp4l.0.config] PTP_PROCESS_STATUS:0");
    assert_eq!(t.states(), vec![]);
}

#[test]
fn seq6_t_gm() {
    let mut t = T::new();
    t.feed("GM[2000000100]:[ts2phc.0.config] ens2f0 T-GM-STATUS s2");
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);
    t.feed("GM[2000000101]:[ts2phc.0.config] ens2f0 T-GM-STATUS s2");
    assert_eq!(t.states(), vec![]);
    t.feed("GM[2000000102]:[ts2phc.0.config] ens2f0 T-GM-STATUS s1");
    assert_eq!(t.states(), vec![st(LOCK, "HOLDOVER"), st(SYNC, "HOLDOVER")]);
    t.feed("GM[1689282762]:[ts2phc.0.config] ens2f0 T-GM-STATUS s0");
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.feed("gnss[1000000500]:[ts2phc.0.config] ens2f1 gnss_status 3 offset 5 s2");
    let ev = t.r.take();
    assert_eq!(
        ev,
        vec![(
            EventKind::GnssSyncStatus,
            "/cluster/node/n1/ens2fx/master".into(),
            "SYNCHRONIZED".into(),
            Some("5".into())
        )]
    );
    for (class, line) in [
        (6, "ptp4l[1780430800]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 6"),
        (7, "ptp4l[1780430801]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 7"),
        (
            248,
            "ptp4l[1000000600]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 248.000000",
        ),
    ] {
        t.feed(line);
        let ev = std::mem::take(&mut *t.r.0.lock());
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].kind, EventKind::ClockClass);
        assert_eq!(ev[0].values[0].value, class.to_string());
    }
    // Unchanged class: no event.
    t.feed("ptp4l[1000000600]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 248.000000");
    assert!(t.r.0.lock().is_empty());
    // A T-GM whose GM is FREERUN forces phc2sys FREERUN.
    t.feed("phc2sys[1.0]: [ptp4l.0.config] CLOCK_REALTIME phc offset 3 s2 freq -20217 delay 536");
    assert_eq!(t.states(), vec![st(OS, "FREERUN")]);
    match t.e.snapshot(EventKind::ClockClass) {
        Snapshot::Values(v) => {
            assert_eq!(v[0].resource_address, "/cluster/node/n1/ens2fx/master");
            assert_eq!(v[0].value, "248");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn seq7_no_data_yet() {
    let t = T::new();
    for k in EventKind::ALL {
        assert_eq!(t.e.snapshot(k), Snapshot::NotSet);
    }
}

/// The anchor raises a fault for the port that *was* SLAVE, as the line
/// says, even when the role we tracked is stale (e.g. after a restart).
#[test]
fn fault_uses_the_line_not_a_stale_role() {
    let mut t = T::new();
    t.profiles(&[("ptp4l.0.config", "#profile: oc\n[ens1f0]\n")], "");
    t.feed(&ptp(5, "s2"));
    t.r.take();
    t.feed(FAULT);
    assert_eq!(t.states(), vec![st(LOCK, "HOLDOVER"), st(SYNC, "HOLDOVER")]);
    // A fault on a MASTER port is no holdover.
    let mut t = locked();
    t.feed("ptp4l[72444.514]: [ptp4l.0.config:5] port 2 (ens1f1): MASTER to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)");
    assert_eq!(t.states(), vec![]);
}
