//! The BPF toolchain: a nightly with rust-src (aya-build runs
//! `cargo +nightly build -Z build-std=core --target bpfel-unknown-none`) and
//! bpf-linker linked against that nightly's own libLLVM (Debian's LLVM is
//! too old for bpf-linker 0.13, and its prebuilt binaries cannot be
//! fetched). bpf-linker is cached per nightly (the .so name carries the
//! rustc version), under `$XDG_CACHE_HOME/cloud-event-agent` or
//! `~/.cache/cloud-event-agent`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

use crate::{cargo, status};

const BPF_LINKER: &str = "bpf-linker@0.13.0";

/// The nightly used for the probes (`CEA_BPF_TOOLCHAIN`, default `nightly`).
pub(crate) fn nightly() -> String {
    std::env::var("CEA_BPF_TOOLCHAIN").unwrap_or_else(|_| "nightly".into())
}

/// Our cache directory.
pub(crate) fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    base.join("cloud-event-agent")
}

fn rustc_vv(tc: &str) -> Option<String> {
    let out = Command::new("rustc")
        .arg(format!("+{tc}"))
        .arg("-vV")
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn field<'a>(vv: &'a str, key: &str) -> Option<&'a str> {
    vv.lines().find_map(|l| l.strip_prefix(key)).map(str::trim)
}

/// Installs what is missing and returns the directory holding bpf-linker,
/// to be put first on `PATH` of every cargo run that builds the agent.
///
/// # Errors
/// rustup or the bpf-linker build fails.
pub(crate) fn ensure() -> anyhow::Result<PathBuf> {
    let tc = nightly();
    if rustc_vv(&tc).is_none() {
        eprintln!("xtask: installing the {tc} toolchain");
        status(Command::new("rustup").args(["toolchain", "install", &tc, "--profile", "minimal"]))?;
    }
    let vv = rustc_vv(&tc).context("rustc of the nightly toolchain")?;
    let sysroot = String::from_utf8(
        Command::new("rustc")
            .arg(format!("+{tc}"))
            .args(["--print", "sysroot"])
            .output()?
            .stdout,
    )?;
    let sysroot = PathBuf::from(sysroot.trim());
    if !sysroot.join("lib/rustlib/src/rust/library/core").is_dir() {
        eprintln!("xtask: adding rust-src to {tc}");
        status(Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", &tc]))?;
    }
    let hash = field(&vv, "commit-hash:").unwrap_or("unknown");
    let key = hash.get(..9).unwrap_or(hash);
    let dir = cache_dir().join(format!("bpf-linker-{key}"));
    let bin = dir.join("bin");
    if bin.join("bpf-linker").is_file() {
        return Ok(bin);
    }
    let major = field(&vv, "LLVM version:")
        .and_then(|v| v.split('.').next())
        .context("LLVM version of the nightly")?
        .to_owned();
    let so = std::fs::read_dir(sysroot.join("lib"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with("libLLVM.so."))
        })
        .context("no libLLVM.so.* in the nightly's sysroot")?;
    let prefix = dir.join("llvm-prefix");
    let lib = prefix.join("lib");
    std::fs::create_dir_all(&lib)?;
    for name in [
        std::ffi::OsString::from("libLLVM.so"),
        so.file_name().context("so name")?.to_owned(),
    ] {
        let link = lib.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&so, &link)?;
    }
    eprintln!("xtask: building {BPF_LINKER} against the nightly's LLVM {major} (1-2 min)");
    status(
        cargo()
            .args(["install", BPF_LINKER, "--locked", "--no-default-features"])
            .args(["--features", &format!("llvm-{major}")])
            .arg("--root")
            .arg(&dir)
            .env("LLVM_PREFIX", &prefix)
            .env("CARGO_TARGET_DIR", dir.join("build")),
    )
    .context("building bpf-linker")?;
    let _ = std::fs::remove_dir_all(dir.join("build"));
    if !bin.join("bpf-linker").is_file() {
        bail!("bpf-linker not found in {} after install", bin.display());
    }
    Ok(bin)
}

/// `PATH` with bpf-linker's directory first. Without the toolchain, a
/// user who is not root gets the plain `PATH` (the agent then builds without
/// probes and `left_out` says what is skipped); root gets the error.
///
/// # Errors
/// As [`ensure`], as root.
pub(crate) fn path_or_plain(root: bool, left_out: &str) -> anyhow::Result<std::ffi::OsString> {
    match ensure() {
        Ok(bin) => Ok(path_with(&bin)),
        Err(e) if !root => {
            eprintln!("xtask: no BPF toolchain ({e:#}): {left_out}");
            Ok(std::env::var_os("PATH").unwrap_or_default())
        }
        Err(e) => Err(e),
    }
}

/// `PATH` with `dir` first.
pub(crate) fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut parts = vec![dir.to_path_buf()];
    if let Some(p) = std::env::var_os("PATH") {
        parts.extend(std::env::split_paths(&p));
    }
    std::env::join_paths(parts).unwrap_or_default()
}
