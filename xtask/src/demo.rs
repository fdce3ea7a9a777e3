//! `cargo xtask demo`: ptp4l master and slave in network namespaces (no
//! CAP_SYS_TIME: the real clock is never touched), the agent in eBPF mode
//! (no socket, no log piping), and the example consumer printing what it
//! receives. After `--seconds`/2 the master is killed, near the end the
//! slave: LOCKED, then FREERUN at once on the slave's exit. The agent
//! watches every ptp4l of the node: other ptp4l processes running here show
//! up too.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::{cargo, setup, status, target_dir, toolchain};

const NODE: &str = "demo-node";
const NOCAP: &[&str] = &[
    "setpriv",
    "--bounding-set=-sys_time",
    "--inh-caps=-sys_time",
];

struct Netns;

impl Netns {
    fn ip(args: &[&str]) -> bool {
        Command::new("ip")
            .args(args)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn new() -> anyhow::Result<Self> {
        let n = Self;
        n.cleanup();
        for a in [
            &["netns", "add", "ceadm"][..],
            &["netns", "add", "ceads"],
            &[
                "link", "add", "ceadvm", "type", "veth", "peer", "name", "ceadvs",
            ],
            &["link", "set", "ceadvm", "netns", "ceadm"],
            &["link", "set", "ceadvs", "netns", "ceads"],
            &["-n", "ceadm", "link", "set", "lo", "up"],
            &["-n", "ceads", "link", "set", "lo", "up"],
            &["-n", "ceadm", "link", "set", "ceadvm", "up"],
            &["-n", "ceads", "link", "set", "ceadvs", "up"],
        ] {
            if !Self::ip(a) {
                bail!("ip {} failed", a.join(" "));
            }
        }
        Ok(n)
    }

    fn cleanup(&self) {
        Self::ip(&["netns", "del", "ceadm"]);
        Self::ip(&["netns", "del", "ceads"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.cleanup();
    }
}

struct Kill(Option<Child>, &'static str);

impl Kill {
    fn stop(&mut self) {
        if let Some(mut c) = self.0.take() {
            println!("demo: killing {}", self.1);
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Kill {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

const TIMING: &str = "time_stamping software\nnetwork_transport L2\ndelay_mechanism E2E\n\
domainNumber 0\nlogAnnounceInterval 0\nlogSyncInterval -3\nlogMinDelayReqInterval -3\n\
summary_interval -3\n";

fn ptp4l(ns: &str, cfg: &Path, log: &Path, name: &'static str) -> anyhow::Result<Kill> {
    let out = std::fs::File::create(log)?;
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(NOCAP)
        .arg("ptp4l")
        .arg("-f")
        .arg(cfg)
        .arg("-m")
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .context("ptp4l")?;
    Ok(Kill(Some(child), name))
}

/// Runs the demo for `seconds`.
///
/// # Errors
/// Not root, set-up fails, or a process cannot start.
pub(crate) fn demo(seconds: u64) -> anyhow::Result<()> {
    if !setup::is_root() {
        bail!("the demo needs root (network namespaces, eBPF)");
    }
    setup::ensure_packages(setup::TEST_PACKAGES)?;
    let bin = toolchain::ensure()?;
    status(
        cargo()
            .args(["build", "-q", "--workspace", "--bins"])
            .env("PATH", toolchain::path_with(&bin)),
    )?;
    let dir = std::env::temp_dir().join(format!("cea-demo-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("store"))?;
    let _ns = Netns::new()?;
    let mcfg = dir.join("ptp4l.0.config");
    let scfg = dir.join("ptp4l.1.config");
    std::fs::write(
        &mcfg,
        format!(
            "[global]\n{TIMING}priority1 1\npriority2 1\nfree_running 1\n[ceadvm]\nmasterOnly 1\n"
        ),
    )?;
    std::fs::write(
        &scfg,
        format!(
            "[global]\n{TIMING}free_running 0\npi_proportional_const 0.7\npi_integral_const 0.3\nslaveOnly 1\n[ceadvs]\n"
        ),
    )?;
    let debug = target_dir().join("debug");
    let _agent = Kill(
        Some(
            Command::new(debug.join("cloud-event-agent"))
                .args(["--source", "ebpf", "--node-name", NODE])
                // Both daemons share one clock: offsets of a few hundred ns.
                .args([
                    "--max-offset-threshold",
                    "5000",
                    "--min-offset-threshold",
                    "-5000",
                ])
                .args([
                    "--api-addr",
                    "127.0.0.1",
                    "--metrics-addr",
                    "127.0.0.1:9091",
                ])
                .arg("--store-path")
                .arg(dir.join("store"))
                .arg("--ptp-config-dir")
                .arg(&dir)
                .spawn()
                .context("agent")?,
        ),
        "agent",
    );
    std::thread::sleep(Duration::from_secs(2));
    let _consumer = Kill(
        Some(
            Command::new(debug.join("example-consumer"))
                .args(["--node-name", NODE, "--publisher", "http://127.0.0.1:9043"])
                .args(["--listen", "127.0.0.1:8989", "--pull-interval", "0"])
                .spawn()
                .context("example-consumer")?,
        ),
        "consumer",
    );
    std::thread::sleep(Duration::from_secs(1));
    println!(
        "demo: starting ptp4l master and slave (logs in {})",
        dir.display()
    );
    let mut master = ptp4l("ceadm", &mcfg, &dir.join("master.log"), "ptp4l master")?;
    let mut slave = ptp4l("ceads", &scfg, &dir.join("slave.log"), "ptp4l slave")?;
    std::thread::sleep(Duration::from_secs(seconds / 2));
    master.stop();
    std::thread::sleep(Duration::from_secs(seconds / 2 - seconds / 6));
    slave.stop();
    std::thread::sleep(Duration::from_secs((seconds / 6).max(2)));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
