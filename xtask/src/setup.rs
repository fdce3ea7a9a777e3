//! Installs what a fresh machine lacks, so `cargo xtask test` (and CI's
//! `.ci/run`) need nothing done by hand. Debian packages only when root.

use std::process::Command;

use anyhow::{Context, bail};

use crate::status;

/// Debian packages the test suite runs for real (linuxptp daemons, network
/// namespaces, the AMQP 1.0 brokers: the Qpid Proton example broker and
/// RabbitMQ, whose AMQP 1.0 plugin the tests enable in their own config).
pub(crate) const TEST_PACKAGES: &[&str] = &[
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
pub(crate) fn is_root() -> bool {
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
pub(crate) fn ensure_packages(pkgs: &[&str]) -> anyhow::Result<()> {
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

/// The manifest validator `tests/tests/deploy.rs` runs, from PyPI, pinned.
pub(crate) const KUBERNETES_VALIDATE: &str = "kubernetes-validate==1.37.0";

/// A Python virtual environment with [`KUBERNETES_VALIDATE`] (it brings
/// `jsonschema` and `PyYAML`, which the custom-resource check uses), made
/// once under the cache; returns its `bin` directory, for
/// `CEA_KUBERNETES_VALIDATE_BIN`. Debian's `python3-venv` is installed
/// when `venv` is missing and we are root.
///
/// # Errors
/// No Python with `venv`, or pip fails.
pub(crate) fn ensure_kubernetes_validate() -> anyhow::Result<std::path::PathBuf> {
    let venv = crate::toolchain::cache_dir().join("kubernetes-validate");
    let bin = venv.join("bin");
    let marker = venv.join(".installed");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == KUBERNETES_VALIDATE) {
        return Ok(bin);
    }
    let python = if Command::new("python3")
        .args(["-m", "venv", "-h"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        "python3"
    } else {
        ensure_packages(&["python3-venv"])?;
        "/usr/bin/python3"
    };
    eprintln!(
        "xtask: installing {KUBERNETES_VALIDATE} in {}",
        venv.display()
    );
    status(
        Command::new(python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
    )
    .context("python3 -m venv")?;
    status(Command::new(bin.join("pip")).args(["install", "-q", KUBERNETES_VALIDATE]))
        .context("pip install kubernetes-validate")?;
    std::fs::write(&marker, KUBERNETES_VALIDATE).context("writing the venv marker")?;
    Ok(bin)
}
