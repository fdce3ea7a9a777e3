//! `cargo xtask bench`: every benchmark, each printing its own Markdown
//! table. Release builds; figures go into the README.

use crate::{cargo, status};

pub fn bench() -> anyhow::Result<()> {
    // The bench binaries start the release agent and consumers next to them.
    status(cargo().args(["build", "--release", "-q", "--workspace", "--bins"]))?;
    println!("## Delivery (real HTTP consumers in other processes)\n");
    run_bin("bench-delivery")?;
    println!("\n## Memory\n");
    run_bin("bench-rss")
}

fn run_bin(name: &str) -> anyhow::Result<()> {
    status(
        cargo()
            .args(["run", "--release", "-q", "-p", "agent-tests", "--bin", name])
            // The agents the benches start: only what went wrong.
            .env("AGENT_LOG", "warn"),
    )
}
