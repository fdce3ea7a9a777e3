//! Several instances at once, profiles, T-BC, SyncE, PTP-HA, aliases, and
//! the stale-series removal.

use super::*;
use crate::engine::Snapshot;

const BC0: &str = "#profile: bc1\n[global]\n[ens1f0]\n[ens1f1]\n";
const BC1: &str = "#profile: bc2\n[global]\n[ens2f0]\n[ens2f1]\n";

#[test]
fn dual_nic_bc_each_nic_has_its_address_and_current_state_has_both() {
    let mut t = T::new();
    t.profiles(
        &[("ptp4l.0.config", BC0), ("ptp4l.1.config", BC1)],
        r#"[{"name":"bc1","ptpClockThreshold":{"holdOverTimeout":5,"maxOffsetThreshold":50,"minOffsetThreshold":-50}},
            {"name":"bc2","ptpClockThreshold":{"holdOverTimeout":9,"maxOffsetThreshold":500,"minOffsetThreshold":-500}}]"#,
    );
    t.feed("ptp4l[1.0]: [ptp4l.0.config] master offset 60 s2 freq 1 path delay 2");
    t.feed("ptp4l[1.0]: [ptp4l.1.config] master offset 60 s2 freq 1 path delay 2");
    let ev = t.r.take();
    // Per-profile thresholds: 60 is out for bc1, in for bc2.
    assert_eq!(ev[0].1, "/cluster/node/n1/ens1fx/master");
    assert_eq!(ev[0].2, "FREERUN");
    assert_eq!(ev[2].1, "/cluster/node/n1/ens2fx/master");
    assert_eq!(ev[2].2, "LOCKED");
    match t.e.snapshot(LOCK) {
        Snapshot::Values(v) => {
            let a: Vec<_> = v.iter().map(|v| v.resource_address.as_str()).collect();
            assert_eq!(
                a,
                [
                    "/cluster/node/n1/ens1fx/master",
                    "/cluster/node/n1/ens1fx/master",
                    "/cluster/node/n1/ens2fx/master",
                    "/cluster/node/n1/ens2fx/master"
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    let th = |p: &str, k: &str| t.metrics.threshold.with_label_values(&[k, NODE, p]).get();
    assert_eq!(th("bc2", "HoldOverTimeout"), 9);
    assert_eq!(th("bc1", "MinOffsetThreshold"), -50);

    // ptp4l.1.config goes away: its instance and series go with it.
    t.profiles(&[("ptp4l.0.config", BC0)], r#"[{"name":"bc1"}]"#);
    let text = prometheus_text(&t);
    assert!(!text.contains("ens2fx"), "{text}");
    assert!(!text.contains("bc2"), "{text}");
    assert!(text.contains("ens1fx"));
    match t.e.snapshot(LOCK) {
        Snapshot::Values(v) => assert_eq!(v.len(), 2),
        other => panic!("{other:?}"),
    }
}

fn prometheus_text(t: &T) -> String {
    use prometheus::Encoder;
    let r = prometheus::Registry::new();
    for c in [
        &t.metrics.clock_state,
        &t.metrics.offset,
        &t.metrics.threshold,
        &t.metrics.interface_role,
    ] {
        r.register(Box::new(c.clone())).unwrap();
    }
    let mut out = Vec::new();
    prometheus::TextEncoder::new()
        .encode(&r.gather(), &mut out)
        .unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn profile_loaded_after_first_lines_readdresses_the_clock() {
    let mut t = T::new();
    t.feed(&ptp(5, "s2"));
    assert_eq!(t.r.take()[0].1, "/cluster/node/n1/ptp4l.0.config/master");
    t.profiles(&[("ptp4l.0.config", BC0)], "");
    t.feed(&ptp(500, "s2"));
    assert_eq!(t.r.take()[0].1, "/cluster/node/n1/ens1fx/master");
    let text = prometheus_text(&t);
    assert!(!text.contains("iface=\"ptp4l.0.config\""), "{text}");
}

#[test]
fn unknown_profile_uses_defaults() {
    let mut t = T::new();
    t.profiles(
        &[("ptp4l.0.config", "#profile: nope\n[ens1f0]\n")],
        r#"[{"name":"other","ptpClockThreshold":{"maxOffsetThreshold":5000}}]"#,
    );
    t.feed(&ptp(150, "s2"));
    assert_eq!(t.states()[0], st(LOCK, "FREERUN"));
}

#[test]
fn t_bc_status_is_authoritative() {
    let mut t = T::new();
    t.profiles(
        &[("ptp4l.0.config", "#profile: tbc\n[ens2f0]\n[ens2f1]\n")],
        r#"[{"name":"tbc","ptpSettings":{"controllingProfile":"tbc-tr"}}]"#,
    );
    // ptp4l offsets are metrics only.
    t.feed(&ptp(5, "s2"));
    assert_eq!(t.states(), vec![]);
    assert_eq!(t.gauge("ptp4l", "ens2fx"), 1);
    t.feed("T-BC[1743005894]:[ptp4l.0.config] ens2f0  offset  55 T-BC-STATUS s2");
    let ev = t.r.take();
    assert_eq!(ev[0].1, "/cluster/node/n1/ens2fx/master");
    assert_eq!(ev[0].3.as_deref(), Some("55"));
    assert_eq!(ev[1].0, SYNC);
    t.feed("T-BC[1743005895]:[ptp4l.0.config] ens2f0 offset 60 T-BC-STATUS s2");
    assert_eq!(t.states(), vec![]);
    // A slave fault does not hold the T-BC over; ptp4l's gauge says FREERUN.
    t.feed("ptp4l[72444.514]: [ptp4l.0.config:5] port 1 (ens2f0): SLAVE to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)");
    assert_eq!(t.states(), vec![]);
    assert_eq!(t.gauge("ptp4l", "ens2fx"), 0);
    t.feed("T-BC[1743005894]:[ptp4l.0.config] ens2f0 offset 123 T-BC-STATUS s0");
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
    t.feed("T-BC[1743005894]:[ptp4l.0.config] ens2f0 offset 12 T-BC-STATUS s2");
    t.r.take();
    // ptp4l killed: the T-BC resource goes FREERUN.
    t.feed("ptp4l[1780430740]:[ptp4l.0.config] PTP_PROCESS_STATUS:0");
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN"), st(SYNC, "FREERUN")]);
}

#[test]
fn synce_events_on_change() {
    let mut t = T::new();
    let l = "synce4l[1722456110]:[synce4l.0.config] ens7f0 device synce1 eec_state EEC_HOLDOVER network_option 2 s1";
    t.feed(l);
    let ev = std::mem::take(&mut *t.r.0.lock());
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].kind, EventKind::SynceLockState);
    assert_eq!(
        ev[0].values[0].resource_address,
        "/cluster/node/n1/synce1/ens7f0"
    );
    assert_eq!(ev[0].values[0].value, "HOLDOVER");
    t.feed(l);
    assert!(t.r.0.lock().is_empty());
    t.feed("synce4l[1722458091]:[synce4l.0.config] ens7f0 clock_quality PRTC device synce1 ext_ql 0x20 network_option 2 ql 0x1 s2");
    let ev = std::mem::take(&mut *t.r.0.lock());
    assert_eq!(ev.len(), 1);
    let v: Vec<_> = ev[0]
        .values
        .iter()
        .map(|v| (v.resource_address.as_str(), v.value.as_str()))
        .collect();
    assert_eq!(
        v,
        [
            ("/cluster/node/n1/synce1/ens7f0/Ql", "1"),
            ("/cluster/node/n1/synce1/ens7f0/extQl", "32")
        ]
    );
    let l = [
        "synce4l",
        NODE,
        "synce4l.0.config",
        "2",
        "ens7f0",
        "synce1",
        "Extended SSM",
    ];
    assert_eq!(t.metrics.synce_ssm_ql.with_label_values(&l).get(), 32);
    assert!(matches!(
        t.e.snapshot(EventKind::SynceClockQuality),
        Snapshot::Values(v) if v.len() == 2
    ));
}

#[test]
fn ha_profile_and_phc2sys_config() {
    let mut t = T::new();
    t.feed("phc2sys[1710435400]:[phc2sys.2.config] ptp_ha_profile profile1 state 1");
    let g = t
        .metrics
        .ha_profile_status
        .with_label_values(&["phc2sys", NODE, "profile1"]);
    assert_eq!(g.get(), 1);
    // PTP-HA phc2sys has no E1 of its own: its OS clock is its own state.
    t.feed("phc2sys[1.0]:[phc2sys.2.config] CLOCK_REALTIME phc offset 3 s2 freq -1 delay 5");
    assert_eq!(t.states(), vec![st(OS, "LOCKED"), st(SYNC, "LOCKED")]);
}

#[test]
fn untagged_lines_placed_by_origin() {
    let mut t = T::new();
    t.profiles(&[("ptp4l.4.config", "#profile: x\n[eno1]\n")], "");
    let origin = Origin {
        process: Some("ptp4l".into()),
        config: Some("ptp4l.4.config".into()),
        pid: None,
        ..Origin::default()
    };
    t.feed_as(&origin, "master offset 5 s2 freq 1 path delay 2");
    assert_eq!(t.r.take()[0].1, "/cluster/node/n1/enox/master");
    t.feed_as(
        &origin,
        "port 1: SLAVE to LISTENING on ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES",
    );
    assert_eq!(t.states(), vec![st(LOCK, "HOLDOVER"), st(SYNC, "HOLDOVER")]);
}

#[test]
fn ts2phc_without_gm_publishes_per_interface_and_dies() {
    let mut t = T::new();
    t.feed("ts2phc[82674.465]: [ts2phc.0.config] ens2f1 master offset          0 s2 freq      -0");
    t.feed("ts2phc[82674.465]: [ts2phc.0.config] ens7f0 master offset 999 s0 freq      -0");
    let ev = t.r.take();
    assert_eq!(ev[0].1, "/cluster/node/n1/ens2fx/master");
    assert_eq!(ev[2].1, "/cluster/node/n1/ens7fx/master");
    t.feed(
        "ts2phc[521734.693]: [ts2phc.0.config:6] ens2f1 offset      -1 s2 freq      -3972 holdover",
    );
    assert_eq!(t.states(), vec![st(LOCK, "HOLDOVER")]);
    t.feed("ts2phc[1]:[ts2phc.0.config] PTP_PROCESS_STATUS:0");
    assert_eq!(t.states(), vec![st(LOCK, "FREERUN")]);
    let s = t.metrics.servo("master", "ts2phc", NODE, "ens2fx");
    assert_eq!(s.offset.get(), crate::engine::DEAD_OFFSET);
}

/// The anchor's collision fallback through the profiles: two configs (two PHCs)
/// whose ports would both be `ethx` keep their raw names.
#[test]
fn alias_collision_uses_raw_names() {
    let mut t = T::new();
    t.profiles(
        &[
            ("ptp4l.0.config", "#profile: a\n[eth0]\n"),
            ("ptp4l.1.config", "#profile: b\n[eth1]\n"),
        ],
        "",
    );
    t.feed(&ptp(5, "s2"));
    t.feed("ptp4l[11.000]: [ptp4l.1.config] master offset 3 s2 freq -998 path delay 99");
    let ev = t.r.take();
    assert_eq!(ev[0].1, "/cluster/node/n1/eth0/master");
    assert_eq!(ev[2].1, "/cluster/node/n1/eth1/master");
}

/// Socket mode with a config of the user's own name: lines tagged
/// `[slave.cfg]` make an instance only when `slave.cfg` is a loaded
/// config, and it counts as a ptp4l's (for the management-socket
/// follower) only once ptp4l's own lines came with that tag.
#[test]
fn any_config_name_in_the_profiles_is_a_tag() {
    let mut t = T::new();
    t.profiles(
        &[
            ("slave.cfg", "#profile: x\n[global]\n[eno1]\n"),
            ("clock.cfg", "[global]\n[eno2]\n"),
        ],
        "",
    );
    let line = "ptp4l[1.0]: [junk.cfg] master offset 5 s2 freq 1 path delay 2";
    assert!(!matches!(t.feed(line), Ingest::Used));
    assert_eq!(t.e.instance_count(), 0);
    assert!(t.states().is_empty());
    t.feed("phc2sys[1.0]: [clock.cfg] CLOCK_REALTIME phc offset 5 s2 freq 1 delay 2");
    assert!(!t.r.take().is_empty());
    assert!(!t.e.is_ptp4l("clock.cfg"));
    assert!(!t.e.is_ptp4l("slave.cfg"));
    t.feed("ptp4l[1.0]: [slave.cfg] master offset 5 s2 freq 1 path delay 2");
    assert_eq!(t.r.take()[0].1, "/cluster/node/n1/eno1/master");
    assert!(t.e.is_ptp4l("slave.cfg"));
    assert!(!t.e.is_ptp4l("clock.cfg"));
}
