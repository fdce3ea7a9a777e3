//! `--endpoint-policy` against the real binary: where EndpointUris may
//! point, and what a refused or failed probe tells the client.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use agent_tests::{Agent, Consumer, request};
use serde_json::{Value, json};

const LOCK: &str = "/sync/ptp-status/lock-state";

fn subscribe(a: &Agent, ep: &str) -> (u16, Value) {
    let body = json!({"ResourceAddress": a.address(LOCK), "EndpointUri": ep}).to_string();
    let r = request("POST", &a.api("/subscriptions"), Some(body.as_bytes())).unwrap();
    (r.status, r.json())
}

#[test]
fn metadata_addresses_are_refused_by_default() {
    let a = Agent::start(&[]);
    for ep in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]:8080/e",
        "http://[::ffff:169.254.169.254]/e",
    ] {
        let (status, p) = subscribe(&a, ep);
        assert_eq!(
            (status, p["type"].as_str().unwrap()),
            (400, "urn:cloud-event-agent:problem:endpoint-not-allowed"),
            "{ep}: {p}"
        );
    }
    let c = Consumer::start();
    assert_eq!(subscribe(&a, &c.endpoint("/e")).0, 201);
}

#[test]
fn a_policy_allows_only_its_ranges_and_names() {
    let a = Agent::start(&["--endpoint-policy", "10.0.0.0/8,*.svc.cluster.local"]);
    let c = Consumer::start();
    // Loopback is outside the policy: refused before any connection.
    let (status, p) = subscribe(&a, &c.endpoint("/e"));
    assert_eq!(status, 400, "{p}");
    assert_eq!(
        p["type"],
        "urn:cloud-event-agent:problem:endpoint-not-allowed"
    );
    assert!(c.bodies("/e").is_empty(), "no probe was sent");
    // `localhost` is a name a CIDR rule might hold, so the URI passes; its
    // resolved address (127.0.0.1, not in 10/8) is refused before any
    // connection, and the client hears only "unreachable".
    let (status, p) = subscribe(&a, &format!("http://localhost:{}/e", c.port));
    assert_eq!(status, 400, "{p}");
    assert_eq!(p["type"], "urn:cloud-event-agent:problem:endpoint-rejected");
    assert!(p["detail"].as_str().unwrap().contains("unreachable"), "{p}");
    assert!(c.bodies("/e").is_empty(), "no probe was sent");
    // Bad rules are refused at start (exit 64).
    let out = std::process::Command::new(agent_tests::workspace_bin("cloud-event-agent"))
        .args(["--endpoint-policy", "10.0.0.0/40"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
