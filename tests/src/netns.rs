//! Root-only helpers for tests with real linuxptp: network namespaces
//! joined by a veth pair and child processes, both cleaned up on drop.

use std::process::{Child, Command, Stdio};

/// Effective uid 0.
#[must_use]
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}

/// Whether `prog` runs (`prog -v` exits).
#[must_use]
pub fn has_program(prog: &str) -> bool {
    Command::new(prog)
        .arg("-v")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("run ip");
    assert!(st.success(), "ip {args:?} failed");
}

/// Two namespaces `<prefix>m` and `<prefix>s` with a veth pair between them
/// (`veth-m` / `veth-s`), up. Dropping it deletes both (and the pair).
pub struct VethPair {
    pub master: String,
    pub slave: String,
}

impl VethPair {
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        let p = Self {
            master: format!("{prefix}m"),
            slave: format!("{prefix}s"),
        };
        // Left over from a crashed run.
        for n in [&p.master, &p.slave] {
            let _ = Command::new("ip")
                .args(["netns", "del", n])
                .stderr(Stdio::null())
                .status();
        }
        ip(&["netns", "add", &p.master]);
        ip(&["netns", "add", &p.slave]);
        ip(&[
            "-n", &p.master, "link", "add", "veth-m", "type", "veth", "peer", "name", "veth-s",
            "netns", &p.slave,
        ]);
        for (ns, dev) in [(&p.master, "veth-m"), (&p.slave, "veth-s")] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
        p
    }
}

impl Drop for VethPair {
    fn drop(&mut self) {
        for n in [&self.master, &self.slave] {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// A child process killed (and reaped) on drop.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ptp4l -f <cfg> -m` in `netns`, without CAP_SYS_TIME (LAB.md §3): the
/// kernel refuses every clock change it tries. Its stdout is piped.
#[must_use]
pub fn ptp4l_nocap(netns: &str, cfg: &std::path::Path) -> ChildGuard {
    let child = Command::new("ip")
        .args(["netns", "exec", netns])
        .args([
            "setpriv",
            "--bounding-set=-sys_time",
            "--inh-caps=-sys_time",
        ])
        .arg("ptp4l")
        .arg("-f")
        .arg(cfg)
        .arg("-m")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn ptp4l");
    ChildGuard(child)
}
