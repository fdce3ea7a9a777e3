//! The binary starts, serves health and metrics, and refuses bad flags with 64.

use agent_tests::{Agent, request, workspace_bin};

#[test]
fn starts_serves_health_and_metrics() {
    let a = Agent::start(&[]);
    let r = request("GET", &a.api("/health"), None).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "OK");
    assert!(
        a.metrics()
            .contains("cloud_event_agent_delivery_latency_seconds")
    );
}

#[test]
fn invalid_configuration_exits_64_before_binding() {
    let out = std::process::Command::new(workspace_bin("cloud-event-agent"))
        .args(["--node-name", "bad/name", "--api-port", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--node-name"));
    let out = std::process::Command::new(workspace_bin("cloud-event-agent"))
        .args(["--source", "carrier-pigeon"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn sigterm_exits_cleanly() {
    let mut a = Agent::start(&[]);
    let st = a.terminate();
    assert!(st.success(), "exit status {st}");
}
