//! `cargo xtask <command>`: build, run, test, bench.

mod bench;
mod setup;

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
    /// Run the whole test suite.
    Test,
    /// Run every benchmark and print the tables.
    Bench,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::Run { args } => run(&args),
        Cmd::Test => test(),
        Cmd::Bench => bench::bench(),
    }
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
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

fn test() -> anyhow::Result<()> {
    setup::ensure_packages(setup::TEST_PACKAGES)?;
    // The black-box tests run the built binaries: build them first, since
    // `cargo test` only builds the binaries of packages with integration tests.
    status(cargo().args(["build", "--workspace", "--bins"]))?;
    status(cargo().args(["test", "--workspace", "--all-targets"]))
}
