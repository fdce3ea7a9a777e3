//! The initial notification is sent once the subscription is stored: a
//! consumer that looks itself up when its first event arrives finds its
//! subscription; one that refuses it is not subscribed.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use agent_tests::{Agent, request};
use serde_json::{Value, json};

/// A consumer that, on its first POST, lists the agent's subscriptions
/// before answering `status`; sends what it saw.
fn looking_consumer(a: &Agent, status: u16) -> (String, mpsc::Receiver<Vec<Value>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("http://127.0.0.1:{}/e", l.local_addr().unwrap().port());
    let list_url = a.api("/subscriptions");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = vec![0; 65536];
        let _ = s.read(&mut buf).unwrap();
        let seen: Vec<Value> = request("GET", &list_url, None)
            .unwrap()
            .json()
            .as_array()
            .unwrap()
            .clone();
        tx.send(seen).unwrap();
        let _ = write!(
            s,
            "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
    });
    (ep, rx)
}

fn subscribe(a: &Agent, ep: &str) -> u16 {
    let body =
        json!({"ResourceAddress": a.address("/sync/ptp-status/lock-state"), "EndpointUri": ep});
    request(
        "POST",
        &a.api("/subscriptions"),
        Some(body.to_string().as_bytes()),
    )
    .unwrap()
    .status
}

#[test]
fn the_initial_notification_follows_the_store() {
    let a = Agent::start(&[]);
    let (ep, seen) = looking_consumer(&a, 204);
    assert_eq!(subscribe(&a, &ep), 201);
    let listed = seen.recv().unwrap();
    assert!(
        listed.iter().any(|s| s["EndpointUri"] == ep.as_str()),
        "{listed:?}"
    );

    // Refused: the subscription it saw is undone.
    let (ep, seen) = looking_consumer(&a, 500);
    assert_eq!(subscribe(&a, &ep), 400);
    assert!(
        seen.recv()
            .unwrap()
            .iter()
            .any(|s| s["EndpointUri"] == ep.as_str())
    );
    let after: Vec<Value> = request("GET", &a.api("/subscriptions"), None)
        .unwrap()
        .json()
        .as_array()
        .unwrap()
        .clone();
    assert!(
        !after.iter().any(|s| s["EndpointUri"] == ep.as_str()),
        "{after:?}"
    );
    assert_eq!(after.len(), 1);
}
