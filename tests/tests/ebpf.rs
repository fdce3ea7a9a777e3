//! The eBPF source on this machine's kernel (root only): real probes, real
//! ptp4l in network namespaces (without CAP_SYS_TIME), real HTTP consumers.
//!
//! Skipped with a message when not root or when this build has no probes;
//! `cargo xtask test` sets `CEA_REQUIRE_EBPF=1`, which turns a skip into a
//! failure, and runs them on one thread after the rest (`CEA_EBPF_DEFER`
//! skips them in the first, parallel run).

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::process::{Command, Stdio};
use std::time::Duration;

use agent_common::{Decoded, Kind, decode};
use agent_tests::ptp::{self, ChildGuard, NetnsPair};
use agent_tests::{Agent, Consumer, request, sample, wait_for, workspace_bin};
use cloud_event_agent::probes::{Options, Probes, built};

const T: Duration = Duration::from_secs(30);

/// Whether the eBPF tests can run here; panics when they must
/// (`CEA_REQUIRE_EBPF`) but cannot.
fn gate(test: &str) -> bool {
    if std::env::var_os("CEA_EBPF_DEFER").is_some() {
        eprintln!("SKIP {test}: deferred to the one-thread eBPF run of cargo xtask test");
        return false;
    }
    let why = if !ptp::is_root() {
        "not root"
    } else if !built() {
        "the probes were not built (AYA_BUILD_SKIP or no bpf-linker)"
    } else if let Err(e) = ptp::can_run_ptp4l() {
        return skip(test, &e);
    } else {
        return true;
    };
    skip(test, why)
}

fn skip(test: &str, why: &str) -> bool {
    assert!(
        std::env::var_os("CEA_REQUIRE_EBPF").is_none(),
        "{test}: eBPF tests are required here (CEA_REQUIRE_EBPF) but {why}"
    );
    eprintln!("SKIP {test}: {why} (run `cargo xtask test` as root)");
    false
}

fn fake(name: &str, args: &[&str]) -> Command {
    let mut c = Command::new(workspace_bin("fake-daemon"));
    c.args(["--name", name])
        .args(args)
        .stdout(Stdio::null())
        .stdin(Stdio::null());
    c
}

/// The probes loaded by this process, watching the processes named
/// `watch`, with a ring of `ring_bytes`.
fn load_probes(watch: &[&str], ring_bytes: u32) -> Probes {
    Probes::load(&Options {
        watch: watch.iter().map(|w| (*w).to_owned()).collect(),
        ring_bytes,
        line_budget: 0,
        line_burst: 0,
        trust_any: false,
        ignore_pidns: Vec::new(),
    })
    .unwrap()
}

fn ebpf_agent(extra: &[&str]) -> Agent {
    let mut args = vec!["--source", "ebpf"];
    args.extend_from_slice(extra);
    Agent::start_logged(&args)
}

#[test]
fn clock_adjtime_of_a_process_named_phc2sys_is_a_record() {
    if !gate("clock_adjtime_of_a_process_named_phc2sys_is_a_record") {
        return;
    }
    let mut probes = load_probes(&["phc2sys"], 64 * 1024);
    let child = fake("phc2sys", &["adjtime", "--count", "3"])
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let mut seen = Vec::new();
    let found = wait_for(T, || {
        probes.drain(|rec| {
            if let Ok(Decoded::ClockAdjtime(r)) = decode(rec)
                && r.hdr.pid == pid
            {
                seen.push(r);
            }
        });
        (seen.len() >= 3).then_some(())
    });
    assert!(found.is_some(), "records: {seen:?}");
    for r in &seen {
        assert_eq!(r.hdr.kind, Kind::ClockAdjtime as u32);
        assert_eq!(r.clock_id, libc::CLOCK_REALTIME);
        assert_eq!(r.modes, 0);
        assert!(r.ret >= 0, "clock_adjtime failed: {r:?}");
        assert!(r.exit_ktime_ns >= r.hdr.ktime_ns);
    }
}

#[test]
fn writev_clock_settime_exec_and_exit_are_records() {
    if !gate("writev_clock_settime_exec_and_exit_are_records") {
        return;
    }
    // `fake-daemon` is exec'd under its own name: watch that too, for the
    // exec record.
    let mut probes = load_probes(&["fake-daemon", "cea-writev"], 64 * 1024);
    let w = fake(
        "cea-writev",
        &["writev", "--parts", "ptp4l[1.0]: ", "port 1: ", "a\n"],
    )
    .spawn()
    .unwrap();
    let wpid = w.id();
    assert!(w.wait_with_output().unwrap().status.success());
    let s = fake("cea-writev", &["settime-monotonic"]).spawn().unwrap();
    let spid = s.id();
    assert!(s.wait_with_output().unwrap().status.success());
    let mut pieces = Vec::new();
    let mut settime = None;
    let (mut exec, mut exit) = (false, false);
    let done = wait_for(T, || {
        probes.drain(|rec| match decode(rec) {
            Ok(Decoded::Log {
                hdr, flags, data, ..
            }) if hdr.pid == wpid => pieces.push((flags, data.to_vec())),
            Ok(Decoded::ClockSettime(r)) if r.hdr.pid == spid => settime = Some(r),
            Ok(Decoded::Exec(p)) if p.hdr.pid == wpid => exec = true,
            Ok(Decoded::Exit(p)) if p.hdr.pid == wpid => exit = true,
            _ => {}
        });
        (pieces.len() >= 3 && settime.is_some() && exec && exit).then_some(())
    });
    assert!(
        done.is_some(),
        "pieces {pieces:?} settime {settime:?} exec {exec} exit {exit}"
    );
    let text: Vec<u8> = pieces.iter().flat_map(|(_, d)| d.clone()).collect();
    assert_eq!(text, b"ptp4l[1.0]: port 1: a\n");
    let flags: Vec<u32> = pieces.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        flags,
        [
            agent_common::LOG_WRITEV,
            agent_common::LOG_WRITEV,
            agent_common::LOG_WRITEV | agent_common::LOG_LAST
        ]
    );
    let st = settime.unwrap();
    assert_eq!(st.clock_id, libc::CLOCK_MONOTONIC);
    assert_eq!((st.tv_sec, st.tv_nsec), (12345, 678));
    assert_eq!(st.ret, -i64::from(libc::EINVAL));
}

#[test]
fn a_syslog_datagram_is_a_record() {
    if !gate("a_syslog_datagram_is_a_record") {
        return;
    }
    let mut probes = load_probes(&["cea-syslog"], 64 * 1024);
    let msg = "<30>Nov 30 06:40:00 ptp4l: [3663.671] port 1: LISTENING to UNCALIBRATED on RS_SLAVE";
    let c = fake("cea-syslog", &["syslog", "--msg", msg])
        .spawn()
        .unwrap();
    let pid = c.id();
    assert!(c.wait_with_output().unwrap().status.success());
    let mut got = None;
    let ok = wait_for(T, || {
        probes.drain(|rec| {
            if let Ok(Decoded::Log {
                hdr, flags, data, ..
            }) = decode(rec)
                && hdr.pid == pid
            {
                got = Some((flags, data.to_vec()));
            }
        });
        got.is_some().then_some(())
    });
    assert!(ok.is_some(), "no syslog record");
    let (flags, data) = got.unwrap();
    assert_eq!(flags, agent_common::LOG_SYSLOG);
    assert_eq!(data, msg.as_bytes());
}

#[test]
fn the_loading_process_itself_is_ignored() {
    if !gate("the_loading_process_itself_is_ignored") {
        return;
    }
    let mut probes = load_probes(&["cea-self"], 64 * 1024);
    // A thread of this process takes the watched name and writes to stderr.
    std::thread::spawn(|| {
        let name = std::ffi::CString::new("cea-self").unwrap();
        nix::sys::prctl::set_name(&name).unwrap();
        // write(2) itself: the test harness captures eprintln!.
        let msg = b"written by the process that loaded the probes\n";
        let n = nix::unistd::write(std::io::stderr(), msg).unwrap();
        assert!(n > 0);
    })
    .join()
    .unwrap();
    // A child of the same name is seen (so the probe is live).
    let child = fake("cea-self", &["print", "--line", "from the child"])
        .spawn()
        .unwrap();
    let cpid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    let me = std::process::id();
    let (mut mine, mut childs) = (0, 0);
    let seen = wait_for(T, || {
        probes.drain(|rec| {
            if let Ok(Decoded::Log { hdr, .. }) = decode(rec) {
                if hdr.pid == me {
                    mine += 1;
                } else if hdr.pid == cpid {
                    childs += 1;
                }
            }
        });
        (childs > 0).then_some(())
    });
    assert!(seen.is_some(), "the child's line was not seen");
    assert_eq!(mine, 0, "the loading process's own write was recorded");
}

#[test]
fn a_flood_that_fills_the_ring_is_counted_not_silent() {
    if !gate("a_flood_that_fills_the_ring_is_counted_not_silent") {
        return;
    }
    const N: u64 = 20_000;
    // The smallest ring (4 KiB: seven log records) and nobody reading
    // while the flood runs. Log lines stop at three quarters full (the
    // rest is kept for exits and clock records): counted against the
    // writer; a line that still finds the ring full is counted by kind.
    let mut probes = load_probes(&["cea-flood"], 4096);
    let child = fake("cea-flood", &["flood", "--count", &N.to_string()])
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(child.wait_with_output().unwrap().status.success());
    let mut read = 0u64;
    probes.drain(|rec| {
        if let Ok(Decoded::Log { .. }) = decode(rec) {
            read += 1;
        }
    });
    let full = probes.take_lost()[Kind::LogLine as usize];
    let dropped = probes.take_dropped();
    let of_flood: Vec<_> = dropped.iter().filter(|d| d.pid == pid).collect();
    assert_eq!(of_flood.len(), 1, "{dropped:?}");
    assert_eq!(of_flood[0].over, 0, "no budget here");
    let refused = of_flood[0].ring_full;
    assert!(refused > 0, "a 4 KiB ring cannot hold {N} lines");
    // Every write is either in the ring or counted.
    assert_eq!(
        read + refused,
        N,
        "read {read}, refused {refused} (of them {full} found the ring full)"
    );
    // The counters are cumulative: a second look reports nothing new.
    assert_eq!(probes.take_lost()[Kind::LogLine as usize], 0);
    assert!(probes.take_dropped().iter().all(|d| d.pid != pid));
}

/// The offsets of lock-state events received on `/e` that are one of
/// `offsets` (the agent sees every ptp4l of the node: other tests' daemons
/// may publish beside ours).
fn offsets_received(c: &Consumer, offsets: &[&str]) -> usize {
    c.bodies("/e")
        .iter()
        .flat_map(|b| b["data"]["values"].as_array().cloned().unwrap_or_default())
        .filter(|v| {
            v["data_type"] == "metric"
                && offsets.contains(&v["value"].to_string().trim_matches('"'))
        })
        .count()
}

/// A watched phc2sys writing as fast as it can (garbage, and phc2sys lines
/// that change nothing) cannot cost another daemon a state change: every
/// flip of a quiet ptp4l arrives while the flood runs, and the flood's
/// drops are counted against phc2sys, none against ptp4l. Without the
/// line budget (`--ebpf-line-budget 0`) the flood fills the 256 KiB ring
/// and flips are lost.
#[test]
fn a_flooding_daemon_cannot_cost_another_daemon_its_state_changes() {
    if !gate("a_flooding_daemon_cannot_cost_another_daemon_its_state_changes") {
        return;
    }
    const FLIPS: usize = 100;
    let mut extra = vec![
        "--ebpf-trust-any",
        "--max-offset-threshold",
        "5000",
        "--min-offset-threshold",
        "-5000",
    ];
    // For showing the defect: CEA_TEST_LINE_BUDGET=0.
    let budget = std::env::var("CEA_TEST_LINE_BUDGET").unwrap_or_default();
    if !budget.is_empty() {
        extra.extend(["--ebpf-line-budget", &budget]);
    }
    let a = ebpf_agent(&extra);
    let c = Consumer::start();
    a.subscribe(LOCK, &c.endpoint("/e"));
    c.wait_bodies("/e", T, |b| !b.is_empty());
    let mut flood = ChildGuard(Some(
        fake("phc2sys", &["flood", "--count", "100000000000", "--valid"])
            .spawn()
            .unwrap(),
    ));
    // The flood is under way: a hundred thousand of its writes seen.
    let seen = |m: &str| {
        sample(m, "cloud_event_agent_ebpf_records_total{kind=\"log_line\"}")
            + sample(
                m,
                "cloud_event_agent_ebpf_lost_records_total{kind=\"log_line\"}",
            )
            + sample(
                m,
                "cloud_event_agent_ebpf_lines_dropped_total{process=\"phc2sys\",reason=\"over_budget\"}",
            )
            + sample(
                m,
                "cloud_event_agent_ebpf_lines_dropped_total{process=\"phc2sys\",reason=\"ring_full\"}",
            )
    };
    wait_for(T, || (seen(&a.metrics()) >= 100_000.0).then_some(()))
        .unwrap_or_else(|| panic!("no flood seen:\n{}", a.metrics()));
    let dir = tempfile::tempdir().unwrap();
    let times = dir.path().join("times");
    let st = fake(
        "ptp4l",
        &[
            "flip",
            "--count",
            &FLIPS.to_string(),
            "--gap-us",
            "10000",
            "--times",
            times.to_str().unwrap(),
            "--low=-4321",
            "--high",
            "987654",
        ],
    )
    .status()
    .unwrap();
    assert!(st.success());
    let offsets = ["-4321", "987654"];
    let got = wait_for(Duration::from_secs(10), || {
        let n = offsets_received(&c, &offsets);
        (n >= FLIPS).then_some(n)
    });
    let m = a.metrics();
    assert!(
        flood.0.as_mut().unwrap().try_wait().unwrap().is_none(),
        "the flood ended before the flips"
    );
    drop(flood);
    assert_eq!(
        got,
        Some(FLIPS),
        "flips received: {} of {FLIPS}\n{m}",
        offsets_received(&c, &offsets)
    );
    let dropped = |process: &str, reason: &str| {
        sample(
            &m,
            &format!(
                "cloud_event_agent_ebpf_lines_dropped_total{{process=\"{process}\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert!(dropped("phc2sys", "over_budget") > 0.0, "{m}");
    assert_eq!(dropped("ptp4l", "over_budget"), 0.0, "{m}");
    assert_eq!(dropped("ptp4l", "ring_full"), 0.0, "{m}");
}

#[test]
fn a_process_renamed_ptp4l_printing_offsets_changes_nothing() {
    if !gate("a_process_renamed_ptp4l_printing_offsets_changes_nothing") {
        return;
    }
    let a = ebpf_agent(&[]);
    // A config name no real daemon here uses: other ptp4l processes of the
    // node (other tests) may feed this agent at the same time.
    let cfg = "ptp4l.97531.config";
    let line = format!("ptp4l[5196819.100]: [{cfg}] master offset -5 s2 freq +500 path delay 89");
    let st = fake("ptp4l", &["print", "--line", &line, "--count", "50"])
        .status()
        .unwrap();
    assert!(st.success());
    let untrusted = "cloud_event_agent_ebpf_dropped_total{reason=\"untrusted\"}";
    let m = wait_for(T, || {
        let m = a.metrics();
        (sample(&m, untrusted) >= 50.0).then_some(m)
    })
    .unwrap_or_else(|| panic!("not counted as untrusted:\n{}", a.metrics()));
    // Nothing reached the engine: no metric and no state of that instance.
    assert!(!m.contains(cfg), "{m}");
    let r = a.current_state(LOCK);
    assert!(!r.text().contains(cfg), "{}", r.text());
}

/// The agent as an unprivileged user (`setpriv` to nobody): the probes
/// cannot load there.
fn unprivileged_agent(dir: &std::path::Path, api: u16, source: &str) -> Command {
    // A copy nobody can run wherever the checkout lives (/root is 0700).
    let bin = dir.join("cloud-event-agent");
    if !bin.exists() {
        std::fs::copy(workspace_bin("cloud-event-agent"), &bin).unwrap();
    }
    let mut c = Command::new("setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&bin)
        .args([
            "--source",
            source,
            "--node-name",
            "n1",
            "--api-addr",
            "127.0.0.1",
        ])
        .args(["--api-port", &api.to_string()])
        .args([
            "--metrics-addr",
            &format!("127.0.0.1:{}", agent_tests::free_port()),
        ])
        .arg("--store-path")
        .arg(dir.join("store"))
        .arg("--socket-path")
        .arg(dir.join("events.sock"))
        .arg("--ptp4l-uds")
        .arg(dir.join("ptp4l"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    c
}

#[test]
fn without_privileges_auto_falls_back_to_the_socket_and_ebpf_fails() {
    if !gate("without_privileges_auto_falls_back_to_the_socket_and_ebpf_fails") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("store")).unwrap();
    for p in [dir.path().to_path_buf(), dir.path().join("store")] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let api = agent_tests::free_port();
    let mut auto = ChildGuard(Some(
        unprivileged_agent(dir.path(), api, "auto")
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let url = format!("http://127.0.0.1:{api}/api/ocloudNotifications/v2/health/detail");
    let d = wait_for(T, || {
        let r = request("GET", &url, None).ok()?;
        serde_json::from_slice::<serde_json::Value>(&r.body).ok()
    })
    .expect("the unprivileged agent answers");
    assert_eq!(d["requested"], "auto", "{d}");
    assert_eq!(d["active"], "socket", "{d}");
    assert!(
        d["ebpf_unavailable"]
            .as_str()
            .is_some_and(|s| !s.is_empty()),
        "{d}"
    );
    // The log socket is there instead.
    let sock = dir.path().join("events.sock");
    assert!(wait_for(T, || sock.exists().then_some(())).is_some());
    auto.kill();
    // `--source ebpf` does not fall back: it exits with the reason.
    let out = unprivileged_agent(dir.path(), agent_tests::free_port(), "ebpf")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--source ebpf"), "{err}");
}

const LOCK: &str = "/sync/ptp-status/lock-state";

/// Agent in eBPF mode (thresholds of a few µs: both daemons share one
/// clock), a consumer subscribed to lock-state, ptp4l master and slave in
/// network namespaces writing their output to files only.
struct Lab {
    a: Agent,
    c: Consumer,
    /// The slave's interface: its lock-state values are addressed by it.
    iface: String,
    master: ChildGuard,
    slave: ChildGuard,
    // Dropped last: the ptp4l processes die first.
    _pair: NetnsPair,
}

/// Lock states received for `iface` (the agent sees every ptp4l of the
/// node: other tests' daemons may run beside ours).
fn lock_states(c: &Consumer, iface: &str) -> Vec<String> {
    let part = format!("/{iface}/");
    c.bodies("/e")
        .iter()
        .flat_map(|b| b["data"]["values"].as_array().cloned().unwrap_or_default())
        .filter(|v| {
            v["data_type"] == "notification"
                && v["ResourceAddress"]
                    .as_str()
                    .is_some_and(|a| a.contains(&part))
        })
        .filter_map(|v| v["value"].as_str().map(str::to_owned))
        .collect()
}

/// Starts everything and waits for LOCKED.
fn locked_lab(tag: &str) -> Lab {
    let a = ebpf_agent(&[
        "--max-offset-threshold",
        "5000",
        "--min-offset-threshold",
        "-5000",
        "--holdover-timeout",
        "3",
    ]);
    let c = Consumer::start();
    a.subscribe(LOCK, &c.endpoint("/e"));
    c.wait_bodies("/e", T, |b| !b.is_empty());
    c.clear();
    let pair = NetnsPair::new(&format!("{tag}{}", std::process::id() % 10_000));
    let (mcfg, scfg) = ptp::write_configs(a.dir.path(), &pair);
    let master = ptp::start_ptp4l(&pair.master_ns, &mcfg, &a.dir.path().join("m.log"));
    let slave = ptp::start_ptp4l(&pair.slave_ns, &scfg, &a.dir.path().join("s.log"));
    let lab = Lab {
        a,
        c,
        iface: pair.slave_if.clone(),
        master,
        slave,
        _pair: pair,
    };
    let ok = wait_for(Duration::from_secs(90), || {
        lock_states(&lab.c, &lab.iface)
            .iter()
            .any(|s| s == "LOCKED")
            .then_some(())
    });
    assert!(
        ok.is_some(),
        "no LOCKED: {:?}\nagent log:\n{}\nslave log:\n{}",
        lock_states(&lab.c, &lab.iface),
        lab.a.log(),
        std::fs::read_to_string(lab.a.dir.path().join("s.log")).unwrap_or_default()
    );
    lab
}

/// The states received after the last LOCKED.
fn after_locked(c: &Consumer, iface: &str) -> Vec<String> {
    let s = lock_states(c, iface);
    let i = s.iter().rposition(|v| v == "LOCKED").map_or(0, |i| i + 1);
    s[i..].to_vec()
}

#[test]
fn real_ptp4l_slave_locked_then_killed_gives_freerun() {
    if !gate("real_ptp4l_slave_locked_then_killed_gives_freerun") {
        return;
    }
    let mut lab = locked_lab("ceak");
    let a = &lab.a;
    let d: serde_json::Value =
        serde_json::from_slice(&request("GET", &a.api("/health/detail"), None).unwrap().body)
            .unwrap();
    assert_eq!(d["active"], "ebpf", "{d}");
    assert!(
        d["probes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["program"] == "tp_write" && p["attached"] == true),
        "{d}"
    );
    // Nothing came through a socket or a pipe: the lines were read in the
    // kernel, and ptp4l's refused clock_adjtime calls were seen too.
    let m = a.metrics();
    assert!(
        sample(&m, "cloud_event_agent_ebpf_lines_total") > 0.0,
        "{m}"
    );
    let adj = "cloud_event_agent_clock_adjtime_total{clock=\"CLOCK_REALTIME\",process=\"ptp4l\",result=\"error\"}";
    assert!(sample(&m, adj) > 0.0, "{m}");
    assert!(a.log().contains("ptp4l.1.config"), "{}", a.log());
    lab.c.clear();
    lab.slave.kill();
    let got = wait_for(T, || {
        let s = lock_states(&lab.c, &lab.iface);
        s.iter().any(|v| v == "FREERUN").then_some(s)
    });
    let got = got.unwrap_or_else(|| panic!("no FREERUN after the slave died:\n{}", lab.a.log()));
    // At once: no HOLDOVER in between.
    assert_eq!(got.first().map(String::as_str), Some("FREERUN"), "{got:?}");
    assert!(lab.a.log().contains("linuxptp process exited"));
    assert_eq!(
        sample(
            &lab.a.metrics(),
            "cloud_event_agent_ebpf_dropped_total{reason=\"decode_error\"}"
        ),
        0.0
    );
}

/// The slave reports the lost master as `port 1: SLAVE to LISTENING on
/// ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES` (and prints no offset line after that):
/// HOLDOVER, then FREERUN when the holdover timeout (3 s here) runs out.
#[test]
fn real_ptp4l_master_killed_gives_holdover_then_freerun() {
    if !gate("real_ptp4l_master_killed_gives_holdover_then_freerun") {
        return;
    }
    let mut lab = locked_lab("ceah");
    lab.master.kill();
    let got = wait_for(T, || {
        let s = after_locked(&lab.c, &lab.iface);
        s.iter().any(|v| v == "FREERUN").then_some(s)
    });
    let got = got.unwrap_or_else(|| {
        panic!(
            "no FREERUN after the master died: {:?}\n{}",
            lock_states(&lab.c, &lab.iface),
            lab.a.log()
        )
    });
    assert_eq!(
        got,
        ["HOLDOVER", "FREERUN"],
        "all: {:?}",
        lock_states(&lab.c, &lab.iface)
    );
}
