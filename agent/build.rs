//! Builds the probes (`agent-ebpf`) with aya-build into `$OUT_DIR/agent-ebpf`.
//!
//! `AYA_BUILD_SKIP=1`, or no `bpf-linker` on `PATH`, skips the probe build
//! with a warning and leaves an empty file there: the agent then runs with
//! the log socket only (`--source ebpf` fails with a clear message).
//! `cargo xtask build` installs the toolchain (nightly rust-src, bpf-linker)
//! and puts bpf-linker on `PATH`.

use std::path::{Path, PathBuf};

fn main() {
    if let Err(e) = run() {
        // A real build failure of the probes (not a missing toolchain).
        println!("cargo:warning=building the eBPF probes failed: {e:#}");
        std::process::exit(1);
    }
}

fn run() -> anyhow::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let root = manifest
        .parent()
        .ok_or_else(|| anyhow::anyhow!("agent/ has no parent"))?;
    let ebpf_dir = root.join("agent-ebpf");
    let out = PathBuf::from(std::env::var("OUT_DIR")?).join("agent-ebpf");
    println!("cargo:rerun-if-env-changed=AYA_BUILD_SKIP");
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo:rerun-if-env-changed=CEA_BPF_TOOLCHAIN");
    println!(
        "cargo:rerun-if-changed={}",
        root.join("agent-common/src").display()
    );
    println!("cargo:rerun-if-changed={}", ebpf_dir.join("src").display());
    println!(
        "cargo:rerun-if-changed={}",
        ebpf_dir.join("Cargo.toml").display()
    );

    let skip =
        std::env::var("AYA_BUILD_SKIP").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
    if skip || !on_path("bpf-linker") {
        if !skip {
            println!(
                "cargo:warning=bpf-linker not on PATH: probes not built, the agent will run with the socket source only (cargo xtask build installs it)"
            );
        }
        std::fs::write(&out, b"")?;
        return Ok(());
    }
    // agent-ebpf is excluded from the workspace: building it from its own
    // directory makes it its own workspace root (own lock file, profiles).
    std::env::set_current_dir(&ebpf_dir)?;
    let tc = std::env::var("CEA_BPF_TOOLCHAIN").unwrap_or_else(|_| "nightly".into());
    let ebpf_dir_s = ebpf_dir
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("non-UTF-8 path {}", ebpf_dir.display()))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: "agent-ebpf",
            root_dir: ebpf_dir_s,
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(&tc),
    )
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| is_exe(&d.join(bin))))
}

fn is_exe(p: &Path) -> bool {
    p.is_file()
}
