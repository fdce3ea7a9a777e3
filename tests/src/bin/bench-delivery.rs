//! Delivery bench: the release agent, real consumer processes
//! (`test-consumer --receipts-only`), events made by the engine from ptp4l
//! lines written to the log socket (each line flips lock-state between
//! LOCKED and FREERUN). Latency is the event's CloudEvent `time` (set when
//! the engine creates it) to the consumer's receipt, both wall clocks of
//! this machine; with one subscriber also from the wall clock just before
//! the line's write(2) into the log socket. After each run, the agent's
//! stage histograms say where the time went. Prints Markdown tables.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agent_tests::receipts::{self, Receipt, now_ns, pct_us};
use agent_tests::usage::proc_cpu;
use agent_tests::{Agent, Consumer, LogWriter, stages};

struct Setup {
    agent: Agent,
    consumers: Vec<Consumer>,
    subscribers: usize,
}

impl Setup {
    fn new(subscribers: usize) -> Self {
        let agent = Agent::start(&["--queue-capacity", "1000000"]);
        let consumers = receipts::fan_out(&agent, subscribers);
        Self {
            agent,
            consumers,
            subscribers,
        }
    }

    fn wait_receipts(&self, since_ns: u128, want: usize) -> Vec<Receipt> {
        receipts::wait(&self.consumers, since_ns, want, Duration::from_secs(120))
    }
}
/// Writes one line that flips the lock state (in range / out of range).
fn flip(w: &mut LogWriter, k: usize) {
    let off = if k.is_multiple_of(2) { 5 } else { 5000 };
    w.line(&format!(
        "ptp4l[{k}.000]: [ptp4l.0.config] master offset {off} s2 freq -1 path delay 100"
    ));
}

/// Paced transitions; per event, the latency to the *last* subscriber.
/// Returns the stage histograms of the run (before, after).
fn latency(
    subscribers: usize,
    transitions: usize,
    gap: Duration,
) -> (Vec<stages::Hist>, Vec<stages::Hist>) {
    let s = Setup::new(subscribers);
    let mut w = s.agent.connect_socket();
    // The first line sets a state; start measuring after it.
    flip(&mut w, 1);
    std::thread::sleep(Duration::from_millis(200));
    let before = stages::scrape(&s.agent);
    let cpu0 = proc_cpu(s.agent.pid());
    let since = now_ns();
    let mut writes = Vec::with_capacity(transitions);
    for k in 0..transitions {
        writes.push(now_ns());
        flip(&mut w, k);
        std::thread::sleep(gap);
    }
    let got = s.wait_receipts(since, transitions * subscribers);
    #[allow(clippy::cast_precision_loss)]
    let cpu_ms = (proc_cpu(s.agent.pid()) - cpu0) * 1000.0 / transitions as f64;
    // Per endpoint, the k-th receipt (by creation) is the k-th line.
    let mut by_ep: HashMap<&str, Vec<(u128, u128)>> = HashMap::new();
    for r in &got {
        by_ep
            .entry(r.path.as_str())
            .or_default()
            .push((r.created_ns, r.recv_ns));
    }
    let mut from_write = Vec::new();
    for v in by_ep.values_mut() {
        v.sort_unstable();
        if v.len() == writes.len() {
            from_write.extend(
                v.iter()
                    .zip(&writes)
                    .map(|((_, recv), w)| recv.saturating_sub(*w)),
            );
        }
    }
    from_write.sort_unstable();
    let mut per_event: HashMap<String, (u128, u128, usize)> = HashMap::new();
    let mut per_delivery: Vec<u128> = Vec::with_capacity(got.len());
    for Receipt {
        id,
        created_ns: created,
        recv_ns: recv,
        ..
    } in got
    {
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
        "| {subscribers} | {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {cpu_ms:.3} |",
        last.len(),
        pct_us(&from_write, 0.5),
        pct_us(&from_write, 0.99),
        pct_us(&per_delivery, 0.5),
        pct_us(&per_delivery, 0.99),
        pct_us(&last, 0.5),
        pct_us(&last, 0.99),
        last.last().map_or(f64::NAN, |v| {
            #[allow(clippy::cast_precision_loss)]
            let v = *v as f64 / 1000.0;
            v
        }),
    );
    (before, stages::scrape(&s.agent))
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
    let first = got.iter().map(|r| r.created_ns).min().unwrap_or(0);
    let end = got.iter().map(|r| r.recv_ns).max().unwrap_or(0);
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
    println!(
        "Latency (µs), paced transitions: line written to receipt, and event creation to receipt\n"
    );
    println!(
        "| subscribers | events | p50 line written to receipt | p99 line written to receipt | p50 per delivery | p99 per delivery | p50 to last subscriber | p99 to last subscriber | max to last subscriber | agent CPU per transition (ms) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let runs = [
        (1, latency(1, 1000, Duration::from_millis(2))),
        (10, latency(10, 1000, Duration::from_millis(3))),
        (100, latency(100, 300, Duration::from_millis(15))),
    ];
    println!(
        "\nStages (agent's `cloud_event_agent_stage_seconds`, each since the previous stage; per delivery from `written` on)\n"
    );
    stages::header();
    for (n, (before, after)) in &runs {
        stages::rows(&format!("{n} subscribers"), before, after);
    }
    println!("\nFan-out throughput: a burst of transitions, no coalescing\n");
    println!(
        "| subscribers | events | deliveries | lines written in (ms) | first creation to last receipt (s) | deliveries/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    throughput(10, 20_000);
}
