//! Instances are running daemons (root, eBPF source, real ptp4l in network
//! namespaces without CAP_SYS_TIME): any config name, no config at all, a
//! `message_tag` that differs from the config's name, two plain slaves,
//! and an unrelated ptp4l with the same config name elsewhere.
//!
//! The agent sees every ptp4l of the node (other tests' too): every
//! assertion is about this test's own interfaces. Run on one thread after
//! the rest (`cargo xtask test`), like `ebpf.rs`.

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use agent_tests::ptp::{self, ChildGuard, NetnsPair, TIMING, spawn_ptp4l_args};
use agent_tests::{Agent, Consumer, wait_for};
use cloud_event_agent::probes::built;
use serde_json::Value;

const LONG: Duration = Duration::from_secs(90);
const LOCK: &str = "/sync/ptp-status/lock-state";
const CLASS: &str = "/sync/ptp-status/clock-class";

fn gate(test: &str) -> bool {
    if std::env::var_os("CEA_EBPF_DEFER").is_some() {
        eprintln!("SKIP {test}: deferred to the one-thread eBPF run of cargo xtask test");
        return false;
    }
    let why = if !ptp::is_root() {
        "not root".to_owned()
    } else if !built() {
        "the probes were not built (AYA_BUILD_SKIP or no bpf-linker)".to_owned()
    } else if let Err(e) = ptp::can_run_ptp4l() {
        e
    } else {
        return true;
    };
    assert!(
        std::env::var_os("CEA_REQUIRE_EBPF").is_none(),
        "{test}: eBPF tests are required here (CEA_REQUIRE_EBPF) but {why}"
    );
    eprintln!("SKIP {test}: {why} (run `cargo xtask test` as root)");
    false
}

/// `(value, data_type)` of every value received on `path` for `addr`.
fn values(c: &Consumer, path: &str, addr: &str, data_type: &str) -> Vec<String> {
    c.bodies(path)
        .iter()
        .flat_map(|b| b["data"]["values"].as_array().cloned().unwrap_or_default())
        .filter(|v| v["data_type"] == data_type && v["ResourceAddress"] == addr)
        .filter_map(|v: Value| v["value"].as_str().map(str::to_owned))
        .collect()
}

fn states(c: &Consumer, addr: &str) -> Vec<String> {
    values(c, "/lock", addr, "notification")
}

fn wait_state(c: &Consumer, addr: &str, want: &str, a: &Agent) {
    let ok = wait_for(LONG, || {
        states(c, addr).iter().any(|s| s == want).then_some(())
    });
    assert!(
        ok.is_some(),
        "{addr}: no {want}; got {:?}\nagent log:\n{}",
        states(c, addr),
        a.log()
    );
}

/// The values of CurrentState `suffix` for `addr` (none when 404): the
/// states, or for the clock class its metric.
fn current(a: &Agent, suffix: &str, addr: &str) -> Vec<String> {
    let r = a.current_state(suffix);
    if r.status == 404 {
        return Vec::new();
    }
    let want = if suffix == CLASS {
        "metric"
    } else {
        "notification"
    };
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    v["data"]["values"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|x| x["ResourceAddress"] == addr && x["data_type"] == want)
        .filter_map(|x| x["value"].as_str().map(str::to_owned))
        .collect()
}

fn master_cfg(dir: &Path, iface: &str) -> std::path::PathBuf {
    let p = dir.join(format!("master-{iface}.cfg"));
    std::fs::write(
        &p,
        format!(
            "[global]\n{TIMING}priority1 1\npriority2 1\nfree_running 1\nuds_address {}\n[{iface}]\nmasterOnly 1\n",
            dir.join(format!("{iface}.sock")).display()
        ),
    )
    .unwrap();
    p
}

fn ptp4l_file(ns: &str, args: &[&str], log: &Path) -> ChildGuard {
    let out = std::fs::File::create(log).unwrap();
    let err = out.try_clone().unwrap();
    spawn_ptp4l_args(ns, args, out.into(), err.into())
}

fn agent(extra: &[&str]) -> (Agent, Consumer) {
    let mut args = vec!["--source", "ebpf"];
    args.extend_from_slice(extra);
    let a = Agent::start_logged(&args);
    let c = Consumer::start();
    a.subscribe(LOCK, &c.endpoint("/lock"));
    a.subscribe(CLASS, &c.endpoint("/class"));
    (a, c)
}

fn tag(t: &str) -> String {
    format!("{t}{}", std::process::id() % 1000)
}

/// `ptp4l -f slave.cfg` (not a `ptp4l.N.config`) whose `message_tag` names
/// another config (`[ptp4l.7.config]`), with a `#profile:` header: the
/// profile's thresholds apply (the defaults of ±100 ns would not lock
/// here), LOCKED and the class arrive under its interface; after `kill -9`
/// FREERUN comes at once and the class is gone.
#[test]
fn any_config_name_and_a_foreign_message_tag_are_one_instance_until_kill9() {
    if !gate("any_config_name_and_a_foreign_message_tag_are_one_instance_until_kill9") {
        return;
    }
    let (a, c) = agent(&[]);
    std::fs::write(
        a.dir.path().join("ptp-profiles.json"),
        r#"[{"name":"p9","ptpClockThreshold":{"holdOverTimeout":3,"maxOffsetThreshold":10000,"minOffsetThreshold":-10000}}]"#,
    )
    .unwrap();
    let pair = NetnsPair::new(&tag("n9a"));
    let tmp = tempfile::tempdir().unwrap();
    let slave_cfg = tmp.path().join("slave.cfg");
    std::fs::write(
        &slave_cfg,
        format!(
            "#profile: p9\n[global]\n{TIMING}slaveOnly 1\nfree_running 0\npi_proportional_const 0.7\n\
             pi_integral_const 0.3\nmessage_tag [ptp4l.7.config]\nuds_address {}\n[{}]\n",
            tmp.path().join("s.sock").display(),
            pair.slave_if
        ),
    )
    .unwrap();
    let mcfg = master_cfg(tmp.path(), &pair.master_if);
    let _m = ptp4l_file(
        &pair.master_ns,
        &["-f", mcfg.to_str().unwrap(), "-m"],
        &tmp.path().join("m.log"),
    );
    let mut s = ptp4l_file(
        &pair.slave_ns,
        &["-f", slave_cfg.to_str().unwrap(), "-m"],
        &tmp.path().join("s.log"),
    );
    let addr = a.address(&format!("/{}/master", pair.slave_if));
    wait_state(&c, &addr, "LOCKED", &a);
    // The class, from its own management socket (found through its config).
    let class = wait_for(LONG, || {
        values(&c, "/class", &addr, "metric")
            .contains(&"248".to_owned())
            .then_some(())
    });
    assert!(class.is_some(), "{:?}\n{}", c.bodies("/class"), a.log());
    let before = states(&c, &addr).len();
    s.kill();
    let freed = wait_for(LONG, || {
        let st = states(&c, &addr);
        (st.len() > before).then(|| st[before..].to_vec())
    });
    assert_eq!(freed.unwrap()[0], "FREERUN", "{}", a.log());
    assert_eq!(current(&a, LOCK, &addr), ["FREERUN"]);
    assert!(
        current(&a, CLASS, &addr).is_empty(),
        "stale class: {:?}",
        current(&a, CLASS, &addr)
    );
}

/// Two plain ptp4l slaves (`-i` only, no config, `--uds_address` on the
/// command line), each with its own master syncing 8 times a second: with
/// the default `summary_interval 0` they print only `rms` summaries. Two
/// clocks, each LOCKED; when one dies the node's sync-state is the worst.
#[test]
fn two_plain_summary_only_slaves_are_two_clocks() {
    if !gate("two_plain_summary_only_slaves_are_two_clocks") {
        return;
    }
    let (a, c) = agent(&[
        "--max-offset-threshold",
        "5000",
        "--min-offset-threshold",
        "-5000",
    ]);
    a.subscribe("/sync/sync-status/sync-state", &c.endpoint("/sync"));
    let tmp = tempfile::tempdir().unwrap();
    let pairs = [NetnsPair::new(&tag("n9b")), NetnsPair::new(&tag("n9c"))];
    let mut kids = Vec::new();
    for (k, p) in pairs.iter().enumerate() {
        let m = master_cfg(tmp.path(), &p.master_if);
        kids.push(ptp4l_file(
            &p.master_ns,
            &["-f", m.to_str().unwrap(), "-m"],
            &tmp.path().join(format!("m{k}.log")),
        ));
        kids.push(ptp4l_file(
            &p.slave_ns,
            &[
                "-i",
                &p.slave_if,
                "-S",
                "-2",
                "-s",
                "-m",
                "--pi_proportional_const",
                "0.7",
                "--pi_integral_const",
                "0.3",
                "--uds_address",
                tmp.path().join(format!("s{k}.sock")).to_str().unwrap(),
            ],
            &tmp.path().join(format!("s{k}.log")),
        ));
    }
    let addrs: Vec<String> = pairs
        .iter()
        .map(|p| a.address(&format!("/{}/master", p.slave_if)))
        .collect();
    for addr in &addrs {
        wait_state(&c, addr, "LOCKED", &a);
    }
    // Summaries only (their evidence alone is shown in socket mode, in
    // real_ptp4l.rs; here the management socket speaks too).
    let log = wait_for(LONG, || {
        let l = std::fs::read_to_string(tmp.path().join("s0.log")).unwrap_or_default();
        l.contains(" rms ").then_some(l)
    })
    .unwrap();
    assert!(!log.contains("master offset"), "{log}");
    // The second slave dies: its clock FREERUN, the first stays LOCKED.
    let before = states(&c, &addrs[0]).len();
    kids[3].kill();
    wait_state(&c, &addrs[1], "FREERUN", &a);
    assert_eq!(current(&a, LOCK, &addrs[0]), ["LOCKED"]);
    assert_eq!(current(&a, LOCK, &addrs[1]), ["FREERUN"]);
    assert_eq!(states(&c, &addrs[0]).len(), before);
    let sync = a.current_state("/sync/sync-status/sync-state");
    assert!(
        String::from_utf8_lossy(&sync.body).contains("FREERUN"),
        "{}",
        String::from_utf8_lossy(&sync.body)
    );
}

/// A healthy slave (`ptp4l.1.config`) is LOCKED; another ptp4l with a
/// config of the same name, in its own network, mount and pid namespace,
/// starts and dies: nothing about the healthy slave changes.
#[test]
fn an_unrelated_ptp4l_with_the_same_config_name_changes_nothing() {
    if !gate("an_unrelated_ptp4l_with_the_same_config_name_changes_nothing") {
        return;
    }
    // Wide thresholds: this test asserts that no state of the healthy slave
    // changes for seconds, and on a loaded 2-core machine the software
    // timestamps of a real ptp4l jitter past a few microseconds now and
    // then (a true change). What it looks for is another process's life
    // and death attributed to this clock, which no threshold hides.
    let (a, c) = agent(&[
        "--max-offset-threshold",
        "1000000",
        "--min-offset-threshold",
        "-1000000",
    ]);
    let pair = NetnsPair::new(&tag("n9d"));
    let (mcfg, scfg) = ptp::write_configs(a.dir.path(), &pair);
    let _m = ptp::start_ptp4l(&pair.master_ns, &mcfg, &a.dir.path().join("m.log"));
    let _s = ptp::start_ptp4l(&pair.slave_ns, &scfg, &a.dir.path().join("s.log"));
    let addr = a.address(&format!("/{}/master", pair.slave_if));
    wait_state(&c, &addr, "LOCKED", &a);
    let before = states(&c, &addr).len();

    // The other one: same file name, another directory, behind its own
    // mount (and pid) namespace; no master, so it never locks.
    let other = NetnsPair::new(&tag("n9e"));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("ptp4l.1.config");
    std::fs::write(
        &cfg,
        format!("[global]\n{TIMING}slaveOnly 1\n[{}]\n", other.slave_if),
    )
    .unwrap();
    let mut stranger = ChildGuard(Some(
        std::process::Command::new("ip")
            .args(["netns", "exec", &other.slave_ns])
            .args(["unshare", "--mount", "--pid", "--fork", "--kill-child"])
            .args(ptp::NOCAP)
            .args(["ptp4l", "-f", cfg.to_str().unwrap(), "-m"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let seen = wait_for(Duration::from_secs(20), || {
        a.log().contains(other.slave_if.as_str()).then_some(())
    });
    assert!(seen.is_some(), "the stranger was not seen:\n{}", a.log());
    std::thread::sleep(Duration::from_secs(2));
    stranger.kill();
    let gone = wait_for(Duration::from_secs(20), || {
        (a.log().matches("linuxptp process exited").count() >= 1).then_some(())
    });
    assert!(gone.is_some(), "{}", a.log());
    // Time for a wrong FREERUN to arrive, if there were one.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        states(&c, &addr)[before..],
        [] as [String; 0],
        "{:#?}\nslave:\n{}\nagent:\n{}",
        c.bodies("/lock"),
        std::fs::read_to_string(a.dir.path().join("s.log")).unwrap_or_default(),
        a.log()
    );
    assert_eq!(current(&a, LOCK, &addr), ["LOCKED"]);
    let stranger_addr = a.address(&format!("/{}/master", other.slave_if));
    assert!(states(&c, &stranger_addr).is_empty());
}
