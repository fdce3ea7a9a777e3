//! Installs what a fresh machine lacks, so `cargo xtask test` (and CI's
//! `.ci/run`) need nothing done by hand. Debian packages only when root.

use std::process::Command;

use anyhow::{Context, bail};

use crate::status;

/// Debian packages the test suite runs for real (linuxptp daemons, network
/// namespaces, the AMQP 1.0 brokers: the Qpid Proton example broker and
/// RabbitMQ, whose AMQP 1.0 plugin the tests enable in their own config).
pub const TEST_PACKAGES: &[&str] = &[
    "linuxptp",
    "iproute2",
    "python3-qpid-proton",
    "libqpid-proton11-dev-examples",
    "rabbitmq-server",
];

fn installed(pkg: &str) -> bool {
    Command::new("dpkg")
        .args(["-s", pkg])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Effective uid 0, read from /proc (no libc call needed).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Installs the missing ones of `pkgs` with apt-get.
///
/// # Errors
/// apt-get fails, or packages are missing and we are not root.
pub fn ensure_packages(pkgs: &[&str]) -> anyhow::Result<()> {
    let missing: Vec<&str> = pkgs.iter().copied().filter(|p| !installed(p)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing Debian packages {}: install them or run as root",
            missing.join(" ")
        );
    }
    eprintln!("xtask: installing {}", missing.join(" "));
    status(Command::new("apt-get").args(["update", "-qq"])).context("apt-get update")?;
    status(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
    .context("apt-get install")
}
