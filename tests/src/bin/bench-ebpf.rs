//! eBPF source bench (root): the release agent with `--source ebpf`, real
//! consumer processes (`test-consumer --receipts-only`), and a watched
//! process (`fake-daemon` named `ptp4l`) writing lines that flip
//! lock-state. The agent runs with `--ebpf-trust-any` so that process is
//! trusted by name (the trust check itself is tested elsewhere).
//!
//! 1. Latency from the process's write(2) (wall clock taken just before it)
//!    to each consumer's receipt, with 1 and 100 subscribers.
//! 2. ptp4l exit (the SIGKILL) to the FREERUN event's receipt.
//! 3. Probe overhead: CPU time of a watched process writing 1,000 lines/s,
//!    with and without the probes attached.
//! 4. Flood fairness: another watched process (named `phc2sys`) writes
//!    lines as fast as it can while the `ptp4l` flips lock-state every
//!    10 ms; the flips' latency and how many arrived, the records the
//!    kernel dropped (ring full, over budget) and the agent's RSS.
//!
//! Prints Markdown tables.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_tests::receipts::{self, now_ns, pct_us};
use agent_tests::stages;
use agent_tests::usage::{children_cpu, proc_cpu, rss_kib};
use agent_tests::{Agent, sample, wait_for, workspace_bin};

fn agent() -> Agent {
    Agent::start(&[
        "--source",
        "ebpf",
        "--ebpf-trust-any",
        "--queue-capacity",
        "1000000",
        "--ebpf-ring-bytes",
        "4194304",
    ])
}

fn fake(args: &[&str]) -> Command {
    fake_named("ptp4l", args)
}

fn fake_named(name: &str, args: &[&str]) -> Command {
    let mut c = Command::new(workspace_bin("fake-daemon"));
    c.args(["--name", name])
        .args(args)
        .stdout(Stdio::null())
        .stdin(Stdio::null());
    c
}

/// Write-to-receipt latency over `transitions` paced flips.
fn latency(subscribers: usize, transitions: u32, gap: Duration) {
    let a = agent();
    let consumers = receipts::fan_out(&a, subscribers);
    std::thread::sleep(Duration::from_millis(300));
    let dir = tempfile::tempdir().expect("tempdir");
    let times = dir.path().join("times");
    let since = now_ns();
    let st = fake(&[
        "flip",
        "--count",
        &transitions.to_string(),
        "--gap-us",
        &gap.as_micros().to_string(),
        "--times",
        times.to_str().expect("utf-8 path"),
    ])
    .status()
    .expect("fake-daemon");
    assert!(st.success());
    let writes: Vec<u128> = std::fs::read_to_string(&times)
        .expect("times")
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    let want = writes.len() * subscribers;
    let got = receipts::wait(&consumers, since, want, Duration::from_secs(120));
    // Per endpoint, the k-th event is the k-th write (paced: nothing is
    // coalesced; any loss shows in the counts).
    let mut by_ep: std::collections::HashMap<String, Vec<(u128, u128)>> =
        std::collections::HashMap::new();
    for r in got {
        by_ep
            .entry(r.path)
            .or_default()
            .push((r.created_ns, r.recv_ns));
    }
    let mut per_delivery = Vec::new();
    let mut last = vec![0u128; writes.len()];
    let mut complete = 0;
    for v in by_ep.values_mut() {
        v.sort_unstable();
        if v.len() != writes.len() {
            continue;
        }
        complete += 1;
        for (k, (_, recv)) in v.iter().enumerate() {
            let l = recv.saturating_sub(writes[k]);
            per_delivery.push(l);
            last[k] = last[k].max(l);
        }
    }
    per_delivery.sort_unstable();
    last.sort_unstable();
    println!(
        "| {subscribers} | {} | {complete}/{subscribers} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
        writes.len(),
        pct_us(&per_delivery, 0.5),
        pct_us(&per_delivery, 0.99),
        pct_us(&per_delivery, 1.0),
        pct_us(&last, 0.5),
        pct_us(&last, 0.99),
    );
}

/// SIGKILL of a LOCKED ptp4l to the FREERUN receipt, `rounds` times.
fn exit_to_freerun(rounds: usize) {
    let a = agent();
    let c = receipts::fan_out(&a, 1);
    std::thread::sleep(Duration::from_millis(300));
    let line = "ptp4l[1.000]: master offset 5 s2 freq -1 path delay 100";
    let mut lat = Vec::new();
    for _ in 0..rounds {
        let since = now_ns();
        let mut p = fake(&["print", "--line", line, "--hold-ms", "60000"])
            .spawn()
            .expect("fake ptp4l");
        // LOCKED received.
        if wait_for(Duration::from_secs(10), || {
            (!receipts::collect(&c, since).is_empty()).then_some(())
        })
        .is_none()
        {
            let _ = p.kill();
            let _ = p.wait();
            continue;
        }
        std::thread::sleep(Duration::from_millis(20));
        let t0 = now_ns();
        let _ = p.kill();
        let got = wait_for(Duration::from_secs(10), || {
            let r = receipts::collect(&c, t0);
            r.first().map(|x| x.recv_ns)
        });
        let _ = p.wait();
        if let Some(recv) = got {
            lat.push(recv.saturating_sub(t0));
        }
    }
    lat.sort_unstable();
    println!(
        "| {} | {:.0} | {:.0} | {:.0} |",
        lat.len(),
        pct_us(&lat, 0.5),
        pct_us(&lat, 0.99),
        pct_us(&lat, 1.0)
    );
}
/// One run of a process writing `lines` lines at 1,000/s: (its CPU s, wall s).
fn writer_cpu(lines: u32, dir: &Path) -> (f64, f64) {
    let before = children_cpu();
    let t0 = Instant::now();
    let st = fake(&[
        "flip",
        "--count",
        &lines.to_string(),
        "--gap-us",
        "1000",
        "--times",
        dir.join("t").to_str().expect("utf-8 path"),
    ])
    .status()
    .expect("fake-daemon");
    assert!(st.success());
    (children_cpu() - before, t0.elapsed().as_secs_f64())
}

fn overhead(lines: u32, rounds: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut off = 0.0;
    let mut on = 0.0;
    let mut wall = 0.0;
    let mut agent_cpu = 0.0;
    // Alternate without and with the probes, to spread drift evenly.
    for _ in 0..rounds {
        let (c, w) = writer_cpu(lines, dir.path());
        off += c;
        wall += w;
        let a = agent();
        std::thread::sleep(Duration::from_millis(300));
        let a0 = proc_cpu(a.pid());
        let (c, w) = writer_cpu(lines, dir.path());
        agent_cpu += proc_cpu(a.pid()) - a0;
        on += c;
        wall += w;
        drop(a);
    }
    #[allow(clippy::cast_precision_loss)]
    let n = rounds as f64;
    let wall = wall / (2.0 * n);
    let (off, on, agent_cpu) = (off / n, on / n, agent_cpu / n);
    println!(
        "| {lines} | {:.1} | {:.1} | {:.1} | {:+.2} % | {:+.1} % | {:.2} % |",
        wall,
        off * 1000.0,
        on * 1000.0,
        (on - off) / wall * 100.0,
        if off > 0.0 {
            (on - off) / off * 100.0
        } else {
            f64::NAN
        },
        agent_cpu / wall * 100.0
    );
}

/// `flood`: none, `garbage`, or `valid` (phc2sys offset lines and garbage).
/// The agent runs with the default ring (256 KiB) and line budget. With
/// `pinned` the flooder runs on CPU 0 only (`taskset`), so it cannot take
/// both cores from the agent and the other daemon: that separates what the
/// scheduler costs from what the agent does.
fn flood_fairness(flood: &str, pinned: bool, transitions: u32) {
    let a = Agent::start(&["--source", "ebpf", "--ebpf-trust-any"]);
    let c = receipts::fan_out(&a, 1);
    std::thread::sleep(Duration::from_millis(300));
    let mut flooder = (flood != "none").then(|| {
        let mut args = vec!["flood", "--count", "100000000000"];
        if flood == "valid" {
            args.push("--valid");
        }
        let mut c = if pinned {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"])
                .arg(workspace_bin("fake-daemon"))
                .args(["--name", "phc2sys"])
                .args(&args)
                .stdout(Stdio::null())
                .stdin(Stdio::null());
            c
        } else {
            fake_named("phc2sys", &args)
        };
        c.spawn().expect("flooder")
    });
    std::thread::sleep(Duration::from_millis(500));
    let rss0 = rss_kib(a.pid());
    let m0 = a.metrics();
    let t0 = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let times = dir.path().join("times");
    let since = now_ns();
    let mut flip = fake(&[
        "flip",
        "--count",
        &transitions.to_string(),
        "--gap-us",
        "10000",
        "--times",
        times.to_str().expect("utf-8 path"),
    ])
    .spawn()
    .expect("flip");
    let mut rss_max = rss0;
    while flip.try_wait().expect("wait").is_none() {
        rss_max = rss_max.max(rss_kib(a.pid()));
        std::thread::sleep(Duration::from_millis(50));
    }
    let got = receipts::wait(&c, since, transitions as usize, Duration::from_secs(10));
    rss_max = rss_max.max(rss_kib(a.pid()));
    let m1 = a.metrics();
    let secs = t0.elapsed().as_secs_f64();
    if let Some(f) = &mut flooder {
        let _ = f.kill();
        let _ = f.wait();
    }
    let d = |series: &str| sample(&m1, series) - sample(&m0, series);
    // The agent's own part: kernel time of the record to the event made.
    let engine = stages::parse(&m1)[0].since(&stages::parse(&m0)[0]);
    let lines = d("cloud_event_agent_ebpf_lines_total");
    let ring_full = d("cloud_event_agent_ebpf_lost_records_total{kind=\"log_line\"}");
    let budget =
        d("cloud_event_agent_ebpf_lines_dropped_total{process=\"phc2sys\",reason=\"over_budget\"}");
    // The flips' own losses, when the kernel says whose lines it dropped.
    let quiet_lost = d(
        "cloud_event_agent_ebpf_lines_dropped_total{process=\"ptp4l\",reason=\"ring_full\"}",
    ) + d(
        "cloud_event_agent_ebpf_lines_dropped_total{process=\"ptp4l\",reason=\"over_budget\"}",
    );
    let writes: Vec<u128> = std::fs::read_to_string(&times)
        .expect("times")
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect();
    let mut recv: Vec<u128> = got.iter().map(|r| r.recv_ns).collect();
    recv.sort_unstable();
    // Paced flips, nothing coalesced: the k-th receipt is the k-th write
    // when all arrived (else no latency is shown).
    let mut lat: Vec<u128> = if recv.len() == writes.len() {
        recv.iter()
            .zip(&writes)
            .map(|(r, w)| r.saturating_sub(*w))
            .collect()
    } else {
        Vec::new()
    };
    lat.sort_unstable();
    println!(
        "| {flood}{} | {} / {transitions} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {quiet_lost:.0} | {:.0} / {:.0} | {} / {} |",
        if pinned { ", flooder on CPU 0" } else { "" },
        recv.len(),
        pct_us(&lat, 0.5),
        pct_us(&lat, 0.99),
        pct_us(&lat, 1.0),
        lines / secs,
        ring_full,
        budget,
        engine.quantile_us(0.5),
        engine.quantile_us(0.99),
        rss0,
        rss_max,
    );
}

fn main() {
    if std::env::args().any(|a| a == "--flood-only") {
        flood_table();
        return;
    }
    println!("Latency: a watched process's write(2) to a real HTTP consumer's receipt (µs)\n");
    println!(
        "| subscribers | transitions | endpoints complete | p50 | p99 | max | p50 to last subscriber | p99 to last subscriber |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    latency(1, 1000, Duration::from_millis(2));
    latency(100, 1000, Duration::from_millis(20));
    println!("\nptp4l exit (SIGKILL) to the FREERUN event's receipt (µs)\n");
    println!("| rounds | p50 | p99 | max |");
    println!("|---:|---:|---:|---:|");
    exit_to_freerun(30);
    println!(
        "\nProbe overhead: CPU of a watched process writing 1,000 lines/s, without and with the probes\n"
    );
    println!(
        "| lines | wall per run (s) | CPU without (ms) | CPU with (ms) | extra CPU / wall time | extra CPU / CPU without | agent CPU / wall time |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    overhead(5000, 3);
    flood_table();
}

fn flood_table() {
    println!(
        "\nFlood fairness: a watched phc2sys writing as fast as it can while the ptp4l flips lock-state every 10 ms; flip written to receipt (µs), default ring and budget\n"
    );
    println!(
        "| flood | flips received | p50 | p99 | max | lines to the engine per s | log records lost, ring full | phc2sys lines over budget | ptp4l lines dropped | record to event p50 / p99 | agent RSS before / max during (KiB) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    flood_fairness("none", false, 300);
    for pinned in [false, true] {
        flood_fairness("garbage", pinned, 300);
        flood_fairness("valid", pinned, 300);
    }
}
