//! Real linuxptp (root): ptp4l master and slave in two network namespaces
//! (LAB.md §3: software timestamps, the slave without CAP_SYS_TIME so the
//! clock is never touched), the slave's output piped into the agent's log
//! socket as the linuxptp-daemon does (its `message_tag`, then
//! `PTP_PROCESS_STATUS:0` when the process exits). A consumer sees LOCKED,
//! HOLDOVER and FREERUN when the master dies, LOCKED when it is back, and
//! FREERUN when the slave dies.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location (STYLE.md)"
)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::Duration;

use agent_tests::netns::{ChildGuard, VethPair, has_program, is_root, ptp4l_nocap};
use agent_tests::{Agent, Consumer, LogWriter, request, wait_for};
use serde_json::Value;

const LONG: Duration = Duration::from_secs(90);

const TIMING: &str = "time_stamping software\nnetwork_transport L2\ndelay_mechanism E2E\n\
    domainNumber 0\nlogAnnounceInterval 0\nlogSyncInterval -3\nlogMinDelayReqInterval -3\n\
    summary_interval -3\n";

fn skip() -> bool {
    if !is_root() || !has_program("ptp4l") {
        eprintln!("SKIPPED real_ptp4l: needs root and linuxptp (run `cargo xtask test` as root)");
        return true;
    }
    false
}

fn master_cfg(dir: &Path) -> String {
    format!(
        "[global]\n{TIMING}priority1 1\npriority2 1\nfree_running 1\nuds_address {}\n[veth-m]\nmasterOnly 1\n",
        dir.join("ptp4l-m").display()
    )
}

/// The daemon-style config: `#profile:` header, the tag ptp4l prints.
fn slave_cfg(dir: &Path) -> String {
    format!(
        "#profile: slave1\n[global]\n{TIMING}slaveOnly 1\nfree_running 0\n\
         pi_proportional_const 0.7\npi_integral_const 0.3\nmessage_tag [ptp4l.0.config]\n\
         uds_address {}\n[veth-s]\n",
        dir.join("ptp4l-s").display()
    )
}

/// Pipes the child's stdout into the log socket like the daemon: status UP,
/// every line, status DOWN at EOF.
fn pipe(child: &mut ChildGuard, mut w: LogWriter) -> std::thread::JoinHandle<()> {
    let out = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        w.line("ptp4l[1]:[ptp4l.0.config] PTP_PROCESS_STATUS:1");
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            w.line(&line);
        }
        w.line("ptp4l[2]:[ptp4l.0.config] PTP_PROCESS_STATUS:0");
    })
}

/// The lock-state values received for the slave's clock, in order.
fn states(c: &Consumer, addr: &str) -> Vec<String> {
    c.bodies("/lock")
        .iter()
        .flat_map(|b| b["data"]["values"].as_array().cloned().unwrap_or_default())
        .filter(|v| v["data_type"] == "notification" && v["ResourceAddress"] == addr)
        .filter_map(|v: Value| v["value"].as_str().map(str::to_owned))
        .collect()
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
    let a = Agent::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let veth = VethPair::new(&format!("cea{}", std::process::id()));
    let master_path = tmp.path().join("master.cfg");
    std::fs::write(&master_path, master_cfg(tmp.path())).unwrap();
    let slave_path = a.dir.path().join("ptp4l.0.config");
    std::fs::write(&slave_path, slave_cfg(tmp.path())).unwrap();
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

    let c = Consumer::start();
    let body = format!(
        r#"{{"ResourceAddress":"{}","EndpointUri":"{}"}}"#,
        a.address("/sync/ptp-status/lock-state"),
        c.endpoint("/lock")
    );
    let r = request("POST", &a.api("/subscriptions"), Some(body.as_bytes())).unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let addr = a.address("/veth-s/master");

    let mut master = ptp4l_nocap(&veth.master, &master_path);
    let mut slave = ptp4l_nocap(&veth.slave, &slave_path);
    let piper = pipe(&mut slave, a.connect_socket());
    let mut n = wait_seq(&c, &addr, 0, &["LOCKED"]);

    master.kill();
    n = wait_seq(&c, &addr, n, &["HOLDOVER", "FREERUN"]);
    let metrics = a.metrics();
    assert!(
        metrics.contains(r#"openshift_ptp_interface_role{iface="veth-s",node="test-node.example.com",process="ptp4l"} 5"#),
        "{metrics}"
    );

    let _master = ptp4l_nocap(&veth.master, &master_path);
    n = wait_seq(&c, &addr, n, &["LOCKED"]);
    assert!(
        a.metrics()
            .contains(r#"openshift_ptp_interface_role{iface="veth-s",node="test-node.example.com",process="ptp4l"} 1"#)
    );

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
    let out = child.0.stdout.take().unwrap();
    std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
}

/// Every value of `kind` bodies received on `path` for `addr`, in order.
fn values(c: &Consumer, path: &str, addr: &str, data_type: &str) -> Vec<String> {
    c.bodies(path)
        .iter()
        .flat_map(|b| b["data"]["values"].as_array().cloned().unwrap_or_default())
        .filter(|v| v["data_type"] == data_type && v["ResourceAddress"] == addr)
        .filter_map(|v: Value| v["value"].as_str().map(str::to_owned))
        .collect()
}

/// No log lines at all: the agent follows ptp4l through its management
/// socket (`uds_address` of the config), as `pmc` does.
#[test]
fn real_ptp4l_management_socket_clock_class_and_roles() {
    if skip() {
        return;
    }
    let a = Agent::start(&[]);
    let tmp = tempfile::tempdir().unwrap();
    let veth = VethPair::new(&format!("cep{}", std::process::id()));
    let master_path = tmp.path().join("master.cfg");
    std::fs::write(&master_path, master_cfg(tmp.path())).unwrap();
    let slave_path = a.dir.path().join("ptp4l.0.config");
    std::fs::write(&slave_path, slave_cfg(tmp.path())).unwrap();
    std::fs::write(
        a.dir.path().join("ptp-profiles.json"),
        r#"[{"name":"slave1","ptpClockThreshold":{"holdOverTimeout":3,"maxOffsetThreshold":10000,"minOffsetThreshold":-10000}}]"#,
    )
    .unwrap();
    let loaded = wait_for(Duration::from_secs(10), || {
        a.metrics().contains(r#"profile="slave1""#).then_some(())
    });
    assert!(loaded.is_some());

    let c = Consumer::start();
    for (suffix, path) in [
        ("/sync/ptp-status/clock-class", "/class"),
        ("/sync/ptp-status/lock-state", "/lock"),
    ] {
        let body = format!(
            r#"{{"ResourceAddress":"{}","EndpointUri":"{}"}}"#,
            a.address(suffix),
            c.endpoint(path)
        );
        let r = request("POST", &a.api("/subscriptions"), Some(body.as_bytes())).unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let addr = a.address("/veth-s/master");
    let role = |v: u8| {
        format!(
            r#"openshift_ptp_interface_role{{iface="veth-s",node="test-node.example.com",process="ptp4l"}} {v}"#
        )
    };

    let mut master = ptp4l_nocap(&veth.master, &master_path);
    drain(&mut master);
    let mut slave = ptp4l_nocap(&veth.slave, &slave_path);
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
