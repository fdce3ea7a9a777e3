//! `cargo xtask vm-test`: the agent under a Debian kernel in qemu (TCG), for
//! what this machine's kernel cannot do: kprobe and fentry on
//! `ptp_clock_adjtime`, and real PHCs (two emulated e1000e NICs give
//! `/dev/ptp0` and `/dev/ptp1`). Inside the guest, `phc2sys -s
//! CLOCK_REALTIME -c /dev/ptp0` adjusts the PHC (the guest's clocks only);
//! its clock_adjtime calls must reach the agent as records.
//!
//! The xtask fetches the kernel (`apt-get download`, cached), writes the
//! initramfs itself (busybox, the agent, linuxptp, their shared libraries,
//! the e1000e module) and reads the verdict from the serial console.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cpio::Cpio;
use crate::{setup, status, toolchain};

/// Packages the VM test runs.
pub(crate) const VM_PACKAGES: &[&str] = &["qemu-system-x86", "busybox-static", "linuxptp"];

/// Longest a VM run may take (TCG boots in seconds; the agent loads its
/// probes in some more).
const VM_TIMEOUT: Duration = Duration::from_secs(360);

const INIT: &str = include_str!("vm_init.sh");

/// The kernel and its e1000e module, extracted under the cache.
struct Kernel {
    vmlinuz: PathBuf,
    e1000e: PathBuf,
}

fn kernel() -> anyhow::Result<Kernel> {
    let dir = toolchain::cache_dir().join("vm");
    std::fs::create_dir_all(&dir)?;
    let find_deb = || -> Option<PathBuf> {
        std::fs::read_dir(&dir)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.file_name().and_then(|f| f.to_str()).is_some_and(|f| {
                    f.starts_with("linux-image-") && f.ends_with(".deb") && !f.contains("cloud")
                })
            })
    };
    let deb = match find_deb() {
        Some(d) => d,
        None => {
            let pkg = kernel_package()?;
            eprintln!("xtask: apt-get download {pkg}");
            status(
                Command::new("apt-get")
                    .args(["download", &pkg])
                    .current_dir(&dir),
            )?;
            find_deb().context("the kernel .deb was not downloaded")?
        }
    };
    let root = dir.join("root");
    if !root.join("boot").is_dir() {
        status(Command::new("dpkg").arg("-x").arg(&deb).arg(&root))?;
    }
    let vmlinuz = std::fs::read_dir(root.join("boot"))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|f| f.to_str())
                .is_some_and(|f| f.starts_with("vmlinuz-"))
        })
        .context("no vmlinuz in the kernel package")?;
    let e1000e = find_file(&root.join("lib/modules"), "e1000e.ko")
        .context("no e1000e.ko in the kernel package")?;
    Ok(Kernel { vmlinuz, e1000e })
}

/// The concrete package behind `linux-image-amd64` (a generic flavour:
/// the cloud flavour has no e1000e).
fn kernel_package() -> anyhow::Result<String> {
    let depends = || -> Option<String> {
        let out = Command::new("apt-cache")
            .args(["depends", "linux-image-amd64"])
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.trim().strip_prefix("Depends: ").map(str::to_owned))
    };
    if let Some(p) = depends() {
        return Ok(p);
    }
    status(Command::new("apt-get").args(["update", "-qq"]))?;
    depends().context("apt-cache knows no linux-image-amd64")
}

fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_file(&p, name) {
                return Some(f);
            }
        } else if p.file_name().is_some_and(|f| f == name) {
            return Some(p);
        }
    }
    None
}

/// Shared libraries of `bin` (from `ldd`), with the loader.
fn libs(bin: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let out = Command::new("ldd").arg(bin).output().context("ldd")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, r)) => r.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect())
}

fn which(bin: &str) -> anyhow::Result<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(bin))
                .find(|p| p.is_file())
        })
        .with_context(|| format!("{bin} not found on PATH"))
}

/// A stripped copy of `bin` (the debug agent is ~100 MB with debug info).
fn stripped(bin: &Path, tmp: &Path) -> anyhow::Result<Vec<u8>> {
    let out = tmp.join("agent.stripped");
    let ok = Command::new("strip")
        .arg("-o")
        .arg(&out)
        .arg(bin)
        .status()
        .is_ok_and(|s| s.success());
    Ok(std::fs::read(if ok { &out } else { bin })?)
}

fn initramfs(agent: &Path, k: &Kernel, tmp: &Path) -> anyhow::Result<Vec<u8>> {
    let mut c = Cpio::new();
    for d in [
        "bin",
        "sbin",
        "usr",
        "usr/bin",
        "usr/sbin",
        "lib",
        "lib64",
        "lib/x86_64-linux-gnu",
        "lib/modules",
        "proc",
        "sys",
        "dev",
        "tmp",
        "run",
        "var",
        "var/run",
        "etc",
    ] {
        c.dir(d);
    }
    c.file("bin/busybox", 0o755, &std::fs::read(which("busybox")?)?);
    for applet in [
        "sh", "mount", "insmod", "ip", "sleep", "wget", "cat", "grep", "poweroff", "echo", "mkdir",
        "kill", "ls", "tail", "head", "timeout",
    ] {
        c.symlink(&format!("bin/{applet}"), "busybox");
    }
    c.file("init", 0o755, INIT.as_bytes());
    c.file("usr/bin/cloud-event-agent", 0o755, &stripped(agent, tmp)?);
    c.file("lib/modules/e1000e.ko", 0o644, &std::fs::read(&k.e1000e)?);
    let mut all_libs = libs(agent)?;
    for b in ["ptp4l", "phc2sys", "phc_ctl"] {
        let p = which(b)?;
        all_libs.extend(libs(&p)?);
        c.file(&format!("usr/sbin/{b}"), 0o755, &std::fs::read(&p)?);
    }
    all_libs.sort();
    all_libs.dedup();
    for l in all_libs {
        let real = std::fs::canonicalize(&l)?;
        let name = l.to_string_lossy().trim_start_matches('/').to_owned();
        c.file(&name, 0o755, &std::fs::read(&real)?);
    }
    Ok(c.finish())
}

/// Builds what the guest needs and runs it; checks the guest's report.
///
/// # Errors
/// Set-up fails, the guest does not report, or the probes did not see the
/// PHC adjustments.
pub(crate) fn vm_test() -> anyhow::Result<()> {
    setup::ensure_packages(VM_PACKAGES)?;
    let bin = toolchain::ensure()?;
    status(
        crate::cargo()
            .args(["build", "-q", "-p", "agent", "--bin", "cloud-event-agent"])
            .env("PATH", toolchain::path_with(&bin)),
    )?;
    let agent = crate::target_dir().join("debug/cloud-event-agent");
    let k = kernel()?;
    let tmp = std::env::temp_dir().join(format!("cea-vm-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let _cleanup = RemoveDir(tmp.clone());
    let initrd = tmp.join("initrd.cpio");
    std::fs::write(&initrd, initramfs(&agent, &k, &tmp)?)?;
    eprintln!("xtask: booting {} under qemu (TCG)", k.vmlinuz.display());
    let console = run_qemu(&k.vmlinuz, &initrd, &tmp)?;
    check(&console)
}

struct RemoveDir(PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_qemu(vmlinuz: &Path, initrd: &Path, tmp: &Path) -> anyhow::Result<String> {
    let log = tmp.join("console.log");
    let mut child = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "tcg",
            "-m",
            "1536",
            "-smp",
            "2",
            "-nographic",
            "-no-reboot",
        ])
        .arg("-kernel")
        .arg(vmlinuz)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 panic=-1 quiet"])
        .args([
            "-netdev",
            "hubport,id=p1,hubid=0",
            "-device",
            "e1000e,netdev=p1",
        ])
        .args([
            "-netdev",
            "hubport,id=p2,hubid=0",
            "-device",
            "e1000e,netdev=p2",
        ])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting qemu-system-x86_64")?;
    let start = Instant::now();
    let st = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if start.elapsed() > VM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let console = String::from_utf8_lossy(&std::fs::read(&log)?).into_owned();
    eprintln!("xtask: guest ran {:.0} s", start.elapsed().as_secs_f64());
    if st.is_none() {
        bail!("the VM did not finish in {VM_TIMEOUT:?}; console:\n{console}");
    }
    Ok(console)
}

/// The value of `series` in the guest's metrics dump, or 0.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix(series)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0.0)
}

fn check(console: &str) -> anyhow::Result<()> {
    let Some(report) = console.split("CEA-VM-HEALTH").nth(1) else {
        bail!("the guest printed no report; console:\n{console}");
    };
    println!("{report}");
    let (health, rest) = report.split_once("CEA-VM-METRICS").unwrap_or((report, ""));
    let health: serde_json::Value = serde_json::from_str(health.trim())
        .with_context(|| format!("health detail is not JSON: {health}"))?;
    let attached = |prog: &str| {
        health["probes"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["program"] == prog && p["attached"] == true)
        })
    };
    let mut failures = Vec::new();
    if health["active"] != "ebpf" {
        failures.push(format!("source is {}, not ebpf", health["active"]));
    }
    for prog in ["kp_ptp_adjtime", "fe_ptp_adjtime"] {
        if !attached(prog) {
            failures.push(format!("{prog} did not attach"));
        }
    }
    let phc = sample(
        rest,
        "cloud_event_agent_ebpf_records_total{kind=\"phc_adjtime\"}",
    );
    if phc < 1.0 {
        failures.push("no ptp_clock_adjtime record reached the agent".into());
    }
    let adj = sample(
        rest,
        "cloud_event_agent_clock_adjtime_total{clock=\"ptp0\",process=\"phc2sys\",result=\"ok\"}",
    );
    if adj < 1.0 {
        failures.push("no clock_adjtime record of phc2sys on ptp0 reached the agent".into());
    }
    if !failures.is_empty() {
        bail!("vm-test failed: {}", failures.join("; "));
    }
    println!(
        "vm-test: ok: kprobe and fentry on ptp_clock_adjtime attached; {phc} ptp_clock_adjtime and {adj} clock_adjtime(ptp0) records of phc2sys reached the agent"
    );
    Ok(())
}
