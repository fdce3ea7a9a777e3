//! Agent memory: RSS of the release binary idle, and with 100 subscriptions
//! (100 distinct consumer endpoints, each with one subscription), after
//! events have been delivered to all of them. Prints a Markdown table.

use std::time::Duration;

use agent_tests::usage::rss_kib;
use agent_tests::{Agent, Consumer, request, wait_for};

fn main() {
    let agent = Agent::start(&[]);
    std::thread::sleep(Duration::from_millis(500));
    let idle = rss_kib(agent.pid());

    let consumer = Consumer::start();
    let lock = agent.address("/sync/ptp-status/lock-state");
    for i in 0..100 {
        let body = format!(
            r#"{{"ResourceAddress":"{lock}","EndpointUri":"{}"}}"#,
            consumer.endpoint(&format!("/ep/{i}"))
        );
        let r = request("POST", &agent.api("/subscriptions"), Some(body.as_bytes()))
            .expect("subscribe");
        assert_eq!(r.status, 201, "subscribe {i}: {}", r.text());
    }
    let subscribed = rss_kib(agent.pid());

    // Drive state changes so every subscriber's queue and connection is used.
    let mut w = agent.connect_socket();
    for k in 0..20 {
        let off = if k % 2 == 0 { 5 } else { 5000 };
        w.line(&format!(
            "ptp4l[{k}.0]: [ptp4l.0.config] master offset {off} s2 freq -1 path delay 100"
        ));
        std::thread::sleep(Duration::from_millis(20));
    }
    let delivered = wait_for(Duration::from_secs(10), || {
        (consumer.events().len() >= 100 * 10).then_some(())
    })
    .is_some();
    let active = rss_kib(agent.pid());

    println!("| agent RSS | KiB | MB |");
    println!("|---|---:|---:|");
    for (what, kib) in [
        ("idle", idle),
        ("100 subscriptions", subscribed),
        ("100 subscriptions, after deliveries", active),
    ] {
        println!("| {what} | {kib} | {:.1} |", kib as f64 / 1024.0);
    }
    if !delivered {
        eprintln!("note: fewer deliveries than expected arrived");
    }
}
