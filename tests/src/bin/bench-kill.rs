//! Liveness bench (root): `kill -9` of a LOCKED real ptp4l slave (network
//! namespaces, no CAP_SYS_TIME) to the FREERUN event's receipt at
//! a real HTTP consumer, with the log socket (ptp4l's output piped in, no
//! status lines: the agent's management client must notice the death) and
//! with the eBPF source (the exit record). The master keeps running; the
//! slave is started again for every kill.
//!
//! Prints a Markdown table.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use agent_tests::ptp::{self, ChildGuard, NetnsPair, TIMING};
use agent_tests::receipts::now_ns;
use agent_tests::{Agent, Consumer, wait_for};

/// Kills per source (`CEA_BENCH_KILLS` overrides, for a quick look).
fn kills() -> usize {
    std::env::var("CEA_BENCH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Socket,
    Ebpf,
}

/// `(recv_ns, value)` of the lock-state notifications received for `addr`.
fn states(c: &Consumer, addr: &str) -> Vec<(u128, String)> {
    c.events()
        .into_iter()
        .flat_map(|e| {
            let recv: u128 = e["recv_ns"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            e["body"]["data"]["values"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter(|v| v["data_type"] == "notification" && v["ResourceAddress"] == addr)
                .filter_map(move |v| v["value"].as_str().map(|s| (recv, s.to_owned())))
        })
        .collect()
}

fn slave(mode: Mode, ns: &str, cfg: &Path, a: &Agent, log: &Path) -> ChildGuard {
    let cfg = cfg.to_str().expect("UTF-8 path");
    match mode {
        Mode::Ebpf => {
            let out = std::fs::File::create(log).expect("slave log");
            let err = out.try_clone().expect("slave log");
            ptp::spawn_ptp4l_args(ns, &["-f", cfg, "-m"], out.into(), err.into())
        }
        Mode::Socket => {
            let mut child =
                ptp::spawn_ptp4l_args(ns, &["-f", cfg, "-m"], Stdio::piped(), Stdio::null());
            let out = child.take_stdout();
            let mut w = a.connect_socket();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    w.line(&line);
                }
            });
            child
        }
    }
}

/// [`kills`] kills; the kill-to-receipt times in ns.
fn run(mode: Mode, tag: &str) -> Vec<u128> {
    let args: &[&str] = match mode {
        Mode::Socket => &["--source", "socket"],
        Mode::Ebpf => &["--source", "ebpf"],
    };
    let mut all = args.to_vec();
    all.extend_from_slice(&[
        "--max-offset-threshold",
        "10000",
        "--min-offset-threshold",
        "-10000",
    ]);
    let a = Agent::start(&all);
    let c = Consumer::start();
    a.subscribe("/sync/ptp-status/lock-state", &c.endpoint("/lock"));
    let pair = NetnsPair::new(&format!("{tag}{}", std::process::id() % 10_000));
    let tmp = tempfile::tempdir().expect("tempdir");
    let mcfg = tmp.path().join("master.cfg");
    std::fs::write(
        &mcfg,
        format!(
            "[global]\n{TIMING}priority1 1\npriority2 1\nfree_running 1\nuds_address {}\n[{}]\nmasterOnly 1\n",
            tmp.path().join("m.sock").display(),
            pair.master_if
        ),
    )
    .expect("master config");
    // In the agent's config directory: the socket mode's management client
    // finds ptp4l's socket through it.
    let scfg = a.dir.path().join("ptp4l.0.config");
    std::fs::write(
        &scfg,
        format!(
            "[global]\n{TIMING}slaveOnly 1\nfree_running 0\npi_proportional_const 0.7\n\
             pi_integral_const 0.3\nmessage_tag [ptp4l.0.config]\nuds_address {}\n[{}]\n",
            tmp.path().join("s.sock").display(),
            pair.slave_if
        ),
    )
    .expect("slave config");
    std::thread::sleep(Duration::from_secs(3));
    let mlog = std::fs::File::create(tmp.path().join("m.log")).expect("master log");
    let merr = mlog.try_clone().expect("master log");
    let _master = ptp::spawn_ptp4l_args(
        &pair.master_ns,
        &["-f", mcfg.to_str().expect("UTF-8"), "-m"],
        mlog.into(),
        merr.into(),
    );
    let addr = a.address(&format!("/{}/master", pair.slave_if));
    let mut lat = Vec::new();
    for _ in 0..kills() {
        let since = now_ns();
        let mut s = slave(mode, &pair.slave_ns, &scfg, &a, &tmp.path().join("s.log"));
        let locked = wait_for(Duration::from_secs(90), || {
            states(&c, &addr)
                .iter()
                .any(|(t, v)| *t >= since && v == "LOCKED")
                .then_some(())
        });
        if locked.is_none() {
            eprintln!("note: the slave did not lock; round left out");
            continue;
        }
        std::thread::sleep(Duration::from_millis(300));
        let t0 = now_ns();
        s.kill();
        let freed = wait_for(Duration::from_secs(10), || {
            states(&c, &addr)
                .into_iter()
                .find(|(t, v)| *t >= t0 && v == "FREERUN")
                .map(|(t, _)| t)
        });
        match freed {
            Some(t) => lat.push(t - t0),
            None => eprintln!("note: no FREERUN within 10 s of the kill"),
        }
        c.clear();
        // The socket file of the killed ptp4l stays; the next one replaces it.
        std::thread::sleep(Duration::from_millis(500));
    }
    lat.sort_unstable();
    lat
}

fn ms(sorted: &[u128], p: f64) -> f64 {
    agent_tests::receipts::pct_us(sorted, p) / 1000.0
}

fn main() {
    if let Err(why) = ptp::can_run_ptp4l() {
        eprintln!("bench-kill left out: {why}");
        return;
    }
    println!("kill -9 of a LOCKED ptp4l to the FREERUN event's receipt (ms)\n");
    println!("| source | kills | p50 | max |");
    println!("|---|---:|---:|---:|");
    for (mode, name, tag) in [
        (
            Mode::Socket,
            "log socket (management socket liveness)",
            "n9ks",
        ),
        (Mode::Ebpf, "eBPF (exit record)", "n9ke"),
    ] {
        let lat = run(mode, tag);
        println!(
            "| {name} | {} | {:.1} | {:.1} |",
            lat.len(),
            ms(&lat, 0.5),
            ms(&lat, 1.0)
        );
    }
}
