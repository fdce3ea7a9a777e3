//! `cargo xtask bench`: every benchmark, each printing its own Markdown
//! table. Release builds; figures go into the README.

use std::ffi::OsString;

use crate::{cargo, setup, status, toolchain};

pub(crate) fn bench() -> anyhow::Result<()> {
    // The probes need the BPF toolchain; without it (not root) the agent
    // builds without them and the eBPF bench is left out.
    let root = setup::is_root();
    let path = toolchain::path_or_plain(root, "eBPF bench left out")?;
    // The bench binaries start the release agent and consumers next to them.
    status(
        cargo()
            .args(["build", "--release", "-q", "--workspace", "--bins"])
            .env("PATH", &path),
    )?;
    machine("before");
    println!("## Delivery (real HTTP consumers in other processes)\n");
    run_bin("bench-delivery", &path)?;
    status(
        cargo()
            .args(["bench", "-q", "-p", "agent", "--bench", "engine"])
            .env("PATH", &path),
    )?;
    println!("\n## Consumer sidecar chain (HTTP and AMQP)\n");
    run_bin("bench-chain", &path)?;
    println!("\n## Flood fairness (log socket)\n");
    run_bin("bench-flood", &path)?;
    println!("\n## Memory\n");
    run_bin("bench-rss", &path)?;
    println!("\n## TLS and scale (10,000 subscribers)\n");
    run_bin("bench-scale", &path)?;
    if root {
        println!("\n## eBPF source (real probes, this machine's kernel)\n");
        run_bin("bench-ebpf", &path)?;
        println!("\n## Liveness (real ptp4l, kill -9)\n");
        run_bin("bench-kill", &path)?;
    } else {
        eprintln!("xtask: not root: eBPF bench left out");
    }
    machine("after");
    Ok(())
}

/// The machine the figures came from and how busy it was: a figure taken
/// beside a compiler is not a figure of the agent.
fn machine(when: &str) {
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let load = read("/proc/loadavg");
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    let kernel = read("/proc/sys/kernel/osrelease");
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!(
        "\n_Machine {when} the benches: {cpus} CPUs, kernel {}, load average {} (1, 5, 15 min)._\n",
        kernel.trim(),
        load.join(" / ")
    );
}

fn run_bin(name: &str, path: &OsString) -> anyhow::Result<()> {
    status(
        cargo()
            .args(["run", "--release", "-q", "-p", "agent-tests", "--bin", name])
            .env("PATH", path)
            // The agents the benches start: only what went wrong.
            .env("AGENT_LOG", "warn"),
    )
}
