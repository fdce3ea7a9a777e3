//! Token auth against the real binary. There is no Kubernetes API server
//! here: the TokenReview checks go to `agent_tests::kube::KubeApi`, an
//! HTTPS stand-in that implements the TokenReview API's request and
//! response as the Kubernetes API reference (authentication.k8s.io/v1)
//! defines them, and that serves a JWKS for the JWT checks.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use agent_tests::http::{Response, request_with};
use agent_tests::kube::{Known, KubeApi, Mode};
use agent_tests::tls::Pki;
use agent_tests::{Agent, Consumer, request};
use serde_json::{Value, json};

const AUD: &str = "cloud-event-agent";
const LOCK: &str = "/sync/ptp-status/lock-state";

fn known() -> HashMap<String, Known> {
    let k = |user: &str, aud: &str, expired| Known {
        username: user.into(),
        audiences: vec![aud.into()],
        expired,
    };
    HashMap::from([
        (
            "good-token".into(),
            k("system:serviceaccount:cnf:app", AUD, false),
        ),
        (
            "expired-token".into(),
            k("system:serviceaccount:cnf:old", AUD, true),
        ),
        (
            "elsewhere-token".into(),
            k("system:serviceaccount:cnf:other", "vault", false),
        ),
    ])
}

struct Setup {
    pki: Pki,
    kube: KubeApi,
}

fn setup(mode: Mode) -> Setup {
    let pki = Pki::new("cluster ca");
    let server = pki.server("apiserver");
    std::fs::write(pki.dir.path().join("sa-token"), "agent-sa-token\n").unwrap();
    let kube = KubeApi::start(&server, "agent-sa-token", known(), mode);
    Setup { pki, kube }
}

fn agent(s: &Setup, extra: &[&str]) -> Agent {
    let ca = s.pki.ca_path();
    let sa = s.pki.dir.path().join("sa-token");
    let mut args = vec![
        "--kube-api".to_owned(),
        s.kube.url(),
        "--kube-ca-file".into(),
        ca.to_str().unwrap().into(),
        "--kube-token-file".into(),
        sa.to_str().unwrap().into(),
        "--auth-audiences".into(),
        AUD.into(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    Agent::start(&refs)
}

fn subscribe(a: &Agent, c: &Consumer, path: &str, token: Option<&str>) -> Response {
    let body =
        json!({"ResourceAddress": a.address(LOCK), "EndpointUri": c.endpoint(path)}).to_string();
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|v| ("Authorization", v.as_str())).collect();
    request_with(
        "POST",
        &a.api("/subscriptions"),
        Some(body.as_bytes()),
        &headers,
    )
    .unwrap()
}

fn problem(r: &Response, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    r.json()
}

fn failures(a: &Agent, reason: &str) -> f64 {
    a.sample(&format!(
        r#"cloud_event_agent_auth_failures_total{{reason="{reason}"}}"#
    ))
}

#[test]
fn token_review_decides_writes_and_reads_stay_open() {
    let s = setup(Mode::Honest);
    let a = agent(&s, &["--auth-token-review"]);
    let c = Consumer::start();
    // Reads and health are open.
    assert_eq!(request("GET", &a.api("/health"), None).unwrap().status, 200);
    assert_eq!(
        request("GET", &a.api("/subscriptions"), None)
            .unwrap()
            .status,
        200
    );
    // No token, or a bad one: 401, nothing stored, nothing sent.
    let r = subscribe(&a, &c, "/none", None);
    problem(&r, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    for (token, why) in [
        ("no-such-token", "invalid bearer token"),
        ("expired-token", "expired"),
        // kube-apiserver reports a token for another audience as not
        // authenticated for ours.
        ("elsewhere-token", "audiences"),
    ] {
        let p = problem(&subscribe(&a, &c, "/bad", Some(token)), 401);
        assert!(p["detail"].as_str().unwrap().contains(why), "{token}: {p}");
    }
    assert!(c.bodies("/none").is_empty() && c.bodies("/bad").is_empty());
    assert_eq!(failures(&a, "invalid-token"), 4.0);
    // A valid token: 201; the review is cached (one call for two uses).
    let before = s.kube.reviews.load(Ordering::SeqCst);
    assert_eq!(subscribe(&a, &c, "/ok", Some("good-token")).status, 201);
    assert_eq!(subscribe(&a, &c, "/ok2", Some("good-token")).status, 201);
    assert_eq!(s.kube.reviews.load(Ordering::SeqCst), before + 1);
    // Malformed and oversized tokens are refused without a review.
    let before = s.kube.reviews.load(Ordering::SeqCst);
    let huge = "a".repeat(9000);
    for bad in [
        "Bearer",
        "Basic dXNlcjpwdw==",
        "Bearer two words",
        &format!("Bearer {huge}"),
    ] {
        let body = b"{}";
        let r = request_with(
            "POST",
            &a.api("/subscriptions"),
            Some(body),
            &[("Authorization", bad)],
        )
        .unwrap();
        problem(&r, 401);
    }
    assert_eq!(s.kube.reviews.load(Ordering::SeqCst), before);
    // Deletes and create/event need the token too.
    problem(
        &request("DELETE", &a.api("/subscriptions"), None).unwrap(),
        401,
    );
    let r = request_with("POST", &a.api_v1("/create/event"), Some(b"{}"), &[]).unwrap();
    assert_eq!(r.status, 401, "{}", r.text());
    let list: Vec<Value> = request("GET", &a.api("/subscriptions"), None)
        .unwrap()
        .json()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 2, "nothing lost");
    let r = request_with(
        "DELETE",
        &a.api("/subscriptions"),
        None,
        &[("Authorization", "Bearer good-token")],
    )
    .unwrap();
    assert_eq!(r.status, 204);
}

#[test]
fn protected_reads_need_a_token_but_health_does_not() {
    let s = setup(Mode::Honest);
    let a = agent(&s, &["--auth-token-review", "--auth-protect-reads"]);
    assert_eq!(request("GET", &a.api("/health"), None).unwrap().status, 200);
    problem(
        &request("GET", &a.api("/subscriptions"), None).unwrap(),
        401,
    );
    let r = request_with(
        "GET",
        &a.api("/subscriptions"),
        None,
        &[("Authorization", "Bearer good-token")],
    )
    .unwrap();
    assert_eq!(r.status, 200);
}

/// A TokenReview endpoint that hangs or answers garbage: 503, counted,
/// and the API goes on serving.
#[test]
fn a_broken_token_checker_is_503_and_stalls_nothing() {
    for mode in [Mode::Hang, Mode::Garbage] {
        let s = setup(mode);
        let a = agent(&s, &["--auth-token-review"]);
        let c = Consumer::start();
        let p = problem(&subscribe(&a, &c, "/e", Some("good-token")), 503);
        assert!(!p["detail"].as_str().unwrap().contains("127.0.0.1"), "{p}");
        assert_eq!(failures(&a, "checker-unavailable"), 1.0, "{mode:?}");
        assert_eq!(request("GET", &a.api("/health"), None).unwrap().status, 200);
        assert!(c.bodies("/e").is_empty());
    }
}

#[test]
fn jwts_are_checked_against_the_jwks() {
    let s = setup(Mode::Honest);
    let jwks = format!("{}/oauth/jwks", s.kube.url());
    let a = agent(
        &s,
        &[
            "--auth-jwks-url",
            &jwks,
            "--auth-issuer",
            "https://oauth.test",
        ],
    );
    let c = Consumer::start();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = |exp: u64, aud: &str| json!({"iss": "https://oauth.test", "sub": "alice", "aud": [aud], "exp": exp});
    let good = s.kube.jwt(&claims(now + 300, AUD), false);
    assert_eq!(subscribe(&a, &c, "/ok", Some(&good)).status, 201);
    problem(
        &subscribe(
            &a,
            &c,
            "/x",
            Some(&s.kube.jwt(&claims(now - 10, AUD), false)),
        ),
        401,
    );
    problem(
        &subscribe(
            &a,
            &c,
            "/x",
            Some(&s.kube.jwt(&claims(now + 300, "other"), false)),
        ),
        403,
    );
    problem(
        &subscribe(
            &a,
            &c,
            "/x",
            Some(&s.kube.jwt(&claims(now + 300, AUD), true)),
        ),
        401,
    );
    let mut forged = good.clone();
    forged.insert_str(good.find('.').unwrap() + 1, "eyJhIjoxfQ");
    problem(&subscribe(&a, &c, "/x", Some(&forged)), 401);
    let wrong_iss = json!({"iss": "https://evil", "sub": "m", "aud": [AUD], "exp": now + 300});
    problem(
        &subscribe(&a, &c, "/x", Some(&s.kube.jwt(&wrong_iss, false))),
        401,
    );
    assert_eq!(failures(&a, "wrong-audience"), 1.0);
    assert!(c.bodies("/x").is_empty());
}

/// With both on, a JWT the JWKS cannot vouch for (a service account token
/// of the cluster, or the JWKS down) goes to TokenReview.
#[test]
fn tokens_the_jwks_cannot_decide_go_to_token_review() {
    let pki = Pki::new("cluster ca");
    let other = KubeApi::start(&pki.server("issuer"), "x", HashMap::new(), Mode::Honest);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sa_jwt = other.jwt(&json!({"iss": "kubernetes/serviceaccount", "sub": "system:serviceaccount:cnf:app", "aud": [AUD], "exp": now + 300}), false);
    let mut tokens = known();
    tokens.insert(
        sa_jwt.clone(),
        Known {
            username: "system:serviceaccount:cnf:app".into(),
            audiences: vec![AUD.into()],
            expired: false,
        },
    );
    let server = pki.server("apiserver");
    std::fs::write(pki.dir.path().join("sa-token"), "agent-sa-token").unwrap();
    let kube = KubeApi::start(&server, "agent-sa-token", tokens, Mode::Honest);
    let s = Setup { pki, kube };
    let dead = format!("https://127.0.0.1:{}/oauth/jwks", agent_tests::free_port());
    let a = agent(&s, &["--auth-token-review", "--auth-jwks-url", &dead]);
    let c = Consumer::start();
    assert_eq!(subscribe(&a, &c, "/e", Some(&sa_jwt)).status, 201);
    problem(&subscribe(&a, &c, "/x", Some("no-such-token")), 401);
    drop(other);
}
