//! Delivery bench: the release agent, real consumer processes
//! (`test-consumer --receipts-only`), events made by the engine from ptp4l
//! lines written to the log socket (each line flips lock-state between
//! LOCKED and FREERUN). Latency is the event's CloudEvent `time` (set when
//! the engine creates it) to the consumer's receipt, both wall clocks of
//! this machine. Prints Markdown tables.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use agent_tests::{Agent, Consumer, LogWriter, request, wait_for};

/// Consumer processes: at most this many, endpoints spread over them.
const MAX_CONSUMERS: usize = 10;

struct Setup {
    agent: Agent,
    consumers: Vec<Consumer>,
    subscribers: usize,
}

impl Setup {
    fn new(subscribers: usize) -> Self {
        let agent = Agent::start(&["--queue-capacity", "1000000"]);
        let consumers: Vec<_> = (0..subscribers.min(MAX_CONSUMERS))
            .map(|_| Consumer::with_args(&["--receipts-only"]))
            .collect();
        let lock = agent.address("/sync/ptp-status/lock-state");
        for i in 0..subscribers {
            let ep = consumers[i % consumers.len()].endpoint(&format!("/ep/{i}"));
            let body = format!(r#"{{"ResourceAddress":"{lock}","EndpointUri":"{ep}"}}"#);
            let r = request("POST", &agent.api("/subscriptions"), Some(body.as_bytes()))
                .expect("subscribe");
            assert_eq!(r.status, 201, "subscribe {i}: {}", r.text());
        }
        Self {
            agent,
            consumers,
            subscribers,
        }
    }

    /// `(id, created_ns, recv_ns)` of every receipt of an event created
    /// after `since_ns` (initial notifications excluded).
    fn receipts(&self, since_ns: u128) -> Vec<(String, u128, u128)> {
        let mut all = Vec::new();
        for c in &self.consumers {
            let r = request("GET", &c.endpoint("/_receipts"), None).expect("receipts");
            let v: Vec<(String, String, u128, u128)> =
                serde_json::from_slice(&r.body).expect("receipts JSON");
            all.extend(
                v.into_iter()
                    .filter(|r| r.2 >= since_ns)
                    .map(|(_, id, c, r)| (id, c, r)),
            );
        }
        all
    }

    fn wait_receipts(&self, since_ns: u128, want: usize) -> Vec<(String, u128, u128)> {
        let ok = wait_for(Duration::from_secs(120), || {
            let n: usize = self
                .consumers
                .iter()
                .map(|c| {
                    request("GET", &c.endpoint("/_receipts"), None)
                        .ok()
                        .and_then(|r| {
                            serde_json::from_slice::<Vec<(String, String, u128, u128)>>(&r.body)
                                .ok()
                        })
                        .map_or(0, |v| v.iter().filter(|r| r.2 >= since_ns).count())
                })
                .sum();
            (n >= want).then_some(())
        });
        if ok.is_none() {
            eprintln!("note: fewer than {want} receipts arrived");
        }
        self.receipts(since_ns)
    }
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Writes one line that flips the lock state (in range / out of range).
fn flip(w: &mut LogWriter, k: usize) {
    let off = if k.is_multiple_of(2) { 5 } else { 5000 };
    w.line(&format!(
        "ptp4l[{k}.000]: [ptp4l.0.config] master offset {off} s2 freq -1 path delay 100"
    ));
}

fn pct(sorted: &[u128], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    #[allow(clippy::cast_precision_loss)]
    let v = sorted[i] as f64 / 1000.0;
    v
}

/// Paced transitions; per event, the latency to the *last* subscriber.
fn latency(subscribers: usize, transitions: usize, gap: Duration) {
    let s = Setup::new(subscribers);
    let mut w = s.agent.connect_socket();
    // The first line sets a state; start measuring after it.
    flip(&mut w, 1);
    std::thread::sleep(Duration::from_millis(200));
    let since = now_ns();
    for k in 0..transitions {
        flip(&mut w, k);
        std::thread::sleep(gap);
    }
    let got = s.wait_receipts(since, transitions * subscribers);
    let mut per_event: HashMap<String, (u128, u128, usize)> = HashMap::new();
    let mut per_delivery: Vec<u128> = Vec::with_capacity(got.len());
    for (id, created, recv) in got {
        per_delivery.push(recv.saturating_sub(created));
        let e = per_event.entry(id).or_insert((created, 0, 0));
        e.1 = e.1.max(recv);
        e.2 += 1;
    }
    let mut last: Vec<u128> = per_event
        .values()
        .filter(|e| e.2 == s.subscribers)
        .map(|e| e.1.saturating_sub(e.0))
        .collect();
    last.sort_unstable();
    per_delivery.sort_unstable();
    println!(
        "| {subscribers} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
        last.len(),
        pct(&per_delivery, 0.5),
        pct(&per_delivery, 0.99),
        pct(&last, 0.5),
        pct(&last, 0.99),
        last.last().map_or(f64::NAN, |v| {
            #[allow(clippy::cast_precision_loss)]
            let v = *v as f64 / 1000.0;
            v
        }),
    );
}

/// A burst of transitions as fast as the socket takes them.
fn throughput(subscribers: usize, transitions: usize) {
    let s = Setup::new(subscribers);
    let mut w = s.agent.connect_socket();
    flip(&mut w, 1);
    std::thread::sleep(Duration::from_millis(200));
    let since = now_ns();
    let t0 = Instant::now();
    for k in 0..transitions {
        flip(&mut w, k);
    }
    let wrote = t0.elapsed();
    let got = s.wait_receipts(since, transitions * subscribers);
    let first = got.iter().map(|r| r.1).min().unwrap_or(0);
    let end = got.iter().map(|r| r.2).max().unwrap_or(0);
    #[allow(clippy::cast_precision_loss)]
    let secs = end.saturating_sub(first) as f64 / 1e9;
    #[allow(clippy::cast_precision_loss)]
    let rate = got.len() as f64 / secs;
    println!(
        "| {subscribers} | {transitions} | {} | {:.0} | {:.3} | {rate:.0} |",
        got.len(),
        wrote.as_secs_f64() * 1000.0,
        secs
    );
}

fn main() {
    println!("Latency: event creation to receipt (µs), paced transitions\n");
    println!(
        "| subscribers | events | p50 per delivery | p99 per delivery | p50 to last subscriber | p99 to last subscriber | max to last subscriber |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    latency(1, 1000, Duration::from_millis(2));
    latency(10, 1000, Duration::from_millis(3));
    latency(100, 300, Duration::from_millis(15));
    println!("\nFan-out throughput: a burst of transitions, no coalescing\n");
    println!(
        "| subscribers | events | deliveries | lines written in (ms) | first creation to last receipt (s) | deliveries/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    throughput(10, 20_000);
}
