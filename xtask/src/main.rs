//! `cargo xtask <command>`: build, run, test, bench.

#![warn(unused_crate_dependencies)]

mod bench;
mod cpio;
mod demo;
mod setup;
mod toolchain;
mod vm;

use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the agent on an embedded default: socket source under ./run, no root.
    Run {
        /// Extra arguments for the agent.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the probes and the agent (installs the BPF toolchain if missing).
    Build {
        #[arg(long)]
        release: bool,
        /// Refuse to change Cargo.lock (the image build).
        #[arg(long)]
        locked: bool,
    },
    /// Run the whole test suite: unit and black-box tests, then (as root)
    /// the eBPF tests on this kernel, one thread, and the VM test.
    Test,
    /// The agent under a Debian kernel in qemu: kprobe/fentry probes and a
    /// real PHC adjusted by phc2sys.
    VmTest,
    /// ptp4l master and slave in network namespaces, the agent in eBPF mode
    /// and a consumer printing what it receives (root).
    Demo {
        #[arg(long, default_value_t = 40)]
        seconds: u64,
    },
    /// Run every benchmark and print the tables.
    Bench,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Run { args } => run(&args),
        Cmd::Build { release, locked } => build(release, locked),
        Cmd::Test => test(),
        Cmd::VmTest => vm::vm_test(),
        Cmd::Demo { seconds } => demo::demo(seconds),
        Cmd::Bench => bench::bench(),
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// The cargo target directory (`CARGO_TARGET_DIR` or `./target`).
fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| "target".into(), Into::into)
}

fn status(cmd: &mut Command) -> anyhow::Result<()> {
    let st = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !st.success() {
        bail!("{cmd:?} failed: {st}");
    }
    Ok(())
}

fn run(extra: &[String]) -> anyhow::Result<()> {
    std::fs::create_dir_all("run/store").context("creating ./run")?;
    status(
        cargo()
            .args([
                "run",
                "--release",
                "-p",
                "agent",
                "--bin",
                "cloud-event-agent",
                "--",
            ])
            .args(["--source", "socket", "--socket-path", "run/events.sock"])
            .args(["--store-path", "run/store", "--ptp-config-dir", "run"])
            .args(["--ptp-profiles", "run/ptp-profiles.json"])
            .args(extra),
    )
}

fn build(release: bool, locked: bool) -> anyhow::Result<()> {
    let bin = toolchain::ensure()?;
    let mut c = cargo();
    c.args(["build", "--workspace", "--bins"]);
    if release {
        c.arg("--release");
    }
    if locked {
        c.arg("--locked");
    }
    status(c.env("PATH", toolchain::path_with(&bin)))
}

fn test() -> anyhow::Result<()> {
    let root = setup::is_root();
    setup::ensure_packages(setup::TEST_PACKAGES)?;
    // The probes need nightly + bpf-linker; without them (not root, say)
    // the agent builds without probes and the eBPF tests skip.
    let path = toolchain::path_or_plain(root, "eBPF tests will be skipped")?;
    // The black-box tests run the built binaries and the client's examples:
    // build them first, since `cargo test` only builds the binaries of
    // packages with integration tests (and examples under hashed names).
    status(
        cargo()
            .args(["build", "--workspace", "--bins", "--examples"])
            .env("PATH", &path),
    )?;
    // The deploy/ test validates the rendered manifests offline with it.
    let validate = setup::ensure_kubernetes_validate()?;
    // Everything but the eBPF tests, which run next on one thread.
    status(
        cargo()
            .args(["test", "--workspace", "--all-targets"])
            .env("PATH", &path)
            .env("CEA_KUBERNETES_VALIDATE_BIN", &validate)
            .env("CEA_EBPF_DEFER", "1"),
    )?;
    let mut ebpf = cargo();
    ebpf.args([
        "test",
        "-p",
        "agent-tests",
        "--test",
        "ebpf",
        "--test",
        "ebpf_instances",
        "--",
        "--test-threads=1",
    ])
    .env("PATH", &path);
    if root {
        ebpf.env("CEA_REQUIRE_EBPF", "1");
    }
    status(&mut ebpf)?;
    if root {
        vm::vm_test()?;
    } else {
        eprintln!("xtask: not root: vm-test skipped");
    }
    Ok(())
}
