//! Parser and engine throughput on recorded real linuxptp lines, and
//! allocations per line (a counting global allocator). Prints a Markdown
//! table. `cargo bench -p agent --bench engine` (or `cargo xtask bench`).

// A bench target sees every dependency of the package; it uses few.
#![allow(unused_crate_dependencies)]
// The counting allocator implements `GlobalAlloc`, an unsafe trait.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cloud_event_agent::bench::{
    Engine, Event, Msg, Origin, ProfileSet, PtpMetrics, Sink, Thresholds, message, parse_config,
    prefix,
};

/// Counts every allocation, then defers to the system allocator.
struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts events; allocates nothing itself.
#[derive(Default)]
struct Count(AtomicU64);

impl Sink for Count {
    fn publish(&self, _event: Event) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

const RECORDED: &str = include_str!("../../tests/data/ptp4l-slave-sw-ts.log");

/// The recorded run, untagged (plain ptp4l) and as the daemon tags it, plus
/// phc2sys lines in the anchor's format following the same offsets.
fn corpora() -> Vec<(&'static str, Vec<String>)> {
    let plain: Vec<String> = RECORDED.lines().map(str::to_owned).collect();
    let tagged: Vec<String> = plain
        .iter()
        .map(|l| l.replacen("]: ", "]: [ptp4l.0.config] ", 1))
        .collect();
    let mixed: Vec<String> = tagged
        .iter()
        .flat_map(|l| {
            let phc = l.contains("master offset").then(|| {
                let off = l.split_whitespace().nth(4).unwrap_or("0");
                format!(
                    "phc2sys[4268818.286]: [ptp4l.0.config] CLOCK_REALTIME phc offset {off} s2 freq -78368 delay 1100"
                )
            });
            std::iter::once(l.clone()).chain(phc)
        })
        .collect();
    vec![
        ("plain ptp4l (untagged)", plain),
        ("daemon-tagged ptp4l", tagged.clone()),
        ("daemon-tagged ptp4l, profile loaded", tagged),
        ("tagged ptp4l + phc2sys, profile loaded", mixed),
    ]
}

fn parse_all(lines: &[String]) -> usize {
    let mut used = 0;
    for l in lines {
        let p = prefix(l.as_bytes());
        if !matches!(message(p.process, p.message), Ok(Msg::Other) | Err(_)) {
            used += 1;
        }
    }
    used
}

/// Lines per second over at least `min` of repeated passes.
fn rate(lines: &[String], min: Duration, mut pass: impl FnMut(&[String])) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < min {
        pass(lines);
        n += lines.len() as u64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this
    // binary without it: then only a short smoke run.
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick") || !args.iter().any(|a| a == "--bench");
    let min = if quick {
        Duration::from_millis(200)
    } else {
        Duration::from_secs(2)
    };
    println!("## Engine (recorded linuxptp 3.1.1 lines, one core)\n");
    println!(
        "| input | lines | parse lines/s | engine lines/s | allocs/line, no state change | allocs/line, all | first-pass setup allocs |"
    );
    println!("|---|---|---|---|---|---|---|");
    let origin = Origin::default();
    let mut failed = false;
    for (name, lines) in corpora() {
        let parse_rate = rate(&lines, min, |l| {
            std::hint::black_box(parse_all(l));
        });
        let metrics = PtpMetrics::unregistered().expect("metrics");
        let mut e = Engine::new("bench-node".into(), Thresholds::default(), metrics);
        let sink = Count::default();
        if name.contains("profile") {
            let cfg = include_str!("../../tests/data/ptp4l-slave-sw-ts.cfg");
            let file = parse_config("ptp4l.0.config", cfg).expect("config");
            let set = ProfileSet::resolve(vec![file], &[], Thresholds::default());
            e.set_profiles(set, &sink);
        }
        let now = Instant::now();
        // Allocations per line, split by whether the line published.
        let (mut quiet, mut quiet_allocs, mut all_allocs) = (0u64, 0u64, 0u64);
        let mut setup = 0u64;
        for pass in 0..3 {
            for l in &lines {
                let (a0, e0) = (
                    ALLOCS.load(Ordering::Relaxed),
                    sink.0.load(Ordering::Relaxed),
                );
                e.ingest_line(&origin, l.as_bytes(), now, &sink);
                let a = ALLOCS.load(Ordering::Relaxed) - a0;
                all_allocs += a;
                // The first pass resolves metric handles (once per clock).
                if pass == 0 {
                    if sink.0.load(Ordering::Relaxed) == e0 {
                        setup += a;
                    }
                } else if sink.0.load(Ordering::Relaxed) == e0 {
                    quiet += 1;
                    quiet_allocs += a;
                    if a > 0 && std::env::var_os("BENCH_SHOW").is_some() {
                        eprintln!("{a} allocs: {l}");
                    }
                }
            }
        }
        let engine_rate = rate(&lines, min, |ls| {
            for l in ls {
                e.ingest_line(&origin, l.as_bytes(), now, &sink);
            }
        });
        let total = 3 * lines.len() as u64;
        println!(
            "| {name} | {} | {:.2} M | {:.2} M | {:.4} ({quiet_allocs} in {quiet}) | {:.3} | {setup} |",
            lines.len(),
            parse_rate / 1e6,
            engine_rate / 1e6,
            quiet_allocs as f64 / quiet.max(1) as f64,
            all_allocs as f64 / total as f64,
        );
        failed |= quiet_allocs > 0;
    }
    stage_cost(min);
    if failed {
        eprintln!("lines that change no state allocated: a hot-path regression");
        std::process::exit(1);
    }
}

/// What the stage timing costs: one clock read and one histogram
/// observation, as every stage does (an event has four, two per delivery).
fn stage_cost(min: Duration) {
    let h = prometheus::Histogram::with_opts(
        prometheus::HistogramOpts::new("x", "x")
            .buckets(prometheus::exponential_buckets(2e-6, 2.0, 17).expect("buckets")),
    )
    .expect("histogram");
    let prev = Instant::now();
    let t0 = Instant::now();
    let mut n = 0u64;
    while t0.elapsed() < min {
        for _ in 0..1000 {
            let now = Instant::now();
            h.observe(std::hint::black_box(now.saturating_duration_since(prev)).as_secs_f64());
        }
        n += 1000;
    }
    let ns = t0.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "\nStage timing: one clock read + one histogram observation: {ns:.0} ns (per delivery two, per event two more)"
    );
}
