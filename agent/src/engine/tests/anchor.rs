//! The anchor's tables and its `Test_ExtractMetrics`
//! sequence, input lines verbatim from the anchor's tests. Rows where we
//! deliberately differ say so.

use super::*;
use crate::engine::Snapshot;
use crate::engine::parse::port::Role;

const CFG0: &str = "#profile: oc\n[global]\nslaveOnly 1\n[ens1f0]\n[ens1f1]\n";
const P0T: &str = "ptp4l[72444.514]: [ptp4l.0.config:5] port 1 (ens1f0): ";

fn role(t: &T, iface: &str) -> i64 {
    t.metrics
        .interface_role
        .with_label_values(&["ptp4l", NODE, iface])
        .get()
}

/// An OC whose slave port ens1f0 is SLAVE and whose clock is LOCKED.
fn locked_oc() -> T {
    let mut t = T::new();
    t.profiles(&[("ptp4l.0.config", CFG0)], "");
    t.feed(&format!(
        "{P0T}UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED"
    ));
    t.feed(&ptp(5, "s2"));
    assert_eq!(t.gauge("ptp4l", "ens1fx"), 1);
    t.r.take();
    t
}

/// The anchor's port-state table: (transition text, anchor role, anchor
/// HOLDOVER, our role, our
/// HOLDOVER). The port was SLAVE and the clock LOCKED before each row.
#[test]
fn port_state_table() {
    use Role::{Faulty, Listening, Master, Passive, Slave};
    let rows: [(&str, Role, bool, Option<Role>, bool); 20] = [
        (
            "UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED",
            Slave,
            false,
            Some(Slave),
            false,
        ),
        (
            "LISTENING to SLAVE on MASTER_CLOCK_SELECTED",
            Slave,
            false,
            Some(Slave),
            false,
        ),
        (
            "UNCALIBRATED to PASSIVE on RS_PASSIVE",
            Passive,
            false,
            Some(Passive),
            false,
        ),
        (
            "MASTER to PASSIVE on RS_PASSIVE",
            Passive,
            false,
            Some(Passive),
            false,
        ),
        (
            "SLAVE to PASSIVE on RS_PASSIVE",
            Passive,
            false,
            Some(Passive),
            false,
        ),
        (
            "LISTENING to PASSIVE on RS_PASSIVE",
            Passive,
            false,
            Some(Passive),
            false,
        ),
        (
            "UNCALIBRATED to MASTER on RS_MASTER",
            Master,
            false,
            Some(Master),
            false,
        ),
        (
            "LISTENING to MASTER on ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES",
            Master,
            false,
            Some(Master),
            false,
        ),
        (
            "SLAVE to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)",
            Faulty,
            true,
            Some(Faulty),
            true,
        ),
        (
            "SLAVE to UNCALIBRATED on SYNCHRONIZATION_FAULT",
            Faulty,
            true,
            Some(Faulty),
            true,
        ),
        (
            "SLAVE to UNCALIBRATED on RS_SLAVE",
            Faulty,
            true,
            Some(Faulty),
            true,
        ),
        // Fixed: a master port turning towards SLAVE is not a fault.
        (
            "MASTER to UNCALIBRATED on RS_SLAVE",
            Faulty,
            true,
            None,
            false,
        ),
        // Fixed: the normal start-up step is not a fault.
        (
            "LISTENING to UNCALIBRATED on RS_SLAVE",
            Faulty,
            true,
            None,
            false,
        ),
        (
            "SLAVE to MASTER on ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES",
            Master,
            true,
            Some(Master),
            true,
        ),
        (
            "SLAVE to GRAND_MASTER on RS_GRAND_MASTER",
            Master,
            true,
            Some(Master),
            true,
        ),
        (
            "SLAVE to LISTENING on ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES",
            Listening,
            true,
            Some(Listening),
            true,
        ),
        (
            "FAULTY to LISTENING on INIT_COMPLETE",
            Listening,
            false,
            Some(Listening),
            false,
        ),
        (
            "UNCALIBRATED to LISTENING on ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES",
            Listening,
            false,
            Some(Listening),
            false,
        ),
        (
            "INITIALIZING to LISTENING on INIT_COMPLETE",
            Listening,
            false,
            Some(Listening),
            false,
        ),
        // Fixed: the anchor matches nothing here and ignores the line.
        (
            "FAULTY to SLAVE on MASTER_CLOCK_SELECTED",
            Role::Unknown,
            false,
            Some(Slave),
            false,
        ),
    ];
    for (text, _anchor_role, _anchor_holdover, ours, holdover) in rows {
        let mut t = locked_oc();
        t.feed(&format!("{P0T}{text}"));
        let want_role = ours.unwrap_or(Slave).metric();
        assert_eq!(role(&t, "ens1f0"), want_role, "{text}");
        let want: Vec<(EventKind, String)> = if holdover {
            vec![st(LOCK, "HOLDOVER"), st(SYNC, "HOLDOVER")]
        } else {
            vec![]
        };
        assert_eq!(t.states(), want, "{text}");
        assert_eq!(t.gauge("ptp4l", "ens1fx"), if holdover { 2 } else { 1 });
    }
}

/// The anchor's unit-test expectations (`metrics_test.go`, dual follower
/// `ptp4l.1.config` with ens3f0/ens3f1).
#[test]
fn dual_follower_expectations() {
    let mut t = T::new();
    t.profiles(
        &[(
            "ptp4l.1.config",
            "#profile: df\n[global]\n[ens3f0]\n[ens3f1]\n",
        )],
        "",
    );
    t.feed("ptp4l[4270544.036]: [ptp4l.1.config:5] port 2 (ens3f1): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED");
    assert_eq!(role(&t, "ens3f1"), Role::Slave.metric());
    assert_eq!(t.states(), vec![]);
    t.feed("ptp4l[4270543.688]: [ptp4l.1.config:5] port 2 (ens3f1): SLAVE to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)");
    let ev = t.r.take();
    assert_eq!(ev.len(), 2);
    assert_eq!(
        (ev[0].0, ev[0].1.as_str(), ev[0].2.as_str()),
        (LOCK, "/cluster/node/n1/ens3fx/master", "HOLDOVER")
    );
    assert_eq!(ev[1].0, SYNC);
    assert_eq!(t.gauge("ptp4l", "ens3fx"), 2);
    // After the holdover timeout: FREERUN. A fault on the other port then
    // changes nothing (the anchor publishes an event here; the state does
    // not change, so we do not).
    t.advance(Duration::from_secs(5));
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.feed("ptp4l[4270543.688]: [ptp4l.1.config:5] port 1 (ens3f0): SLAVE to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)");
    assert_eq!(role(&t, "ens3f0"), Role::Faulty.metric());
    assert_eq!(t.gauge("ptp4l", "ens3fx"), 0);
    assert_eq!(t.states(), vec![]);
}

/// The anchor's `OverallState` and `TestGetNodeSyncState`: the node is the worst
/// of every main clock and CLOCK_REALTIME, across instances.
#[test]
fn overall_state_across_instances() {
    let mut t = T::new();
    let p1 = |o: i64, s: &str| {
        format!("ptp4l[11.000]: [ptp4l.1.config] master offset {o} {s} freq -998 path delay 99")
    };
    // LOCKED + LOCKED -> LOCKED; "" + X -> X.
    t.feed(&ptp(5, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);
    t.feed(&p1(3, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED")]);
    // "Dual BC - NIC one LOCKED, NIC two HOLDOVER": HOLDOVER.
    t.feed("ptp4l[11.000]: [ptp4l.1.config] master offset 3 s2 freq -998");
    assert_eq!(t.states(), vec![st(LOCK, "HOLDOVER"), st(SYNC, "HOLDOVER")]);
    // ... and the OS clock FREERUN: FREERUN.
    t.feed(&phc(3, "s0"));
    assert_eq!(t.states(), vec![st(OS, "FREERUN"), st(SYNC, "FREERUN")]);
    match t.e.snapshot(SYNC) {
        Snapshot::Values(v) => assert_eq!(v[0].value, "FREERUN"),
        other => panic!("{other:?}"),
    }
    // "LOCKED master + FREERUN OS" -> FREERUN; all LOCKED -> LOCKED.
    t.feed(&p1(3, "s2"));
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED")]);
    t.feed(&phc(3, "s2"));
    assert_eq!(t.states(), vec![st(OS, "LOCKED"), st(SYNC, "LOCKED")]);
}

/// The anchor's `Test_ExtractMetrics`, its lines in order.
#[test]
fn extract_metrics_sequence() {
    let mut t = T::new();
    let dpll = |t: &T| {
        t.metrics
            .clock_state
            .with_label_values(&["dpll", NODE, "ens2fx"])
            .get()
    };
    t.feed("dpll[1700598434]:[ts2phc.0.config] ens2f0 frequency_status 3 offset 0 phase_status 3 pps_status 1 s2");
    assert_eq!(dpll(&t), 1);
    t.feed("dpll[1000000120]:[ts2phc.0.config] ens2f0 frequency_status 3 offset 7 phase_status 3 pps_status 0 s0");
    assert_eq!(dpll(&t), 0);
    t.feed("dpll[1000000120]:[ts2phc.0.config] ens2f0 frequency_status 3 offset 7 phase_status 3 pps_status 0 s1");
    assert_eq!(dpll(&t), 2);
    let l = ["dpll", "dpll", NODE, "ens2fx"];
    assert_eq!(t.metrics.pps_status.with_label_values(&l).get(), 0);
    assert_eq!(t.metrics.offset.with_label_values(&l).get(), 7);
    assert_eq!(t.states(), vec![]);

    t.feed("ts2phc[1699929121]:[ts2phc.0.config] ens2f0 nmea_status 0 offset 999999 s0");
    let nmea = ["ts2phc", NODE, "ens2fx"];
    assert_eq!(t.metrics.nmea_status.with_label_values(&nmea).get(), 0);
    assert_eq!(t.states(), vec![]);

    t.feed("ts2phc[1896327.319]: [ts2phc.0.config] ens2f0 master offset         0 s2 freq      4");
    assert_eq!(t.states(), vec![st(LOCK, "LOCKED"), st(SYNC, "LOCKED")]);

    t.feed("GM[1689282762]:[ts2phc.0.config] ens2f1 T-GM-STATUS s0");
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    assert_eq!(t.gauge("GM", "ens2fx"), 0);

    t.feed("gnss[1000000500]:[ts2phc.0.config] ens2f1 gnss_status 3 offset 5 s2");
    assert_eq!(
        t.states(),
        vec![st(EventKind::GnssSyncStatus, "SYNCHRONIZED")]
    );

    let ev = {
        t.feed("ptp4l[1000000600]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 248.000000");
        std::mem::take(&mut *t.r.0.lock())
    };
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, EventKind::ClockClass);
    assert_eq!(ev[0].values[0].value, "248");
    assert_eq!(
        ev[0].values[0].resource_address,
        "/cluster/node/n1/ens2fx/master"
    );
    let class = ["ptp4l", "ptp4l.0.config", NODE];
    assert_eq!(t.metrics.clock_class.with_label_values(&class).get(), 248);

    let mut t = T::new();
    t.feed("phc2sys[4268818.286]: [ptp4l.0.config] CLOCK_REALTIME phc offset       -62 s0 freq  -78368 delay   1100");
    assert_eq!(t.states(), vec![st(OS, "FREERUN"), st(SYNC, "FREERUN")]);
    let s = t.metrics.servo("phc", "phc2sys", NODE, "CLOCK_REALTIME");
    assert_eq!(
        (s.offset.get(), s.frequency.get(), s.delay.get()),
        (-62, -78368, 1100)
    );
    assert_eq!(t.gauge("phc2sys", "CLOCK_REALTIME"), 0);

    let mut t = T::new();
    t.feed("chronyd[1000000800]: [chronyd.0.config] Selected source 192.168.1.1");
    assert_eq!(t.states(), vec![st(OS, "LOCKED"), st(SYNC, "LOCKED")]);
    assert_eq!(t.gauge("chronyd", "CLOCK_REALTIME"), 1);
    t.feed("chronyd[1000000820]: [chronyd.0.config] no selectable sources");
    assert_eq!(t.states(), vec![st(OS, "FREERUN"), st(SYNC, "FREERUN")]);
}
