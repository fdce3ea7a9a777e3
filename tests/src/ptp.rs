//! Root-only helpers for tests with real linuxptp: network
//! namespaces joined by a veth pair, and ptp4l processes, all cleaned up on
//! drop.
//!
//! Every ptp4l runs under
//! `setpriv --bounding-set=-sys_time --inh-caps=-sys_time`, so the kernel
//! refuses each clock change it tries: the real clock is never touched.
//! Interface names are unique per test: an eBPF agent sees every ptp4l of
//! the node, and tells them apart by interface.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The NOCAP wrapper: no CAP_SYS_TIME, in the bounding or inherited set.
pub const NOCAP: &[&str] = &[
    "setpriv",
    "--bounding-set=-sys_time",
    "--inh-caps=-sys_time",
];

/// Effective uid 0.
#[must_use]
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Root, and the tools these tests need.
pub fn can_run_ptp4l() -> Result<(), String> {
    if !is_root() {
        return Err("not root".into());
    }
    for tool in ["ptp4l", "ip", "setpriv"] {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
        if !found {
            return Err(format!("{tool} not installed"));
        }
    }
    Ok(())
}

/// Runs `ip args`, quietly; whether it succeeded.
fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `ip args`; panics if it fails.
fn ip_ok(args: &[&str]) {
    assert!(ip(args), "ip {args:?} failed");
}

/// Two namespaces `<tag>m` and `<tag>s` with a veth pair `<tag>vm` /
/// `<tag>vs` between them; deleted on drop.
pub struct NetnsPair {
    pub master_ns: String,
    pub slave_ns: String,
    pub master_if: String,
    pub slave_if: String,
}

impl NetnsPair {
    /// `tag` keeps names unique per test (interface names have 15 bytes).
    #[must_use]
    pub fn new(tag: &str) -> Self {
        let p = Self {
            master_ns: format!("{tag}m"),
            slave_ns: format!("{tag}s"),
            master_if: format!("{tag}vm"),
            slave_if: format!("{tag}vs"),
        };
        p.cleanup();
        ip_ok(&["netns", "add", &p.master_ns]);
        ip_ok(&["netns", "add", &p.slave_ns]);
        ip_ok(&[
            "link",
            "add",
            &p.master_if,
            "type",
            "veth",
            "peer",
            "name",
            &p.slave_if,
        ]);
        ip_ok(&["link", "set", &p.master_if, "netns", &p.master_ns]);
        ip_ok(&["link", "set", &p.slave_if, "netns", &p.slave_ns]);
        for (ns, ifc) in [(&p.master_ns, &p.master_if), (&p.slave_ns, &p.slave_if)] {
            ip_ok(&["-n", ns, "link", "set", "lo", "up"]);
            ip_ok(&["-n", ns, "link", "set", ifc, "up"]);
        }
        p
    }

    fn cleanup(&self) {
        ip(&["netns", "del", &self.master_ns]);
        ip(&["netns", "del", &self.slave_ns]);
    }
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        // Deleting the namespaces deletes the veth pair.
        self.cleanup();
    }
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct ChildGuard(pub Option<Child>);

impl ChildGuard {
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    /// The child's piped stdout (once).
    pub fn take_stdout(&mut self) -> std::process::ChildStdout {
        self.0
            .as_mut()
            .and_then(|c| c.stdout.take())
            .expect("a running child with piped stdout")
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `[global]` timing settings every config here shares: software
/// timestamps, L2, E2E, fast sync.
pub const TIMING: &str = "time_stamping software\nnetwork_transport L2\ndelay_mechanism E2E\n\
domainNumber 0\nlogAnnounceInterval 0\nlogSyncInterval -3\nlogMinDelayReqInterval -3\n\
summary_interval -3\n";

/// Writes `ptp4l.0.config` (master) and `ptp4l.1.config` (slave) into `dir`
/// without touching the clock: the slave runs its servo (free_running 0) and the
/// NOCAP wrapper keeps it from changing the clock.
pub fn write_configs(dir: &Path, pair: &NetnsPair) -> (std::path::PathBuf, std::path::PathBuf) {
    let m = dir.join("ptp4l.0.config");
    let s = dir.join("ptp4l.1.config");
    std::fs::write(
        &m,
        format!(
            "[global]\n{TIMING}priority1 1\npriority2 1\nfree_running 1\n[{}]\nmasterOnly 1\n",
            pair.master_if
        ),
    )
    .expect("write master config");
    std::fs::write(
        &s,
        format!(
            "[global]\n{TIMING}free_running 0\npi_proportional_const 0.7\npi_integral_const 0.3\nslaveOnly 1\n[{}]\n",
            pair.slave_if
        ),
    )
    .expect("write slave config");
    (m, s)
}

/// Starts `ptp4l -f <cfg> -m` in `ns` without CAP_SYS_TIME, stdout and
/// stderr to `log` (a file, not the agent: the eBPF source must see the
/// writes by itself).
#[must_use]
pub fn start_ptp4l(ns: &str, cfg: &Path, log: &Path) -> ChildGuard {
    let out = std::fs::File::create(log).expect("ptp4l log");
    let err = out.try_clone().expect("ptp4l log");
    spawn_ptp4l(ns, cfg, out.into(), err.into())
}

/// Like [`start_ptp4l`], with stdout piped (read it through
/// [`ChildGuard::take_stdout`]) and stderr dropped.
#[must_use]
pub fn start_ptp4l_piped(ns: &str, cfg: &Path) -> ChildGuard {
    spawn_ptp4l(ns, cfg, Stdio::piped(), Stdio::null())
}

fn spawn_ptp4l(ns: &str, cfg: &Path, stdout: Stdio, stderr: Stdio) -> ChildGuard {
    let cfg = cfg.to_str().expect("UTF-8 config path");
    spawn_ptp4l_args(ns, &["-f", cfg, "-m"], stdout, stderr)
}

/// Starts `ptp4l args` in `ns` without CAP_SYS_TIME. The guard's pid is
/// that of `ip netns exec`, which execs setpriv, which execs ptp4l: the
/// same process.
#[must_use]
pub fn spawn_ptp4l_args(ns: &str, args: &[&str], stdout: Stdio, stderr: Stdio) -> ChildGuard {
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(NOCAP)
        .arg("ptp4l")
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .expect("spawn ptp4l");
    ChildGuard(Some(child))
}
