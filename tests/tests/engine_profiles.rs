//! The engine through the built binary: profiles and thresholds read from
//! `--ptp-config-dir` and `--ptp-profiles` and re-read when they change,
//! bad files counted and logged once, every `openshift_ptp_*` family of
//! anchor exported, stale series gone with their config, and
//! CurrentState composed over several instances.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

mod api_common;

use std::time::Duration;

use agent_tests::{Agent, notification_values, wait_for};
use api_common::*;

const WAIT: Duration = Duration::from_secs(15);

const BC0: &str = "#profile: bc1\n[global]\nslaveOnly 0\n[ens1f0]\n[ens1f1]\n";
const BC1: &str = "#profile: bc2\n[global]\n[ens2f0]\n";
const PROFILES: &str = r#"[
  {"name":"bc1","ptpClockThreshold":{"holdOverTimeout":5,"maxOffsetThreshold":50,"minOffsetThreshold":-50},"phc2sysOpts":"-a -r"},
  {"name":"bc2","ptpClockThreshold":{"holdOverTimeout":7,"maxOffsetThreshold":500,"minOffsetThreshold":-500}}
]"#;

fn wait_metric(a: &Agent, needle: &str) {
    let ok = wait_for(WAIT, || a.metrics().contains(needle).then_some(()));
    assert!(ok.is_some(), "no {needle} in\n{}", a.metrics());
}

#[test]
fn profiles_thresholds_reload_and_stale_series() {
    let a = Agent::start_logged(&[]);
    let d = a.dir.path();
    std::fs::write(d.join("ptp4l.0.config"), BC0).unwrap();
    std::fs::write(d.join("ptp4l.1.config"), BC1).unwrap();
    std::fs::write(d.join("ptp-profiles.json"), PROFILES).unwrap();
    wait_metric(
        &a,
        r#"openshift_ptp_threshold{node="test-node.example.com",profile="bc2",threshold="HoldOverTimeout"} 7"#,
    );

    let mut w = a.connect_socket();
    // 60 ns: out of bc1's ±50, inside bc2's ±500.
    w.line("ptp4l[1.0]: [ptp4l.0.config:6] master offset 60 s2 freq -1 path delay 9");
    w.line("ptp4l[1.0]: [ptp4l.1.config:6] master offset 60 s2 freq -1 path delay 9");
    let lock = format!("{}/CurrentState", a.address("/sync/ptp-status/lock-state"));
    let v = wait_for(WAIT, || {
        let r = get(&a, &lock);
        let v = r.json();
        (r.status == 200 && notification_values(&v).len() == 2).then_some(v)
    })
    .unwrap();
    assert_eq!(notification_values(&v), ["FREERUN", "LOCKED"]);
    let values = v["data"]["values"].as_array().unwrap();
    assert_eq!(values[0]["ResourceAddress"], a.address("/ens1fx/master"));
    assert_eq!(values[2]["ResourceAddress"], a.address("/ens2fx/master"));

    // A bad JSON: counted and logged with its line, the old profiles stay.
    std::fs::write(d.join("ptp-profiles.json"), "[\n{\"name\": }\n]").unwrap();
    wait_metric(
        &a,
        r#"cloud_event_agent_config_errors_total{kind="ptp_profiles"} 1"#,
    );
    // ptp4l.1.config goes away: its series and instance go too.
    std::fs::remove_file(d.join("ptp4l.1.config")).unwrap();
    let gone = wait_for(WAIT, || (!a.metrics().contains("ens2fx")).then_some(()));
    assert!(gone.is_some(), "{}", a.metrics());
    assert!(a.metrics().contains(r#"iface="ens1fx""#));
    let v = get(&a, &lock).json();
    assert_eq!(notification_values(&v), ["FREERUN"]);
    let log = a.log();
    assert_eq!(log.matches("ptp-profiles.json:2").count(), 1, "{log}");
}

/// Every family of appears once its lines have been seen.
#[test]
fn every_anchor_metric_family_is_exported() {
    let a = Agent::start(&[]);
    let d = a.dir.path();
    std::fs::write(d.join("ptp4l.0.config"), BC0).unwrap();
    std::fs::write(d.join("ptp-profiles.json"), PROFILES).unwrap();
    wait_metric(&a, r#"profile="bc1""#);
    let mut w = a.connect_socket();
    for l in [
        "ptp4l[1780430740]:[ptp4l.0.config] PTP_PROCESS_STATUS:1",
        "ptp4l[5196819.100]: [ptp4l.0.config] master offset -5 s2 freq +500 path delay 89",
        "ptp4l[72530.885]: [ptp4l.0.config:5] port 1 (ens1f0): UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED",
        "phc2sys[10522413.392]: [ptp4l.0.config:6] CLOCK_REALTIME phc offset 8 s2 freq -6990 delay 502",
        "ptp4l[1000000600]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 248.000000",
        "ts2phc[1726600506]:[ts2phc.2.config] ens7f0 nmea_status 1 offset 0 s2",
        "dpll[1700598434]:[ts2phc.2.config] ens7f0 frequency_status 3 offset 0 phase_status 3 pps_status 1 s2",
        "gnss[1689014431]:[ts2phc.2.config] ens7f0 gnss_status 5 offset 0 s2",
        "GM[2000000100]:[ts2phc.2.config] ens7f0 T-GM-STATUS s2",
        "synce4l[1722458091]:[synce4l.0.config] ens7f0 clock_quality PRTC device synce1 ext_ql 0x20 network_option 2 ql 0x1 s2",
        "phc2sys[1710435400]:[phc2sys.2.config] ptp_ha_profile profile1 state 1",
    ] {
        w.line(l);
    }
    wait_metric(&a, "openshift_ptp_ha_profile_status");
    let m = a.metrics();
    for family in [
        "openshift_ptp_offset_ns{",
        "openshift_ptp_max_offset_ns{",
        "openshift_ptp_frequency_adjustment_ns{",
        "openshift_ptp_delay_ns{",
        "openshift_ptp_clock_state{",
        "openshift_ptp_nmea_status{",
        "openshift_ptp_threshold{",
        "openshift_ptp_interface_role{",
        "openshift_ptp_clock_class{",
        "openshift_ptp_process_status{",
        "openshift_ptp_process_restart_count{",
        "openshift_ptp_ha_profile_status{",
        "openshift_ptp_synce_clock_quality{",
        "openshift_ptp_synce_ssm_ql{",
        "openshift_ptp_frequency_status{",
        "openshift_ptp_phase_status{",
        "openshift_ptp_pps_status{",
        "openshift_ptp_gnss_status{",
    ] {
        assert!(m.contains(family), "{family} missing in\n{m}");
    }
    assert!(m.contains(
        r#"openshift_ptp_interface_role{iface="ens1f0",node="test-node.example.com",process="ptp4l"} 1"#
    ));
    assert!(m.contains(
        r#"openshift_ptp_clock_class{config="ptp4l.0.config",node="test-node.example.com",process="ptp4l"} 248"#
    ));
    assert!(!m.contains(r#"iface="""#), "empty iface label:\n{m}");
    let gnss = format!(
        "{}/CurrentState",
        a.address("/sync/gnss-status/gnss-sync-status")
    );
    assert_eq!(
        notification_values(&get(&a, &gnss).json()),
        ["SYNCHRONIZED"]
    );
}
