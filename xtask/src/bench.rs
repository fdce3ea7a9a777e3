//! `cargo xtask bench`: every benchmark, each printing its own Markdown
//! table. Release builds; figures go into the README.

use crate::{cargo, status};

pub fn bench() -> anyhow::Result<()> {
    println!("## Parser and engine (recorded real lines)\n");
    status(cargo().args(["bench", "-p", "agent", "--bench", "engine"]))?;
    println!("\n## Delivery (real HTTP consumers in another process)\n");
    status(cargo().args([
        "run",
        "--release",
        "-q",
        "-p",
        "agent-tests",
        "--bin",
        "bench-delivery",
    ]))?;
    println!("\n## Memory\n");
    // bench-rss starts the release agent binary next to it.
    status(cargo().args([
        "build",
        "--release",
        "-q",
        "-p",
        "agent",
        "-p",
        "agent-tests",
    ]))?;
    status(cargo().args([
        "run",
        "--release",
        "-q",
        "-p",
        "agent-tests",
        "--bin",
        "bench-rss",
    ]))?;
    Ok(())
}
