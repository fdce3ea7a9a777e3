//! Log lines through the real socket to events at a real consumer, the
//! CurrentState and the anchor's metrics; the socket file's life cycle.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

mod api_common;

use std::time::Duration;

use agent_tests::{Agent, notification_values, wait_for};
use api_common::*;

const WAIT: Duration = Duration::from_secs(10);

// Push delivery is the transport's (interim there); this checks the engine
// through what the API serves.
#[test]
fn lines_become_current_state_and_metrics() {
    let a = Agent::start(&[]);
    let lock = format!("{}/CurrentState", a.address("/sync/ptp-status/lock-state"));
    let sync = format!("{}/CurrentState", a.address("/sync/sync-status/sync-state"));
    assert_eq!(get(&a, &lock).status, 404);

    let mut w = a.connect_socket();
    w.line("CMD LIVE_START");
    w.line("ptp4l[1780430740]:[ptp4l.0.config] PTP_PROCESS_STATUS:1");
    w.line("ptp4l[365195.391]: [ptp4l.0.config:6] master offset         -1 s2 freq   -3972 path delay        89");
    w.line("phc2sys[10522413.392]: [ptp4l.0.config:6] CLOCK_REALTIME phc offset 8 s2 freq -6990 delay 502");
    let os = format!(
        "{}/CurrentState",
        a.address("/sync/sync-status/os-clock-sync-state")
    );
    let r = wait_for(WAIT, || {
        let r = get(&a, &os);
        (r.status == 200).then_some(r)
    })
    .unwrap();
    assert_eq!(notification_values(&r.json()), ["LOCKED"]);
    let v = get(&a, &lock).json();
    assert_eq!(notification_values(&v), ["LOCKED"]);
    let values = &v["data"]["values"];
    assert_eq!(
        values[0]["ResourceAddress"],
        a.address("/ptp4l.0.config/master")
    );
    assert_eq!(values[1]["value"], "-1");
    assert_eq!(notification_values(&get(&a, &sync).json()), ["LOCKED"]);
    let node = &a.node;
    assert_eq!(
        metric(
            &a,
            &format!(
                r#"openshift_ptp_clock_state{{iface="ptp4l.0.config",node="{node}",process="ptp4l"}}"#
            )
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &a,
            &format!(
                r#"openshift_ptp_offset_ns{{from="phc",iface="CLOCK_REALTIME",node="{node}",process="phc2sys"}}"#
            )
        ),
        Some(8.0)
    );

    // Garbage and an over-long line do not close the connection.
    w.line("\u{1}garbage master offset x");
    w.line(&"x".repeat(100 * 1024));
    w.line("ptp4l[1780430740]:[ptp4l.0.config] PTP_PROCESS_STATUS:0");
    let freerun = wait_for(WAIT, || {
        (notification_values(&get(&a, &sync).json()) == ["FREERUN"]).then_some(())
    });
    assert!(freerun.is_some());
    assert_eq!(notification_values(&get(&a, &lock).json()), ["FREERUN"]);
    assert_eq!(
        metric(
            &a,
            r#"cloud_event_agent_socket_lines_total{result="oversize"}"#
        ),
        Some(1.0)
    );

    // CMD RESTART forgets everything: CurrentState is 404 again.
    a.connect_socket().line("CMD RESTART");
    let reset = wait_for(WAIT, || (get(&a, &lock).status == 404).then_some(()));
    assert!(reset.is_some());
}

#[test]
fn stale_socket_replaced_after_kill_and_removed_on_sigterm() {
    let mut a = Agent::start(&[]);
    assert!(a.socket_path().exists());
    a.kill9();
    // SIGKILL leaves the file; the next start replaces it.
    assert!(a.socket_path().exists());
    a.restart();
    let mut w = a.connect_socket();
    w.line("ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2");
    let ok = wait_for(WAIT, || {
        (metric(&a, r#"cloud_event_agent_socket_lines_total{result="ok"}"#) == Some(1.0))
            .then_some(())
    });
    assert!(ok.is_some());
    drop(w);
    assert!(a.terminate().success());
    assert!(!a.socket_path().exists());
}
