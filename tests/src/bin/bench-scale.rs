//! Scale and TLS bench: the release agent, real consumer processes.
//! - Delivery latency over TLS vs plain HTTP (1 and 100 subscribers):
//!   event creation (CloudEvent `time`) to the consumer's receipt.
//! - One event to 10,000 subscribers: creation to the last receipt.
//! - Agent RSS with 10,000 subscriptions, after that event.
//!
//! Prints Markdown tables.

use std::time::Duration;

use agent_tests::receipts::{self, Receipt, now_ns, pct_us};
use agent_tests::tls::{Pki, client_config};
use agent_tests::usage::rss_kib;
use agent_tests::{Agent, Consumer, LogWriter, request};

const LOCK: &str = "/sync/ptp-status/lock-state";

fn flip(w: &mut LogWriter, k: usize) {
    let off = if k.is_multiple_of(2) { 5 } else { 5000 };
    w.line(&format!(
        "ptp4l[{k}.000]: [ptp4l.0.config] master offset {off} s2 freq -1 path delay 100"
    ));
}

/// Consumers (at most 10) serving `https` when `pki` is given, and
/// `subscribers` endpoints spread over them.
fn fan_out(a: &Agent, subscribers: usize, pki: Option<&Pki>) -> Vec<Consumer> {
    let n = subscribers.min(receipts::MAX_CONSUMERS);
    let pair = pki.map(|p| p.server("consumer"));
    let consumers: Vec<Consumer> = (0..n)
        .map(|_| match &pair {
            Some(p) => Consumer::with_args(&[
                "--receipts-only",
                "--tls-cert",
                p.cert.to_str().unwrap_or_default(),
                "--tls-key",
                p.key.to_str().unwrap_or_default(),
            ]),
            None => Consumer::with_args(&["--receipts-only"]),
        })
        .collect();
    let scheme = if pki.is_some() { "https" } else { "http" };
    let lock = a.address(LOCK);
    for i in 0..subscribers {
        let ep = format!("{scheme}://127.0.0.1:{}/ep/{i}", consumers[i % n].port);
        let body = format!(r#"{{"ResourceAddress":"{lock}","EndpointUri":"{ep}"}}"#);
        let r =
            request("POST", &a.api("/subscriptions"), Some(body.as_bytes())).expect("subscribe");
        assert_eq!(r.status, 201, "subscribe {i}: {}", r.text());
    }
    consumers
}

/// Receipts at or after `since` of every consumer (over TLS with `pki`).
fn collect(consumers: &[Consumer], since: u128, pki: Option<&Pki>) -> Vec<Receipt> {
    let Some(pki) = pki else {
        return receipts::collect(consumers, since);
    };
    let cfg = client_config(&pki.ca_path(), None);
    let mut all = Vec::new();
    for c in consumers {
        let Ok(r) = agent_tests::tls::request(&cfg, c.port, "GET", "/_receipts", None, &[]) else {
            continue;
        };
        let v: Vec<(String, String, u128, u128)> =
            serde_json::from_slice(&r.body).unwrap_or_default();
        all.extend(v.into_iter().filter(|r| r.2 >= since).map(
            |(path, id, created_ns, recv_ns)| Receipt {
                path,
                id,
                created_ns,
                recv_ns,
            },
        ));
    }
    all
}

fn wait(consumers: &[Consumer], since: u128, want: usize, pki: Option<&Pki>) -> Vec<Receipt> {
    let got = agent_tests::wait_for(Duration::from_secs(120), || {
        let r = collect(consumers, since, pki);
        (r.len() >= want).then_some(r)
    });
    got.unwrap_or_else(|| {
        eprintln!("note: fewer than {want} receipts arrived");
        collect(consumers, since, pki)
    })
}

fn latency(subscribers: usize, events: usize, gap: Duration, tls: bool) {
    let pki = tls.then(|| Pki::new("bench ca"));
    let ca = pki
        .as_ref()
        .map(|p| p.ca_path().to_string_lossy().into_owned());
    let mut args = vec!["--queue-capacity", "1000000"];
    if let Some(ca) = &ca {
        args.extend(["--endpoint-ca", ca.as_str()]);
    }
    let a = Agent::start(&args);
    let consumers = fan_out(&a, subscribers, pki.as_ref());
    let mut w = a.connect_socket();
    flip(&mut w, 1);
    std::thread::sleep(Duration::from_millis(200));
    let since = now_ns();
    for k in 0..events {
        flip(&mut w, k);
        std::thread::sleep(gap);
    }
    let got = wait(&consumers, since, events * subscribers, pki.as_ref());
    let mut per: Vec<u128> = got
        .iter()
        .map(|r| r.recv_ns.saturating_sub(r.created_ns))
        .collect();
    per.sort_unstable();
    println!(
        "| {} | {subscribers} | {} | {:.0} | {:.0} |",
        if tls { "https" } else { "http" },
        got.len(),
        pct_us(&per, 0.5),
        pct_us(&per, 0.99),
    );
}

fn ten_thousand() {
    let n = 10_000;
    let a = Agent::start(&[]);
    std::thread::sleep(Duration::from_millis(300));
    let idle = rss_kib(a.pid());
    let consumers = fan_out(&a, n, None);
    let subscribed = rss_kib(a.pid());
    let since = now_ns();
    let mut w = a.connect_socket();
    flip(&mut w, 1);
    let got = wait(&consumers, since, n, None);
    let created = got.iter().map(|r| r.created_ns).min().unwrap_or(0);
    let last = got.iter().map(|r| r.recv_ns).max().unwrap_or(0);
    std::thread::sleep(Duration::from_millis(500));
    let after = rss_kib(a.pid());
    #[allow(clippy::cast_precision_loss)]
    let secs = last.saturating_sub(created) as f64 / 1e9;
    println!("| subscribers | receipts | creation to last receipt (s) |");
    println!("|---:|---:|---:|");
    println!("| {n} | {} | {secs:.3} |", got.len());
    println!("\n| agent RSS | MB |\n|---|---:|");
    for (what, kib) in [
        ("idle", idle),
        ("10,000 subscriptions", subscribed),
        ("10,000 subscriptions, after one event to all", after),
    ] {
        #[allow(clippy::cast_precision_loss)]
        let mb = kib as f64 / 1024.0;
        println!("| {what} | {mb:.1} |");
    }
}

/// RSS with 2,000 connections that send half a request head and stop
/// (slowloris), under an open-file limit of 1,024.
fn slow_headers() {
    use std::io::Write;
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .unwrap_or((1024, 1024));
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard);
    let a = Agent::start_with_nofile(&[], 1024);
    std::thread::sleep(Duration::from_millis(300));
    let idle = rss_kib(a.pid());
    let mut held = Vec::new();
    for _ in 0..2000 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", a.api_port)) {
            let _ = s.write_all(b"GET /api/ocloudNotifications/v2/health HTTP/1.1\r\nX-a: ");
            held.push(s);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let held_rss = rss_kib(a.pid());
    let health = request("GET", &a.api("/health"), None)
        .map(|r| r.status)
        .unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let mb = |k: u64| k as f64 / 1024.0;
    println!(
        "| 2,000 slow-header connections (open-file limit 1,024) | /health | agent RSS idle | agent RSS with them |"
    );
    println!("|---|---:|---:|---:|");
    println!(
        "| {} made | {health} | {:.1} MB | {:.1} MB |",
        held.len(),
        mb(idle),
        mb(held_rss)
    );
}

fn main() {
    if std::env::args().any(|a| a == "slow") {
        slow_headers();
        return;
    }
    println!("Latency over TLS vs plain HTTP: event creation to receipt (µs)\n");
    println!("| scheme | subscribers | deliveries | p50 | p99 |");
    println!("|---|---:|---:|---:|---:|");
    for tls in [false, true] {
        latency(1, 500, Duration::from_millis(2), tls);
        latency(100, 100, Duration::from_millis(20), tls);
    }
    println!("\nOne event to 10,000 subscribers (10 consumer processes)\n");
    ten_thousand();
    println!("\nSlow request heads\n");
    slow_headers();
}
