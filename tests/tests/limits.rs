//! Connection limits against the real binary under an open-file limit of
//! 1,024 (soft and hard, as a container may set it): idle and slow-header
//! connections cannot stop `/health`, `/metrics` or the log socket, and
//! more subscribers than file descriptors all receive an event.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use agent_tests::{Agent, receipts, request, wait_for};

const T: Duration = Duration::from_secs(60);

/// Room for this test's own sockets (it holds thousands).
fn raise_own_nofile() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
}

#[test]
fn two_thousand_idle_connections_do_not_stop_health() {
    raise_own_nofile();
    let a = Agent::start_with_nofile(&[], 1024);
    let mut held = Vec::new();
    for i in 0..2000 {
        // Half say nothing, half send a head that never ends (slowloris).
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", a.api_port)) else {
            continue;
        };
        if i % 2 == 1 {
            let _ = s.write_all(b"GET /api/ocloudNotifications/v2/health HTTP/1.1\r\nX-a: ");
        }
        held.push(s);
    }
    assert!(held.len() >= 1900, "only {} connections made", held.len());
    // The API, the metrics listener and the log socket still answer.
    let health = wait_for(T, || {
        let r = request("GET", &a.api("/health"), None).ok()?;
        (r.status == 200).then_some(r)
    });
    assert!(health.is_some(), "/health does not answer");
    let scrape = a.metrics();
    assert!(
        scrape.contains("cloud_event_agent_connections_closed_total"),
        "{scrape}"
    );
    let mut w = a.connect_socket();
    w.line("ptp4l[1.000]: [ptp4l.0.config] master offset 5 s2 freq -1 path delay 100");
    // The agent closed connections to make room (cap, then timeouts).
    let closed = wait_for(T, || {
        let m = a.metrics();
        let n: f64 = ["cap", "header-timeout", "idle"]
            .iter()
            .map(|r| {
                agent_tests::sample(
                    &m,
                    &format!(r#"cloud_event_agent_connections_closed_total{{listener="api",reason="{r}"}}"#),
                )
            })
            .sum();
        (n >= 1000.0).then_some(n)
    });
    assert!(closed.is_some(), "{}", a.metrics());
    drop(held);
    let r = request("GET", &a.api("/health"), None).unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn fifteen_hundred_subscribers_at_a_limit_of_1024_all_receive_an_event() {
    raise_own_nofile();
    let a = Agent::start_with_nofile(&["--queue-capacity", "16"], 1024);
    let consumers = receipts::fan_out(&a, 1500);
    let since = receipts::now_ns();
    a.create_event("/sync/ptp-status/lock-state", "LOCKED");
    let got = receipts::wait(&consumers, since, 1500, T);
    let paths: HashSet<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths.len(),
        1500,
        "{} of 1500 endpoints got the event",
        paths.len()
    );
    // Never more connections open than the cap (half of 1024).
    let open = a.sample("cloud_event_agent_outbound_connections");
    assert!(open <= 512.0, "{open} open");
    assert_eq!(
        a.sample(r#"cne_api_subscriptions{status="active"}"#),
        1500.0
    );
}

/// Every connection busy (bodies that never come): a new client still gets
/// `/health` from the reserve above the cap.
#[test]
fn health_gets_through_when_every_connection_is_busy() {
    let a = Agent::start(&["--max-api-connections", "8"]);
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut s = TcpStream::connect(("127.0.0.1", a.api_port)).unwrap();
        s.write_all(
            b"POST /api/ocloudNotifications/v2/subscriptions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
        )
        .unwrap();
        held.push(s);
    }
    // All eight must be busy reading bodies (an idle one would rightly be
    // closed for the newcomer): the agent says so once it parsed the heads.
    let busy = r#"cloud_event_agent_connections_busy{listener="api"}"#;
    assert!(
        wait_for(Duration::from_secs(20), || (a.sample(busy) == 8.0)
            .then_some(()))
        .is_some(),
        "{} busy",
        a.sample(busy)
    );
    let r = request("GET", &a.api("/health"), None).unwrap();
    assert_eq!(r.status, 200);
    // The busy ones were not closed to make room (an idle one may have
    // been: the harness's own start-up probe, for instance): each still
    // gets its answer once its body arrives.
    let mid_body = held.pop().unwrap();
    for s in &mut held {
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut rest = vec![b' '; 998];
        rest.push(b'}');
        s.write_all(&rest).unwrap();
        let mut head = [0u8; 12];
        s.read_exact(&mut head).unwrap();
        assert!(
            head.starts_with(b"HTTP/1.1 4"),
            "{:?}",
            String::from_utf8_lossy(&head)
        );
    }
    assert_eq!(
        a.sample(r#"cloud_event_agent_connections_closed_total{listener="api",reason="cap-busy"}"#),
        0.0
    );
    // A client that goes away mid-body leaves no busy connection behind.
    drop(mid_body);
    assert!(
        wait_for(Duration::from_secs(20), || (a.sample(busy) == 0.0)
            .then_some(()))
        .is_some(),
        "{} busy after the clients left",
        a.sample(busy)
    );
}
