//! Flood fairness bench: the release agent, one real consumer process, and
//! `FLOODERS` connections to the log socket writing as fast as the socket
//! takes them (half valid lines of another ptp4l instance that change no
//! state, half garbage). Meanwhile one other connection writes paced
//! lines that flip lock-state; latency is from just before that line's
//! write(2) to the consumer's receipt. Also the agent's RSS during the
//! flood and the lines it took. Prints a Markdown table.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use agent_tests::receipts::{self, now_ns, pct_us};
use agent_tests::usage::rss_kib;
use agent_tests::{Agent, LogWriter};

const FLOODERS: usize = 100;

fn flip(w: &mut LogWriter, k: usize) {
    let off = if k.is_multiple_of(2) { 5 } else { 5000 };
    w.line(&format!(
        "ptp4l[{k}.000]: [ptp4l.0.config] master offset {off} s2 freq -1 path delay 100"
    ));
}

fn run(flooders: usize, transitions: usize, gap: Duration) {
    let agent = Agent::start(&["--queue-capacity", "1000000"]);
    let consumers = receipts::fan_out(&agent, 1);
    let mut w = agent.connect_socket();
    flip(&mut w, 1);
    std::thread::sleep(Duration::from_millis(200));
    let stop = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..flooders)
        .map(|i| {
            let (stop, bytes) = (stop.clone(), bytes.clone());
            let path = agent.socket_path();
            std::thread::spawn(move || {
                let a = AgentPath(path);
                a.flood(i, &stop, &bytes);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = rss_kib(agent.pid());
    let mut rss_max = rss0;
    let since = now_ns();
    let t0 = Instant::now();
    let b0 = bytes.load(Ordering::Relaxed);
    let mut writes = Vec::with_capacity(transitions);
    for k in 0..transitions {
        writes.push(now_ns());
        flip(&mut w, k);
        std::thread::sleep(gap);
        if k % 20 == 0 {
            rss_max = rss_max.max(rss_kib(agent.pid()));
        }
    }
    let flood_s = t0.elapsed().as_secs_f64();
    let flood_bytes = bytes.load(Ordering::Relaxed) - b0;
    let got = receipts::wait(&consumers, since, transitions, Duration::from_secs(60));
    rss_max = rss_max.max(rss_kib(agent.pid()));
    stop.store(true, Ordering::Relaxed);
    drop(agent);
    for t in threads {
        let _ = t.join();
    }
    let mut recv: Vec<(u128, u128)> = got.iter().map(|r| (r.created_ns, r.recv_ns)).collect();
    recv.sort_unstable();
    let mut lat: Vec<u128> = if recv.len() == writes.len() {
        recv.iter()
            .zip(&writes)
            .map(|((_, r), w)| r.saturating_sub(*w))
            .collect()
    } else {
        Vec::new()
    };
    lat.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let mib_s = flood_bytes as f64 / flood_s / (1024.0 * 1024.0);
    println!(
        "| {flooders} | {} / {transitions} | {:.0} | {:.0} | {:.0} | {mib_s:.1} | {rss0} | {rss_max} |",
        recv.len(),
        pct_us(&lat, 0.5),
        pct_us(&lat, 0.99),
        pct_us(&lat, 1.0),
    );
}

/// A socket path flooders connect to (the agent stays on the main thread).
struct AgentPath(std::path::PathBuf);

impl AgentPath {
    /// One flooding connection: a 60 KiB block of lines, written again and
    /// again until `stop`.
    fn flood(&self, i: usize, stop: &AtomicBool, bytes: &AtomicU64) {
        let Ok(mut s) = UnixStream::connect(&self.0) else {
            return;
        };
        let mut block = Vec::with_capacity(64 * 1024);
        let mut k = 0;
        while block.len() < 60 * 1024 {
            if i.is_multiple_of(2) {
                block.extend_from_slice(
                    format!(
                        "ptp4l[{k}.000]: [ptp4l.{}.config] master offset 7 s2 freq -1 path delay 100\n",
                        i + 1
                    )
                    .as_bytes(),
                );
            } else {
                block.extend_from_slice(b"garbage that is no linuxptp line at all, flooding\n");
            }
            k += 1;
        }
        while !stop.load(Ordering::Relaxed) {
            if s.write_all(&block).is_err() {
                return;
            }
            bytes.fetch_add(block.len() as u64, Ordering::Relaxed);
        }
    }
}

fn main() {
    println!(
        "State-changing lines of one connection while others flood the log socket: line written to receipt (µs), 1 subscriber\n"
    );
    println!(
        "| flooding connections | events received | p50 | p99 | max | flood taken (MiB/s) | agent RSS before flood (KiB) | agent RSS max during flood (KiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    run(0, 300, Duration::from_millis(10));
    run(FLOODERS, 300, Duration::from_millis(10));
}
