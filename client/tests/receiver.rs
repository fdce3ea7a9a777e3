//! The HTTP receiver and the keeper's retry, over real sockets: bad input
//! is refused and counted, the receiver keeps serving; a publisher that is
//! down is retried with backoff.

#![allow(clippy::unwrap_used, reason = "tests panic with a location")]

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cloud_event_client::{Client, EventType, Keeper, Receiver, ReceiverConfig, ResourceAddress};

const EVENT: &str = r#"{"specversion":"1.0","id":"5cbd6f6a-0a5f-4a2e-8f4e-1d8f8b6c8e1a","source":"/sync/ptp-status/lock-state","type":"event.sync.ptp-status.ptp-state-change","time":"2024-08-28T14:50:57.327585316Z","data":{"version":"1.0","values":[{"ResourceAddress":"/cluster/node/n1/ens5fx/master","data_type":"notification","value_type":"enumeration","value":"LOCKED"}]}}"#;

/// Sends raw bytes on a new connection, returns the status code (0 if the
/// connection closed without one).
fn raw(addr: std::net::SocketAddr, head: &str, body: &[u8], close_write: bool) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(body);
    if close_write {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn post(addr: std::net::SocketAddr, body: &[u8]) -> u16 {
    let head = format!(
        "POST /event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    raw(addr, &head, body, false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_are_refused_counted_and_never_passed_on() {
    let cfg = ReceiverConfig {
        max_body: 4096,
        ..ReceiverConfig::default()
    };
    let (rx, mut events) = Receiver::bind("127.0.0.1:0".parse().unwrap(), "/event", cfg)
        .await
        .unwrap();
    let addr = rx.local_addr();
    let statuses = tokio::task::spawn_blocking(move || {
        let mut s = vec![
            post(addr, b"{\"not\":\"an event\"}"),
            post(addr, b"garbage"),
            post(addr, &EVENT.as_bytes()[..EVENT.len() / 2]),
            post(addr, &vec![b' '; 10_000]),
            post(addr, format!("[{}]", EVENT).as_bytes()),
        ];
        // Truncated: announces more than it sends, then closes.
        let head = "POST /event HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\n";
        s.push(raw(addr, head, &EVENT.as_bytes()[..100], true));
        // Chunked and oversized, with no length announced.
        let head = "POST /event HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut body = Vec::new();
        for _ in 0..3 {
            body.extend_from_slice(b"800\r\n");
            body.extend_from_slice(&[b'{'; 0x800]);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"0\r\n\r\n");
        s.push(raw(addr, head, &body, false));
        s.push(post(addr, b""));
        s.push(post(addr, EVENT.as_bytes()));
        s.push(post(addr, EVENT.as_bytes()));
        s
    })
    .await
    .unwrap();
    assert_eq!(&statuses[..3], [400, 400, 400]);
    assert_eq!(statuses[3], 413);
    assert_eq!(statuses[4], 400);
    // The truncated body gets a 400 or a closed connection; never a 2xx.
    assert!(!(200..300).contains(&statuses[5]), "{statuses:?}");
    assert_eq!(statuses[6], 413);
    // The check POST, then the event twice.
    assert_eq!(&statuses[7..], [204, 204, 204]);
    let ev = events.next().await.unwrap();
    assert_eq!(ev.event_type, Some(EventType::LockState));
    let st = rx.stats();
    assert_eq!((st.events, st.duplicates, st.checks), (1, 1, 1), "{st:?}");
    assert!(st.invalid >= 6, "{st:?}");
    // Nothing else came through.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), events.next())
            .await
            .is_err()
    );
}

/// A publisher that accepts connections and closes them at once: the keeper
/// retries with a growing delay, so over 3 s it tries only a few times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publisher_that_is_down_is_retried_with_backoff() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            drop(s);
        }
    });
    let keeper = Keeper::new(
        Client::new(&format!("127.0.0.1:{port}")).unwrap(),
        "http://127.0.0.1:1/event",
    );
    let wanted = BTreeSet::from([ResourceAddress::event("n1", EventType::LockState)]);
    let (_tx, w) = tokio::sync::watch::channel(wanted);
    let checks = Arc::new(AtomicUsize::new(0));
    let c = checks.clone();
    let task = tokio::spawn(keeper.run(w, Duration::from_secs(30), move |r| {
        assert!(r.is_err());
        c.fetch_add(1, Ordering::SeqCst);
    }));
    tokio::time::sleep(Duration::from_secs(3)).await;
    task.abort();
    let n = checks.load(Ordering::SeqCst);
    // 100 ms doubling: ~5 tries in 3 s (at most 8 with jitter); a busy loop
    // would make thousands.
    assert!((2..=10).contains(&n), "{n} checks");
    assert!(accepted.load(Ordering::SeqCst) <= 2 * n + 2);
}
