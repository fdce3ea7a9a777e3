//! Real linuxptp (root): ptp4l master and slave in two network namespaces
//! (software timestamps, the slave without CAP_SYS_TIME so the
//! clock is never touched), the slave's output piped into the agent's log
//! socket as the linuxptp-daemon does (its `message_tag`, then
//! `PTP_PROCESS_STATUS:0` when the process exits). A consumer sees LOCKED,
//! HOLDOVER and FREERUN when the master dies, LOCKED when it is back, and
//! FREERUN when the slave dies.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_tests::ptp::{self, ChildGuard, NetnsPair, TIMING, start_ptp4l_piped};
use agent_tests::{Agent, Consumer, LogWriter, wait_for};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(90);

fn skip() -> bool {
    if let Err(why) = ptp::can_run_ptp4l() {
        eprintln!(
            "SKIPPED real_ptp4l: {why}: needs root and linuxptp (run `cargo xtask test` as root)"
        );
        return true;
    }
    false
}

fn master_cfg(dir: &Path, iface: &str) -> String {
    format!(
        "[global]\n{TIMING}priority1 1\npriority2 1\nfree_running 1\nuds_address {}\n[{iface}]\nmasterOnly 1\n",
        dir.join("ptp4l-m").display()
    )
}

/// The daemon-style config: `#profile:` header, the tag ptp4l prints.
fn slave_cfg(dir: &Path, iface: &str) -> String {
    format!(
        "#profile: slave1\n[global]\n{TIMING}slaveOnly 1\nfree_running 0\n\
         pi_proportional_const 0.7\npi_integral_const 0.3\nmessage_tag [ptp4l.0.config]\n\
         uds_address {}\n[{iface}]\n",
        dir.join("ptp4l-s").display()
    )
}

/// An agent with profile `slave1` loaded (holdover 3 s), and the configs of
/// a ptp4l master and slave in two network namespaces: the slave's in the
/// agent's config directory (`ptp4l.0.config`), the master's elsewhere.
struct Lab {
    a: Agent,
    pair: NetnsPair,
    master_cfg: PathBuf,
    slave_cfg: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Lab {
    /// `tag` keeps the namespace and interface names unique.
    fn new(tag: &str) -> Self {
        let a = Agent::start(&[]);
        let tmp = tempfile::tempdir().unwrap();
        let pair = NetnsPair::new(&format!("{tag}{}", std::process::id()));
        let master_cfg = tmp.path().join("master.cfg");
        std::fs::write(&master_cfg, self::master_cfg(tmp.path(), &pair.master_if)).unwrap();
        let slave_cfg = a.dir.path().join("ptp4l.0.config");
        std::fs::write(&slave_cfg, self::slave_cfg(tmp.path(), &pair.slave_if)).unwrap();
        std::fs::write(
            a.dir.path().join("ptp-profiles.json"),
            r#"[{"name":"slave1","ptpClockThreshold":{"holdOverTimeout":3,"maxOffsetThreshold":10000,"minOffsetThreshold":-10000}}]"#,
        )
        .unwrap();
        // The agent re-reads its profiles within two seconds.
        let loaded = wait_for(Duration::from_secs(10), || {
            a.metrics()
                .contains(r#"profile="slave1",threshold="HoldOverTimeout"} 3"#)
                .then_some(())
        });
        assert!(loaded.is_some(), "profiles not loaded:\n{}", a.metrics());
        Self {
            a,
            pair,
            master_cfg,
            slave_cfg,
            _tmp: tmp,
        }
    }

    fn master(&self) -> ChildGuard {
        start_ptp4l_piped(&self.pair.master_ns, &self.master_cfg)
    }

    fn slave(&self) -> ChildGuard {
        start_ptp4l_piped(&self.pair.slave_ns, &self.slave_cfg)
    }

    /// The slave port's resource address.
    fn port_address(&self) -> String {
        self.a.address(&format!("/{}/master", self.pair.slave_if))
    }

    /// The `openshift_ptp_interface_role` sample of the slave's port.
    fn role(&self, v: u8) -> String {
        format!(
            r#"openshift_ptp_interface_role{{iface="{}",node="test-node.example.com",process="ptp4l"}} {v}"#,
            self.pair.slave_if
        )
    }
}

/// Pipes the child's stdout into the log socket like the daemon: status UP,
/// every line, status DOWN at EOF.
fn pipe(child: &mut ChildGuard, mut w: LogWriter) -> std::thread::JoinHandle<()> {
    let out = child.take_stdout();
    std::thread::spawn(move || {
        w.line("ptp4l[1]:[ptp4l.0.config] PTP_PROCESS_STATUS:1");
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            w.line(&line);
        }
        w.line("ptp4l[2]:[ptp4l.0.config] PTP_PROCESS_STATUS:0");
    })
}

/// Every value of `data_type` in the bodies received on `path` for `addr`,
/// in order.
fn values(c: &Consumer, path: &str, addr: &str, data_type: &str) -> Vec<String> {
    c.bodies(path)
        .iter()
        .flat_map(|b| b["data"]["values"].as_array().cloned().unwrap_or_default())
        .filter(|v| v["data_type"] == data_type && v["ResourceAddress"] == addr)
        .filter_map(|v: Value| v["value"].as_str().map(str::to_owned))
        .collect()
}

/// The lock-state values received for the slave's clock, in order.
fn states(c: &Consumer, addr: &str) -> Vec<String> {
    values(c, "/lock", addr, "notification")
}

/// Waits until the states after index `from` contain `want` in order;
/// returns the index after the last match.
fn wait_seq(c: &Consumer, addr: &str, from: usize, want: &[&str]) -> usize {
    let found = wait_for(LONG, || {
        let s = states(c, addr);
        let mut i = from;
        for w in want {
            i += s.get(i..)?.iter().position(|x| x == w)? + 1;
        }
        Some(i)
    });
    found.unwrap_or_else(|| {
        panic!(
            "lock-state never went {want:?} after #{from}; got {:?}",
            states(c, addr)
        )
    })
}

#[test]
fn real_ptp4l_lock_holdover_freerun_relock_and_exit() {
    if skip() {
        return;
    }
    let lab = Lab::new("cea");
    let a = &lab.a;
    let c = Consumer::start();
    a.subscribe("/sync/ptp-status/lock-state", &c.endpoint("/lock"));
    let addr = lab.port_address();

    let mut master = lab.master();
    let mut slave = lab.slave();
    let piper = pipe(&mut slave, a.connect_socket());
    let mut n = wait_seq(&c, &addr, 0, &["LOCKED"]);

    master.kill();
    n = wait_seq(&c, &addr, n, &["HOLDOVER", "FREERUN"]);
    let metrics = a.metrics();
    assert!(metrics.contains(&lab.role(5)), "{metrics}");

    let _master = lab.master();
    n = wait_seq(&c, &addr, n, &["LOCKED"]);
    assert!(a.metrics().contains(&lab.role(1)));

    slave.kill();
    piper.join().unwrap();
    wait_seq(&c, &addr, n, &["FREERUN"]);
    let m = a.metrics();
    assert!(
        m.contains(r#"openshift_ptp_process_status{config="ptp4l.0.config",node="test-node.example.com",process="ptp4l"} 0"#),
        "{m}"
    );
}

/// Reads and drops a child's output (nothing else reads it).
fn drain(child: &mut ChildGuard) {
    let out = child.take_stdout();
    std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
}

/// No log lines at all: the agent follows ptp4l through its management
/// socket (`uds_address` of the config), as `pmc` does.
#[test]
fn real_ptp4l_management_socket_clock_class_and_roles() {
    if skip() {
        return;
    }
    let lab = Lab::new("cep");
    let a = &lab.a;
    let c = Consumer::start();
    for (suffix, path) in [
        ("/sync/ptp-status/clock-class", "/class"),
        ("/sync/ptp-status/lock-state", "/lock"),
    ] {
        a.subscribe(suffix, &c.endpoint(path));
    }
    let addr = lab.port_address();
    let role = |v: u8| lab.role(v);

    let mut master = lab.master();
    drain(&mut master);
    let mut slave = lab.slave();
    drain(&mut slave);
    // The master's class (248, default) once the slave follows it.
    let class = wait_for(LONG, || {
        let v = values(&c, "/class", &addr, "metric");
        v.contains(&"248".to_owned()).then_some(v)
    });
    assert!(class.is_some(), "{:?}", c.bodies("/class"));
    let slave_role = wait_for(LONG, || a.metrics().contains(&role(1)).then_some(()));
    assert!(slave_role.is_some(), "{}", a.metrics());

    // Master gone: the port leaves SLAVE (HOLDOVER, then FREERUN), and the
    // slave-only clock is its own parent: class 255.
    master.kill();
    let lost = wait_for(LONG, || {
        let v = values(&c, "/lock", &addr, "notification");
        let h = v.iter().position(|s| s == "HOLDOVER")?;
        v[h..].contains(&"FREERUN".to_owned()).then_some(())
    });
    assert!(lost.is_some(), "{:?}", c.bodies("/lock"));
    assert!(a.metrics().contains(&role(5)));
    let own = wait_for(LONG, || {
        values(&c, "/class", &addr, "metric")
            .contains(&"255".to_owned())
            .then_some(())
    });
    assert!(own.is_some(), "{:?}", c.bodies("/class"));
    slave.kill();
}

/// Values of CurrentState `suffix` at `addr` of `data_type` (none on 404).
fn current(a: &Agent, suffix: &str, addr: &str, data_type: &str) -> Vec<String> {
    let r = a.current_state(suffix);
    if r.status == 404 {
        return Vec::new();
    }
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["data"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x["ResourceAddress"] == addr && x["data_type"] == data_type)
        .filter_map(|x| x["value"].as_str().map(str::to_owned))
        .collect()
}

/// The README's socket mode: ptp4l's output piped into the log socket and
/// nothing else (no `PTP_PROCESS_STATUS` lines). After `kill -9` the
/// agent's own management client sees ptp4l stop answering: FREERUN, and
/// the clock class is gone from CurrentState.
#[test]
fn readme_pipe_then_kill9_gives_freerun_and_no_stale_class() {
    if skip() {
        return;
    }
    let lab = Lab::new("n9p");
    let a = &lab.a;
    let c = Consumer::start();
    a.subscribe("/sync/ptp-status/lock-state", &c.endpoint("/lock"));
    a.subscribe("/sync/ptp-status/clock-class", &c.endpoint("/class"));
    let addr = lab.port_address();
    let mut master = lab.master();
    drain(&mut master);
    let slave = lab.slave();
    piped_locked_then_kill9(a, &c, &addr, slave, None);
}

/// `slave`'s output piped into the log socket (its lines tagged `[tag]`
/// when given, as the README's sed does): LOCKED and clock class 248; after
/// `kill -9`, FREERUN and no clock class in CurrentState.
fn piped_locked_then_kill9(
    a: &Agent,
    c: &Consumer,
    addr: &str,
    mut slave: ChildGuard,
    tag: Option<&'static str>,
) {
    let out = slave.take_stdout();
    let mut w = a.connect_socket();
    let piper = std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            // sed 's/^\(ptp4l\[[^]]*\]:\) /\1 [tag] /'
            let tagged = match (tag, line.split_once("]: ")) {
                (Some(tag), Some((head, rest))) => format!("{head}]: [{tag}] {rest}"),
                _ => line,
            };
            w.line(&tagged);
        }
    });
    let n = wait_seq(c, addr, 0, &["LOCKED"]);
    let class = wait_for(LONG, || {
        values(c, "/class", addr, "metric")
            .contains(&"248".to_owned())
            .then_some(())
    });
    assert!(class.is_some(), "{:?}", c.bodies("/class"));
    slave.kill();
    piper.join().unwrap();
    wait_seq(c, addr, n, &["FREERUN"]);
    assert_eq!(
        current(a, "/sync/ptp-status/lock-state", addr, "notification"),
        ["FREERUN"]
    );
    assert!(current(a, "/sync/ptp-status/clock-class", addr, "metric").is_empty());
}

/// A ptp4l that prints nothing (`-q`, no `-m`): its port state and
/// `TIME_STATUS_NP` offset, read from its management socket, make it
/// LOCKED; `kill -9` makes it FREERUN.
#[test]
fn silent_ptp4l_is_followed_through_its_management_socket() {
    if skip() {
        return;
    }
    let lab = Lab::new("n9q");
    let a = &lab.a;
    let c = Consumer::start();
    a.subscribe("/sync/ptp-status/lock-state", &c.endpoint("/lock"));
    let addr = lab.port_address();
    let mut master = lab.master();
    drain(&mut master);
    let mut slave = ptp::spawn_ptp4l_args(
        &lab.pair.slave_ns,
        &["-f", lab.slave_cfg.to_str().unwrap(), "-q"],
        std::process::Stdio::piped(),
        std::process::Stdio::piped(),
    );
    let stdout = slave.take_stdout();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let mut r = stdout;
        std::io::Read::read_to_string(&mut r, &mut out).ok();
        out
    });
    let n = wait_seq(&c, &addr, 0, &["LOCKED"]);
    slave.kill();
    wait_seq(&c, &addr, n, &["FREERUN"]);
    let out = reader.join().unwrap();
    assert!(out.is_empty(), "ptp4l printed: {out}");
}

/// The demo: master and slave each with a config in the agent's config
/// directory and their own management socket. Each instance has its own
/// clock class, and the values do not alternate.
#[test]
fn two_ptp4l_with_their_own_management_sockets_keep_their_own_class() {
    if skip() {
        return;
    }
    let lab = Lab::new("n9r");
    let a = &lab.a;
    // The master's config joins the slave's in the config directory.
    std::fs::copy(&lab.master_cfg, a.dir.path().join("ptp4l.1.config")).unwrap();
    let c = Consumer::start();
    a.subscribe("/sync/ptp-status/clock-class", &c.endpoint("/class"));
    let slave_addr = lab.port_address();
    let master_addr = a.address(&format!("/{}/master", lab.pair.master_if));
    let mut master = ptp::spawn_ptp4l_args(
        &lab.pair.master_ns,
        &[
            "-f",
            a.dir.path().join("ptp4l.1.config").to_str().unwrap(),
            "-m",
        ],
        std::process::Stdio::piped(),
        std::process::Stdio::null(),
    );
    drain(&mut master);
    let mut slave = lab.slave();
    drain(&mut slave);
    for addr in [&slave_addr, &master_addr] {
        let got = wait_for(LONG, || {
            values(&c, "/class", addr, "metric")
                .contains(&"248".to_owned())
                .then_some(())
        });
        assert!(got.is_some(), "{addr}: {:?}", c.bodies("/class"));
    }
    // Several polls later: no class changes back and forth.
    std::thread::sleep(Duration::from_secs(4));
    let s = values(&c, "/class", &slave_addr, "metric");
    let m = values(&c, "/class", &master_addr, "metric");
    assert!(
        s.len() <= 2 && s.last().map(String::as_str) == Some("248"),
        "{s:?}"
    );
    assert_eq!(m, ["248"]);
}

/// A plain slave (`-i` only) whose master syncs faster than its
/// `summary_interval`: it prints only `rms` summaries (and port lines),
/// piped into the log socket as the README shows (tagged by sed); its
/// management socket is not the one the config names, so nothing but the
/// summaries with the SLAVE port can make it LOCKED.
#[test]
fn summary_only_slave_is_locked_from_its_summaries() {
    if skip() {
        return;
    }
    let lab = Lab::new("n9u");
    let a = &lab.a;
    let c = Consumer::start();
    a.subscribe("/sync/ptp-status/lock-state", &c.endpoint("/lock"));
    let mut master = lab.master();
    drain(&mut master);
    let tmp = tempfile::tempdir().unwrap();
    let uds = tmp.path().join("plain.sock");
    let mut slave = ptp::spawn_ptp4l_args(
        &lab.pair.slave_ns,
        &[
            "-i",
            &lab.pair.slave_if,
            "-S",
            "-2",
            "-s",
            "-m",
            "--pi_proportional_const",
            "0.7",
            "--pi_integral_const",
            "0.3",
            "--uds_address",
            uds.to_str().unwrap(),
        ],
        std::process::Stdio::piped(),
        std::process::Stdio::null(),
    );
    let out = slave.take_stdout();
    let mut w = a.connect_socket();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            log.lock().unwrap().push(line.clone());
            // The README's sed: the tag names the config (and its profile).
            let tagged = match line.split_once("]: ") {
                Some((head, rest)) => format!("{head}]: [ptp4l.0.config] {rest}"),
                None => line,
            };
            w.line(&tagged);
        }
    });
    let addr = lab.port_address();
    wait_seq(&c, &addr, 0, &["LOCKED"]);
    let lines = seen.lock().unwrap().clone();
    assert!(lines.iter().any(|l| l.contains(" rms ")), "{lines:?}");
    assert!(
        !lines.iter().any(|l| l.contains("master offset")),
        "{lines:?}"
    );
    slave.kill();
}

/// Socket mode with a config of the user's own name: `slave.cfg` in the
/// config directory (its own `uds_address`, no `message_tag`), ptp4l's
/// output tagged `[slave.cfg]` by the README's sed and piped into the log
/// socket. LOCKED; after `kill -9` the management socket of that ptp4l is
/// gone: FREERUN, and no stale clock class.
#[test]
fn any_config_name_kill9_gives_freerun_and_no_stale_class() {
    if skip() {
        return;
    }
    let lab = Lab::new("n9c");
    let a = &lab.a;
    let c = Consumer::start();
    a.subscribe("/sync/ptp-status/lock-state", &c.endpoint("/lock"));
    a.subscribe("/sync/ptp-status/clock-class", &c.endpoint("/class"));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = a.dir.path().join("slave.cfg");
    std::fs::write(
        &cfg,
        format!(
            "#profile: slave1\n[global]\n{TIMING}slaveOnly 1\nfree_running 0\n\
             pi_proportional_const 0.7\npi_integral_const 0.3\nuds_address {}\n[{}]\n",
            tmp.path().join("slave.sock").display(),
            lab.pair.slave_if
        ),
    )
    .unwrap();
    // Only slave.cfg names the slave's interface.
    std::fs::remove_file(&lab.slave_cfg).unwrap();
    let addr = lab.port_address();
    let mut master = lab.master();
    drain(&mut master);
    let slave = start_ptp4l_piped(&lab.pair.slave_ns, &cfg);
    piped_locked_then_kill9(a, &c, &addr, slave, Some("slave.cfg"));
}
