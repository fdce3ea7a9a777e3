//! Pid -> instance: who wrote a record, read once per process from /proc.
//!
//! A record is trusted only when its process really is a linuxptp daemon:
//! 1. `/proc/<pid>/exe` names a binary called `ptp4l`, `phc2sys` or `ts2phc`
//!    (after ` (deleted)` is stripped), and that name is the process's
//!    `comm` (so `prctl(PR_SET_NAME, "ptp4l")` in another program fails);
//! 2. the binary behind `/proc/<pid>/exe` contains linuxptp's own strings
//!    (its config parser's `is a malformed value for option` and `/dev/ptp`),
//!    so a copy of `/bin/sh` named `ptp4l` fails too.
//!
//! The process is its own instance (pid namespace and pid); the command
//! line says what it is: `-f <config>` gives the config name (its file
//! name, any name) and, read through the process's own root, the config's
//! `#profile:`, `message_tag`, `uds_address` and `[section]`s; `-i <iface>`
//! the interfaces (else the config's sections).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::engine::profiles::file;
use crate::engine::{Origin, Pid};

/// linuxptp daemons this source understands.
pub(crate) const LINUXPTP: &[&str] = &["ptp4l", "phc2sys", "ts2phc"];

/// Strings every linuxptp daemon binary carries (config parser, PHC path).
const MARKERS: &[&[u8]] = &[b"is a malformed value for option", b"/dev/ptp"];

/// Largest binary scanned for the markers.
const MAX_EXE: u64 = 64 << 20;

/// Why a process is not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Distrust {
    /// `/proc/<pid>` was gone before it could be read.
    Vanished,
    /// The executable's name is not a linuxptp daemon's, or differs from `comm`.
    NotLinuxptp,
    /// The executable lacks linuxptp's strings.
    NoMarkers,
    /// It runs in a pid namespace the agent is told to ignore.
    IgnoredNamespace,
}

/// What is known about one process.
#[derive(Debug)]
pub(crate) struct ProcInfo {
    /// `Ok(())` when trusted.
    pub trust: Result<(), Distrust>,
    pub origin: Origin,
    /// Interfaces from `-i`, else the config's sections.
    pub ifaces: Vec<String>,
    /// The process wrote log lines to stdout/stderr: its syslog copies are
    /// duplicates.
    pub saw_stdio: bool,
    /// Pieces of a `writev` in progress.
    pub pending: Vec<u8>,
    /// The head of a line whose rest comes in the next write.
    pub partial: Vec<u8>,
    /// The config's `#profile:` and `message_tag` (as a config name).
    pub profile: Option<String>,
    pub tag: Option<String>,
    /// The management socket as the agent reaches it (through
    /// `/proc/<pid>/root`): the config's `uds_address`, else ptp4l's default.
    pub uds: Option<PathBuf>,
    /// Why the config could not be read or parsed (logged once, counted).
    pub config_error: Option<String>,
    /// Clock ids this process used, with their names (`CLOCK_REALTIME`, `ptp0`).
    pub clocks: Vec<(i32, Arc<str>)>,
}

impl ProcInfo {
    #[must_use]
    pub(crate) fn trusted(&self) -> bool {
        self.trust.is_ok()
    }

    /// The process name (`ptp4l`, ...) when trusted.
    #[must_use]
    pub(crate) fn process(&self) -> &str {
        self.origin.process.as_deref().unwrap_or("")
    }

    /// The name of `clock_id` as this process sees it: `CLOCK_REALTIME`, or
    /// for a dynamic PHC clock (`(~fd << 3) | 3`) the device behind the fd.
    pub(crate) fn clock_name(&mut self, pid: u32, clock_id: i32) -> Arc<str> {
        if let Some((_, n)) = self.clocks.iter().find(|(c, _)| *c == clock_id) {
            return n.clone();
        }
        let name: Arc<str> = clock_name(pid, clock_id).into();
        if self.clocks.len() < 16 {
            self.clocks.push((clock_id, name.clone()));
        }
        name
    }
}

fn clock_name(pid: u32, clock_id: i32) -> String {
    match clock_id {
        0 => return "CLOCK_REALTIME".into(),
        1 => return "CLOCK_MONOTONIC".into(),
        11 => return "CLOCK_TAI".into(),
        _ => {}
    }
    if clock_id < 0 && clock_id & 7 == 3 {
        let fd = !(clock_id >> 3);
        if let Ok(t) = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")) {
            return t.file_name().map_or_else(
                || t.display().to_string(),
                |f| f.to_string_lossy().into_owned(),
            );
        }
        return format!("fd{fd}");
    }
    format!("clock{clock_id}")
}

/// Reads `/proc/<pid>` once and decides whether to trust it.
#[must_use]
pub(crate) fn inspect(pid: u32) -> ProcInfo {
    let base = PathBuf::from(format!("/proc/{pid}"));
    let mut info = ProcInfo {
        trust: Err(Distrust::Vanished),
        origin: Origin {
            pid: Some(pid),
            ..Origin::default()
        },
        ifaces: Vec::new(),
        saw_stdio: false,
        pending: Vec::new(),
        partial: Vec::new(),
        profile: None,
        tag: None,
        uds: None,
        config_error: None,
        clocks: Vec::new(),
    };
    let (Ok(comm), Ok(exe), Ok(cmdline)) = (
        std::fs::read_to_string(base.join("comm")),
        std::fs::read_link(base.join("exe")),
        std::fs::read(base.join("cmdline")),
    ) else {
        return info;
    };
    let comm = comm.trim_end_matches('\n');
    let exe_s = exe.to_string_lossy();
    let exe_name = exe_s
        .trim_end_matches(" (deleted)")
        .rsplit('/')
        .next()
        .unwrap_or("");
    let Some(&name) = LINUXPTP.iter().find(|n| **n == exe_name) else {
        info.trust = Err(Distrust::NotLinuxptp);
        return info;
    };
    if comm != name {
        info.trust = Err(Distrust::NotLinuxptp);
        return info;
    }
    info.trust = if has_markers(&base.join("exe")) {
        Ok(())
    } else {
        Err(Distrust::NoMarkers)
    };
    describe(&mut info, &base, pid, name, &cmdline);
    info
}

/// Fills in what a trusted process is: its namespace, config, interfaces
/// and management socket.
fn describe(info: &mut ProcInfo, base: &Path, pid: u32, name: &str, cmdline: &[u8]) {
    info.origin.process = Some(name.into());
    // Without its namespace the process cannot be told from another of the
    // same config name: it exited while being read.
    let Some(ns) = pid_ns(base) else {
        info.trust = Err(Distrust::Vanished);
        return;
    };
    info.origin.daemon = Some(Pid { ns, pid });
    let args = parse_cmdline(cmdline);
    let mut uds = None;
    if let Some(cfg) = &args.config {
        info.origin.config = Path::new(cfg)
            .file_name()
            .map(|f| f.to_string_lossy().into());
        match read_config(base, cfg) {
            Ok(f) => {
                info.profile = f.profile;
                info.tag = f.message_tag;
                uds = f.uds_address;
                if args.ifaces.is_empty() {
                    info.ifaces = f.interfaces;
                }
            }
            Err(e) => info.config_error = Some(e),
        }
    }
    if !args.ifaces.is_empty() {
        info.ifaces = args.ifaces;
    }
    if name == "ptp4l" {
        // The command line wins over the config, as in ptp4l.
        let uds = args
            .uds
            .map(PathBuf::from)
            .or(uds)
            .unwrap_or_else(|| PathBuf::from(crate::source::pmc::DEFAULT_UDS));
        info.uds = Some(in_root(base, &uds.to_string_lossy()));
    }
}

/// The inode of `/proc/<pid>/ns/pid` (`pid:[4026531836]`).
fn pid_ns(proc_dir: &Path) -> Option<u64> {
    let l = std::fs::read_link(proc_dir.join("ns/pid")).ok()?;
    let l = l.to_str()?;
    l.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// `path` as the process sees it, reached through its root and cwd.
fn in_root(proc_dir: &Path, path: &str) -> PathBuf {
    if path.starts_with('/') {
        proc_dir.join("root").join(path.trim_start_matches('/'))
    } else {
        proc_dir.join("cwd").join(path)
    }
}

/// [`inspect`], or with `trust_any` a process trusted by its `comm` alone.
fn inspect_with(pid: u32, trust_any: bool) -> ProcInfo {
    let mut info = inspect(pid);
    let base = PathBuf::from(format!("/proc/{pid}"));
    if trust_any
        && info.trust == Err(Distrust::NotLinuxptp)
        && let Ok(comm) = std::fs::read_to_string(base.join("comm"))
        && let Ok(cmdline) = std::fs::read(base.join("cmdline"))
    {
        info.trust = Ok(());
        describe(&mut info, &base, pid, comm.trim_end_matches('\n'), &cmdline);
    }
    info
}

fn has_markers(exe: &Path) -> bool {
    use std::io::Read;
    let Ok(f) = std::fs::File::open(exe) else {
        return false;
    };
    let mut buf = Vec::new();
    if f.take(MAX_EXE).read_to_end(&mut buf).is_err() {
        return false;
    }
    MARKERS
        .iter()
        .all(|m| memchr::memmem::find(&buf, m).is_some())
}

/// `-f` and `-i` of a linuxptp command line (NUL separated).
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Args {
    pub config: Option<String>,
    pub ifaces: Vec<String>,
    /// `--uds_address <path>` (a config option given on the command line).
    pub uds: Option<String>,
}

#[must_use]
pub(crate) fn parse_cmdline(raw: &[u8]) -> Args {
    let mut out = Args::default();
    let mut it = raw
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .skip(1);
    while let Some(a) = it.next() {
        if a == "--uds_address" {
            out.uds = it.next();
            continue;
        }
        if let Some(v) = a.strip_prefix("--uds_address=") {
            out.uds = Some(v.to_owned());
            continue;
        }
        let (flag, inline) = match a.as_bytes() {
            [b'-', f @ (b'f' | b'i'), rest @ ..] => (
                *f,
                (!rest.is_empty()).then(|| String::from_utf8_lossy(rest).into_owned()),
            ),
            _ => continue,
        };
        let Some(v) = inline.or_else(|| it.next()) else {
            break;
        };
        if flag == b'f' {
            out.config = Some(v);
        } else {
            out.ifaces.push(v);
        }
    }
    out
}

/// The process's config file, parsed (any name).
fn read_config(proc_dir: &Path, cfg: &str) -> Result<file::ConfigFile, String> {
    let path = in_root(proc_dir, cfg);
    let text = std::fs::read(&path).map_err(|e| format!("{cfg}: {e}"))?;
    let text = String::from_utf8_lossy(&text);
    let name = Path::new(cfg)
        .file_name()
        .map_or_else(|| cfg.to_owned(), |f| f.to_string_lossy().into_owned());
    file::parse(&name, &text).map_err(|e| e.to_string())
}

/// The table of processes seen, bounded.
#[derive(Debug, Default)]
pub(crate) struct ProcTable {
    procs: HashMap<u32, ProcInfo>,
    /// Trust by name alone (`--ebpf-trust-any`, benches and tests only).
    pub trust_any: bool,
    /// Pid namespaces (inode numbers) whose processes change nothing.
    pub ignore_ns: Vec<u64>,
}

/// Entries kept before exited processes are pruned.
const MAX_PROCS: usize = 4096;

impl ProcTable {
    /// The info of `pid`, read from /proc the first time.
    pub(crate) fn get(&mut self, pid: u32) -> &mut ProcInfo {
        if self.procs.len() >= MAX_PROCS && !self.procs.contains_key(&pid) {
            self.procs
                .retain(|p, _| Path::new(&format!("/proc/{p}")).exists());
        }
        let (any, ignore) = (self.trust_any, &self.ignore_ns);
        self.procs.entry(pid).or_insert_with(|| {
            let mut info = inspect_with(pid, any);
            if info.origin.daemon.is_some_and(|d| ignore.contains(&d.ns)) {
                info.trust = Err(Distrust::IgnoredNamespace);
            }
            info
        })
    }

    /// Reads `pid` again (after exec).
    pub(crate) fn refresh(&mut self, pid: u32) -> &mut ProcInfo {
        self.procs.remove(&pid);
        self.get(pid)
    }

    pub(crate) fn remove(&mut self, pid: u32) -> Option<ProcInfo> {
        self.procs.remove(&pid)
    }

    /// Trusted processes that are gone although no exit record said so (it
    /// was lost with a full ring): no `/proc/<pid>`, or another program
    /// under that pid now. Removed from the table and returned.
    pub(crate) fn take_gone(&mut self) -> Vec<(u32, ProcInfo)> {
        self.procs
            .extract_if(|pid, i| {
                i.trusted()
                    && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                        .map_or(true, |c| c.trim_end_matches('\n') != i.process())
            })
            .collect()
    }

    #[must_use]
    pub(crate) fn len(&self) -> usize {
        self.procs.len()
    }
}

/// Pids of running processes whose `comm` is in `watch`.
#[must_use]
pub(crate) fn scan(watch: &[String]) -> Vec<u32> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| watch.iter().any(|w| w == c.trim_end_matches('\n')))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines() {
        let a = parse_cmdline(b"ptp4l\0-f\0/var/run/ptp4l.0.config\0-i\0ens1f0\0-iens2f0\0-m\0");
        assert_eq!(a.config.as_deref(), Some("/var/run/ptp4l.0.config"));
        assert_eq!(a.ifaces, ["ens1f0", "ens2f0"]);
        assert_eq!(parse_cmdline(b"ptp4l\0-f"), Args::default());
        assert_eq!(parse_cmdline(b""), Args::default());
        assert_eq!(parse_cmdline(b"phc2sys\0-a\0-r\0").config, None);
        let a = parse_cmdline(b"ptp4l\0-i\0eth0\0--uds_address\0/run/x\0-m\0");
        assert_eq!((a.uds.as_deref(), a.ifaces.len()), (Some("/run/x"), 1));
        let a = parse_cmdline(b"ptp4l\0--uds_address=/run/y\0");
        assert_eq!(a.uds.as_deref(), Some("/run/y"));
    }

    #[test]
    fn this_test_binary_is_not_linuxptp() {
        let info = inspect(std::process::id());
        assert_eq!(info.trust, Err(Distrust::NotLinuxptp));
        assert_eq!(inspect(u32::MAX).trust, Err(Distrust::Vanished));
    }

    #[test]
    fn clock_names() {
        assert_eq!(clock_name(1, 0), "CLOCK_REALTIME");
        // fd 999 is not open here.
        assert_eq!(clock_name(std::process::id(), (!999 << 3) | 3), "fd999");
    }
}
