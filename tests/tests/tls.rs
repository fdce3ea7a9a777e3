//! TLS and mTLS on the REST API and TLS to https consumers, against the
//! real binary, with certificates made by rcgen at run time.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::io::{Read, Write};
use std::time::Duration;

use agent_tests::tls::{Pki, client_config, request};
use agent_tests::{Agent, Consumer, wait_for};
use serde_json::json;

const T: Duration = Duration::from_secs(30);
const HEALTH: &str = "/api/ocloudNotifications/v2/health";

fn p(path: &std::path::Path) -> &str {
    path.to_str().unwrap()
}

/// Sends bytes that are not a TLS ClientHello; the agent closes.
fn garbage_handshake(port: u16) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01\xff\xff garbage");
    let mut buf = [0; 64];
    // Closed (0 or reset), never an HTTP answer.
    if let Ok(n) = s.read(&mut buf) {
        assert!(!buf[..n].starts_with(b"HTTP/"), "{:?}", &buf[..n]);
    }
}

#[test]
fn tls_serves_the_api_and_reloads_a_rotated_certificate() {
    let pki = Pki::new("ca one");
    let server = pki.server("server");
    let trust = client_config(&pki.ca_path(), None);
    let a = Agent::start_tls(
        &[
            "--tls-cert",
            p(&server.cert),
            "--tls-key",
            p(&server.key),
            "--tls-reload-ms",
            "200",
        ],
        trust.clone(),
    );
    let r = request(&trust, a.api_port, "GET", HEALTH, None, &[]).unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "OK"));
    // Plain HTTP and garbage get no answer; the API goes on.
    garbage_handshake(a.api_port);
    assert!(agent_tests::request("GET", &a.api("/health"), None).is_err());
    assert!(request(&trust, a.api_port, "GET", HEALTH, None, &[]).is_ok());

    // The secret rotates: a certificate of another CA in the same files.
    let pki2 = Pki::new("ca two");
    let next = pki2.server("server2");
    std::fs::copy(&next.key, &server.key).unwrap();
    std::fs::copy(&next.cert, &server.cert).unwrap();
    let trust2 = client_config(&pki2.ca_path(), None);
    let reloaded = wait_for(T, || {
        request(&trust2, a.api_port, "GET", HEALTH, None, &[]).ok()
    });
    assert_eq!(reloaded.expect("new certificate served").status, 200);
    assert!(request(&trust, a.api_port, "GET", HEALTH, None, &[]).is_err());
    assert!(a.log().contains("TLS certificate reloaded"), "{}", a.log());
    let closed = a.sample(
        r#"cloud_event_agent_connections_closed_total{listener="api",reason="tls-handshake"}"#,
    );
    assert!(closed >= 2.0, "{closed}");
}

/// mTLS through the anchor's `--auth-config` file, as ptp-operator renders
/// it: no client certificate, an expired one or a self-signed one is
/// refused at the handshake; a valid one gets 200.
#[test]
fn mtls_from_the_anchors_auth_config() {
    let pki = Pki::new("service ca");
    let server = pki.server("server");
    let good = pki.client("good", false);
    let expired = pki.client("expired", true);
    let other = pki.self_signed_client("stranger");
    let auth = pki.dir.path().join("auth.json");
    std::fs::write(
        &auth,
        json!({"enableMTLS": true, "useServiceCA": true, "caCertPath": pki.ca_path(),
            "serverCertPath": server.cert, "serverKeyPath": server.key,
            "enableOAuth": false})
        .to_string(),
    )
    .unwrap();
    let valid = client_config(&pki.ca_path(), Some(&good));
    let a = Agent::start_tls(&["--auth-config", p(&auth)], valid.clone());
    let r = request(&valid, a.api_port, "GET", HEALTH, None, &[]).unwrap();
    assert_eq!(r.status, 200);
    for (what, cfg) in [
        ("no client certificate", client_config(&pki.ca_path(), None)),
        ("expired", client_config(&pki.ca_path(), Some(&expired))),
        ("self-signed", client_config(&pki.ca_path(), Some(&other))),
    ] {
        assert!(
            request(&cfg, a.api_port, "GET", HEALTH, None, &[]).is_err(),
            "{what} got in"
        );
    }
    garbage_handshake(a.api_port);
    // Writes work over mTLS.
    let c = Consumer::start();
    let body = json!({"ResourceAddress": a.address("/sync/ptp-status/lock-state"),
        "EndpointUri": c.endpoint("/e")})
    .to_string();
    let r = request(
        &valid,
        a.api_port,
        "POST",
        "/api/ocloudNotifications/v2/subscriptions",
        Some(body.as_bytes()),
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let refused = a.sample(
        r#"cloud_event_agent_connections_closed_total{listener="api",reason="tls-handshake"}"#,
    );
    assert!(refused >= 4.0, "{refused}");
}

/// An https consumer with a certificate of a test CA: delivered to when
/// the agent trusts the CA (`--endpoint-ca`), refused as unreachable when
/// it does not.
#[test]
fn https_endpoints_are_delivered_over_tls() {
    let pki = Pki::new("consumer ca");
    let cs = pki.server("consumer");
    let c = Consumer::with_args(&["--tls-cert", p(&cs.cert), "--tls-key", p(&cs.key)]);
    let ep = format!("https://127.0.0.1:{}/e", c.port);
    let trust = client_config(&pki.ca_path(), None);
    let events = || {
        let r = request(&trust, c.port, "GET", "/_events", None, &[]).unwrap();
        let v: Vec<serde_json::Value> = serde_json::from_slice(&r.body).unwrap();
        v
    };

    let untrusting = Agent::start(&[]);
    let body = json!({"ResourceAddress": untrusting.address("/sync/ptp-status/lock-state"), "EndpointUri": ep});
    let r = agent_tests::request(
        "POST",
        &untrusting.api("/subscriptions"),
        Some(body.to_string().as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(events().is_empty());

    let a = Agent::start(&["--endpoint-ca", p(&pki.ca_path())]);
    a.subscribe("/sync/ptp-status/lock-state", &ep);
    a.create_event("/sync/ptp-status/lock-state", "LOCKED");
    let got = wait_for(T, || {
        let e = events();
        (e.len() == 2).then_some(e)
    })
    .expect("initial notification and the event over TLS");
    assert_eq!(got[1]["body"]["data"]["values"][0]["value"], "LOCKED");
}

/// A consumer that requires client certificates: delivered to with
/// `--endpoint-cert`/`--endpoint-key`, unreachable without.
#[test]
fn https_endpoints_that_require_a_client_certificate() {
    let pki = Pki::new("consumer ca");
    let cs = pki.server("consumer");
    let agent_cert = pki.client("agent", false);
    let c = Consumer::with_args(&[
        "--tls-cert",
        p(&cs.cert),
        "--tls-key",
        p(&cs.key),
        "--tls-client-ca",
        p(&pki.ca_path()),
    ]);
    let ep = format!("https://127.0.0.1:{}/e", c.port);
    let trust = client_config(&pki.ca_path(), Some(&agent_cert));
    let events = || {
        let r = request(&trust, c.port, "GET", "/_events", None, &[]).unwrap();
        serde_json::from_slice::<Vec<serde_json::Value>>(&r.body).unwrap()
    };
    let without = Agent::start(&["--endpoint-ca", p(&pki.ca_path())]);
    let body = json!({"ResourceAddress": without.address("/sync/ptp-status/lock-state"), "EndpointUri": ep});
    let r = agent_tests::request(
        "POST",
        &without.api("/subscriptions"),
        Some(body.to_string().as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    let a = Agent::start(&[
        "--endpoint-ca",
        p(&pki.ca_path()),
        "--endpoint-cert",
        p(&agent_cert.cert),
        "--endpoint-key",
        p(&agent_cert.key),
    ]);
    a.subscribe("/sync/ptp-status/lock-state", &ep);
    a.create_event("/sync/ptp-status/lock-state", "HOLDOVER");
    let got = wait_for(T, || {
        let e = events();
        (e.len() == 2).then_some(e)
    })
    .expect("delivered with the client certificate");
    assert_eq!(got[1]["body"]["data"]["values"][0]["value"], "HOLDOVER");
}
