//! The agent as a drop-in for cloud-event-proxy in a ptp-operator cluster,
//! against the real binary: the operator's exact arguments and environment,
//! every generation of consumer (4.14 value keys, the v1-era HTTP transport
//! of consumer sidecars, v1 and v2 as separate views), percent-encoded
//! addresses, and what an operator needs (health, SIGHUP, log lines).

#![allow(
    clippy::unwrap_used,
    reason = "integration tests panic with a location"
)]

use std::process::{Command, Stdio};
use std::time::Duration;

use agent_tests::{
    Agent, Consumer, Response, free_port, http::request_with, request, wait_for, workspace_bin,
};
use serde_json::{Value, json};

const LOCK: &str = "/sync/ptp-status/lock-state";
const SECS: Duration = Duration::from_secs(10);

fn get(url: &str) -> Response {
    request("GET", url, None).unwrap()
}

fn root(a: &Agent, path: &str) -> String {
    format!("http://127.0.0.1:{}{path}", a.api_port)
}

/// The agent started the way ptp-operator starts its sidecar: its exact
/// argument list (ports made free) and environment; our own settings come
/// through environment variables only, so the list stays the operator's.
struct OperatorStarted {
    child: std::process::Child,
    dir: tempfile::TempDir,
    api_port: u16,
}

impl OperatorStarted {
    fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let api_port = free_port();
        let child = Command::new(workspace_bin("cloud-event-agent"))
            .args([
                format!("--metrics-addr=127.0.0.1:{}", free_port()),
                format!("--store-path={}", d.join("store").display()),
                "--transport-host=http://ptp-event-publisher-service-NODE_NAME.openshift-ptp.svc.cluster.local:9043".to_owned(),
                "--api-version=2.0".to_owned(),
                format!("--api-port={api_port}"),
            ])
            .args(extra)
            .env("PTP_PLUGIN", "true")
            .env("NODE_NAME", "worker-1.example.com")
            .env("NAME_SPACE", "openshift-ptp")
            .env("LOG_LEVEL", "info")
            .env("API_ADDR", "127.0.0.1")
            .env("SOURCE", "socket")
            .env("SOCKET_PATH", d.join("events.sock"))
            .env("PTP_CONFIG_DIR", d)
            .env("PTP_PROFILE_PATH", d)
            .env("PTP4L_UDS", d.join("ptp4l"))
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(d.join("agent.log")).unwrap())
            .spawn()
            .unwrap();
        Self {
            child,
            dir,
            api_port,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.api_port)
    }

    fn healthy(&mut self) -> bool {
        wait_for(SECS, || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("agent exited with {status}: {}", self.log());
            }
            (request("GET", &self.url("/api/ocloudNotifications/v2/health"), None)
                .ok()?
                .status
                == 200)
                .then_some(())
        })
        .is_some()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }
}

impl Drop for OperatorStarted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Kills the child when the test ends, passed or not.
struct Reap(std::process::Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn defines_flag(flag: &str) -> bool {
    let out = Command::new(workspace_bin("cloud-event-agent"))
        .arg("--help")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(flag)
}

#[test]
fn the_operators_arguments_start_the_agent() {
    // An anchor flag this agent has no use for must not stop it.
    let unknown = !defines_flag("--auth-config");
    let extra: &[&str] = if unknown {
        &["--auth-config=/etc/cloud-event-proxy/auth.json"]
    } else {
        &[]
    };
    let mut a = OperatorStarted::start(extra);
    assert!(a.healthy(), "not healthy: {}", a.log());
    // The daemon container's wait loop and the 4.14 consumer's check.
    assert_eq!(
        get(&a.url("/api/ocloudNotifications/v2/health")).text(),
        "OK"
    );
    let r = get(&a.url("/health"));
    assert_eq!((r.status, r.json()), (200, json!({"ok": true})));
    // 2.0 keeps v1 served (both versions unless --api-version-only).
    assert_eq!(
        get(&a.url("/api/ocloudNotifications/v1/health")).status,
        200
    );
    // UriLocation names the per-node Service with the short node name.
    let c = Consumer::start();
    let body = json!({
        "ResourceAddress": format!("/cluster/node/worker-1.example.com{LOCK}"),
        "EndpointUri": c.endpoint("/event"),
    });
    let r = request(
        "POST",
        &a.url("/api/ocloudNotifications/v2/subscriptions"),
        Some(body.to_string().as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let loc = r.json()["UriLocation"].as_str().unwrap().to_owned();
    assert!(
        loc.starts_with(&format!(
            "http://ptp-event-publisher-service-worker-1.openshift-ptp.svc.cluster.local:{}/api/ocloudNotifications/v2/subscriptions/",
            a.api_port
        )),
        "{loc}"
    );
    if unknown {
        let log = a.log();
        assert!(
            log.contains("--auth-config=/etc/cloud-event-proxy/auth.json") && log.contains("WARN"),
            "the ignored flag is named in a warning: {log}"
        );
    }
}

#[test]
fn api_version_only_serves_that_version_and_bad_versions_exit_64() {
    let mut a = OperatorStarted::start(&["--api-version=1.0", "--api-version-only"]);
    assert!(
        a.healthy(),
        "v2 health answers even in v1-only mode: {}",
        a.log()
    );
    assert_eq!(
        get(&a.url("/api/ocloudNotifications/v1/health")).status,
        200
    );
    assert_eq!(
        get(&a.url("/api/ocloudNotifications/v2/subscriptions")).status,
        404
    );
    let out = Command::new(workspace_bin("cloud-event-agent"))
        .arg("--api-version=3.0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1.0 and 2.0"));
}

fn v1_values(body: &Value) -> Vec<Value> {
    body["data"]["values"].as_array().unwrap().clone()
}

#[test]
fn v1_subscribers_get_the_4_14_value_keys() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    a.subscribe_v1(LOCK, &c.endpoint("/v1"));
    a.create_event(LOCK, "LOCKED");
    let bodies = c.wait_bodies("/v1", SECS, |b| b.iter().any(|b| b.get("data").is_some()));
    let values = v1_values(bodies.iter().find(|b| b.get("data").is_some()).unwrap());
    for v in &values {
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["dataType", "resource", "value", "valueType"], "{v}");
    }
    assert_eq!(values[0]["value"], "LOCKED");
    assert_eq!(values[0]["dataType"], "notification");
    // v2 keeps O-RAN's keys.
    let r = a.current_state(LOCK);
    assert_eq!(r.json()["data"]["values"][0]["data_type"], "notification");

    // A flag chooses the new keys for v1 too.
    let a = Agent::start(&["--v1-value-keys", "oran"]);
    let c = Consumer::start();
    a.subscribe_v1(LOCK, &c.endpoint("/v1"));
    a.create_event(LOCK, "FREERUN");
    let bodies = c.wait_bodies("/v1", SECS, |b| b.iter().any(|b| b.get("data").is_some()));
    let values = v1_values(bodies.iter().find(|b| b.get("data").is_some()).unwrap());
    assert_eq!(values[0]["data_type"], "notification");
    assert!(values[0].get("dataType").is_none());
}

#[test]
fn v2_and_v1_are_separate_views_of_one_store() {
    let a = Agent::start(&[]);
    let c = Consumer::start();
    let v1 = a.subscribe_v1(LOCK, &c.endpoint("/v1"));
    let v2 = a.subscribe(LOCK, &c.endpoint("/v2"));
    let v2_list = get(&a.api("/subscriptions")).json();
    assert_eq!(v2_list.as_array().unwrap().len(), 1, "{v2_list}");
    assert_eq!(v2_list[0]["SubscriptionId"], v2["SubscriptionId"]);
    let v1_id = v1["id"].as_str().unwrap();
    assert_eq!(get(&a.api(&format!("/subscriptions/{v1_id}"))).status, 404);
    let r = request("DELETE", &a.api(&format!("/subscriptions/{v1_id}")), None).unwrap();
    assert_eq!(r.status, 404, "v2 cannot delete a v1 subscription");
    // Today's Go consumer deletes all on a 409 at restart.
    let r = request("DELETE", &a.api("/subscriptions"), None).unwrap();
    assert_eq!(r.status, 204);
    assert_eq!(get(&a.api("/subscriptions")).json(), json!([]));
    let v1_list = get(&a.api_v1("/subscriptions")).json();
    assert_eq!(v1_list.as_array().unwrap().len(), 1, "v1 kept: {v1_list}");
    assert_eq!(v1_list[0]["id"], v1_id);
    // And the other way round.
    a.subscribe(LOCK, &c.endpoint("/v2"));
    let r = request("DELETE", &a.api_v1("/subscriptions"), None).unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        get(&a.api("/subscriptions"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// One consumer endpoint may hold a v1 and a v2 subscription to the same
/// resource: each API sees and answers for its own, so neither a 409 nor
/// an answer naming a subscription the other API cannot show.
#[test]
fn one_endpoint_may_subscribe_through_v1_and_v2() {
    let mut a = Agent::start(&[]);
    let c = Consumer::start();
    let endpoint = c.endpoint("/both");
    let v1 = a.subscribe_v1(LOCK, &endpoint);
    let v2 = a.subscribe(LOCK, &endpoint);
    assert_ne!(v2["SubscriptionId"], v1["id"]);
    let v2_id = v2["SubscriptionId"].as_str().unwrap();
    assert_eq!(get(&a.api(&format!("/subscriptions/{v2_id}"))).status, 200);
    // The other way round: v1 answers with its own, not the v2 one.
    let again = a.subscribe_v1(LOCK, &endpoint);
    assert_eq!(again["id"], v1["id"]);
    let v1_list = get(&a.api_v1("/subscriptions")).json();
    assert_eq!(v1_list.as_array().unwrap().len(), 1, "{v1_list}");
    // Both survive a restart with their own API.
    a.restart();
    assert_eq!(
        get(&a.api("/subscriptions"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        get(&a.api_v1("/subscriptions"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn percent_encoded_addresses_are_decoded() {
    let a = Agent::start(&[]);
    a.create_event(LOCK, "LOCKED");
    let encoded = a.address(LOCK).replace('/', "%2F");
    let r = get(&a.api(&format!("/{encoded}/CurrentState")));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["source"], LOCK);
    let r = get(&a.api_v1(&format!("/{encoded}/CurrentState")));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["specversion"], "0.3");
    // Decoding to bytes no address has: 400 saying so.
    for bad in ["%2Fcluster%FF/CurrentState", "%2Fcluster%00x/CurrentState"] {
        let r = get(&a.api(&format!("/{bad}")));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(r.text().contains("invalid"), "{}", r.text());
        let r = get(&a.api_v1(&format!("/{bad}")));
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
}

/// The anchor's `subscriber.Subscriber` as a 4.12-4.18 consumer sidecar
/// sends it (`action` 0 = NEW, 2 = DELETE).
fn subscriber(client: &str, endpoint: &str, resource: &str, action: i64) -> Value {
    json!({
        "clientID": client,
        "subStore": {"Store": {"4f2d4c3e-3c53-4c0f-a2b6-1f0d2f2b8e11": {
            "id": "4f2d4c3e-3c53-4c0f-a2b6-1f0d2f2b8e11",
            "resource": resource,
        }}},
        "endPointURI": endpoint,
        "status": 0,
        "action": action,
    })
}

/// POSTs `data` to `/subscription` as a binary-mode CloudEvent, as the
/// sidecar's cloudevents-sdk-go client does.
fn register(a: &Agent, data: &Value) -> Response {
    request_with(
        "POST",
        &root(a, "/subscription"),
        Some(data.to_string().as_bytes()),
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "b0c1a3a2-46c6-4b59-9b36-6f6f1c1b7f10"),
            ("ce-source", "/cluster/node/x/sync/ptp-status/lock-state"),
            ("ce-type", "SUBSCRIBER"),
            ("ce-subject", "NEW"),
            ("Content-Type", "application/json"),
        ],
    )
    .unwrap()
}

/// UUIDv3 of the URL namespace and `url`: the sidecar's client id.
fn client_id(url: &str) -> String {
    uuid::Uuid::new_v3(&uuid::Uuid::NAMESPACE_URL, url.as_bytes()).to_string()
}

#[test]
fn a_v1_era_consumer_sidecar_registers_receives_and_pulls() {
    let a = Agent::start(&[]);
    // The sidecar's transport server acks with 200.
    let sidecar = Consumer::with_args(&["--status", "200"]);
    let base = sidecar.endpoint("");
    let client = client_id(&base);
    let lock = a.address(LOCK);
    let r = register(&a, &subscriber(&client, &base, &lock, 0));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["subscriptions"][0]["resource"], lock.as_str());
    // Stored in the anchor's format under the sidecar's client id.
    assert!(a.store_dir().join(format!("{client}.json")).exists());
    // Not a v1 or v2 API subscription.
    assert_eq!(get(&a.api("/subscriptions")).json(), json!([]));
    assert_eq!(get(&a.api_v1("/subscriptions")).json(), json!([]));

    a.create_event(LOCK, "LOCKED");
    let got = wait_for(SECS, || {
        let evs: Vec<Value> = sidecar
            .events()
            .into_iter()
            .filter(|e| e["path"] == "/event")
            .collect();
        (!evs.is_empty()).then_some(evs)
    })
    .expect("an event at the sidecar's /event");
    let ev = &got[0];
    assert_eq!(ev["content_type"], "application/cloudevents+json");
    let body = &ev["body"];
    assert_eq!(body["specversion"], "0.3");
    assert_eq!(
        body["source"],
        lock.as_str(),
        "the bus address the sidecar matches"
    );
    assert_eq!(body["type"], "event.sync.ptp-status.ptp-state-change");
    assert_eq!(
        body["data"]["values"][0]["resource"],
        "/cluster/node/test-node.example.com/ens1fx/master"
    );
    assert_eq!(body["data"]["values"][0]["value"], "LOCKED");

    // CurrentState through the transport, percent-encoded or not.
    for res in [lock.clone(), lock.replace('/', "%2F")] {
        let r = get(&root(
            &a,
            &format!(
                "{}/{client}/CurrentState",
                if res.starts_with('/') {
                    res.clone()
                } else {
                    format!("/{res}")
                }
            ),
        ));
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(
            (v["specversion"].as_str(), v["source"].as_str()),
            (Some("0.3"), Some(lock.as_str()))
        );
        assert_eq!(v["data"]["values"][0]["value"], "LOCKED");
    }
    // Unknown client, unsubscribed resource: 400 with the anchor's message.
    let other = client_id("http://elsewhere:9043");
    let r = get(&root(&a, &format!("{lock}/{other}/CurrentState")));
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("not registered")
    );
    let r = get(&root(
        &a,
        &format!(
            "{}/{client}/CurrentState",
            a.address("/sync/sync-status/sync-state")
        ),
    ));
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("not found"));

    // DELETE removes the client; nothing more is pushed.
    let r = register(&a, &subscriber(&client, &base, &lock, 2));
    assert_eq!(
        (r.status, r.json()["deleted"].as_u64()),
        (200, Some(1)),
        "{}",
        r.text()
    );
    let r = get(&root(&a, &format!("{lock}/{client}/CurrentState")));
    assert_eq!(r.status, 400);
}

#[test]
fn bad_transport_registrations_are_400_and_store_nothing() {
    let a = Agent::start(&[]);
    let base = "http://127.0.0.1:1";
    let client = client_id(base);
    let lock = a.address(LOCK);
    let files = || std::fs::read_dir(a.store_dir()).unwrap().count();
    let before = files();
    // Not a CloudEvent at all.
    let r = request(
        "POST",
        &root(&a, "/subscription"),
        Some(subscriber(&client, base, &lock, 0).to_string().as_bytes()),
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .contains("not a CloudEvent"),
        "{}",
        r.text()
    );
    // Binary mode without ce-id.
    let r = request_with(
        "POST",
        &root(&a, "/subscription"),
        Some(subscriber(&client, base, &lock, 0).to_string().as_bytes()),
        &[
            ("ce-specversion", "1.0"),
            ("ce-source", "/x"),
            ("ce-type", "t"),
        ],
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.text().contains("ce-id"), "{}", r.text());
    // Structured mode with data that is not JSON.
    let r = request_with(
        "POST",
        &root(&a, "/subscription"),
        Some(br#"{"specversion":"1.0","id":"1","source":"/x","type":"t","data":"{oops"}"#),
        &[("Content-Type", "application/cloudevents+json")],
    )
    .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    // An unknown action, a bad client id, an unknown resource.
    for (data, says) in [
        (subscriber(&client, base, &lock, 7), "unknown action 7"),
        (subscriber("not-a-uuid", base, &lock, 0), "not a UUID"),
        (
            subscriber(&client, base, "/cluster/node/other/sync", 0),
            "publishes no event",
        ),
    ] {
        let r = register(&a, &data);
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        assert!(
            r.json()["message"].as_str().unwrap().contains(says),
            "{}",
            r.text()
        );
    }
    assert_eq!(files(), before, "nothing stored");
    assert_eq!(
        a.sample("cloud_event_agent_deliveries_total{outcome=\"success\"}"),
        0.0
    );
}

#[test]
fn health_is_503_with_the_reason_when_the_source_stopped() {
    // The log socket cannot be created under a regular file: the socket
    // source stops at once.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let port = free_port();
    let _child = Reap(
        Command::new(workspace_bin("cloud-event-agent"))
            .args([
                "--source",
                "socket",
                "--node-name",
                "n1",
                "--api-addr",
                "127.0.0.1",
            ])
            .args(["--api-port", &port.to_string()])
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .arg("--store-path")
            .arg(dir.path().join("store"))
            .arg("--socket-path")
            .arg(file.join("events.sock"))
            .arg("--ptp-config-dir")
            .arg(dir.path())
            .arg("--ptp4l-uds")
            .arg(dir.path().join("ptp4l"))
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let r = wait_for(SECS, || {
        let r = request("GET", &url("/health"), None).ok()?;
        (r.status == 503).then_some(r)
    })
    .expect("/health turns 503");
    assert_eq!(r.json()["ok"], false);
    assert!(
        r.json()["reason"].as_str().unwrap().contains("log socket"),
        "{}",
        r.text()
    );
    let r = get(&url("/api/ocloudNotifications/v2/health"));
    assert_eq!(r.status, 503);
    assert!(r.text().contains("log socket"), "{}", r.text());
}

#[test]
fn sighup_rereads_profiles_and_keeps_running() {
    let a = Agent::start_logged(&[]);
    let loads = || a.log().matches("PTP profiles loaded").count();
    let before = loads();
    let pid = nix::unistd::Pid::from_raw(i32::try_from(a.pid()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    assert!(
        wait_for(SECS, || (loads() > before).then_some(())).is_some(),
        "profiles re-read: {}",
        a.log()
    );
    assert!(a.log().contains("SIGHUP"));
    assert_eq!(get(&a.api("/health")).status, 200, "still running");
}

#[test]
fn one_plain_log_line_per_state_change() {
    // Logs to a file, without NO_COLOR: colour must be off because stderr
    // is not a terminal.
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = dir.path().join("agent.log");
    let _child = Reap(
        Command::new(workspace_bin("cloud-event-agent"))
            .args([
                "--source",
                "socket",
                "--node-name",
                "n1",
                "--api-addr",
                "127.0.0.1",
            ])
            .args(["--api-port", &port.to_string()])
            .args(["--metrics-addr", &format!("127.0.0.1:{}", free_port())])
            .arg("--store-path")
            .arg(dir.path().join("store"))
            .arg("--socket-path")
            .arg(dir.path().join("events.sock"))
            .arg("--ptp-config-dir")
            .arg(dir.path())
            .arg("--ptp4l-uds")
            .arg(dir.path().join("ptp4l"))
            .env_remove("NO_COLOR")
            .env("LOG_LEVEL", "info")
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let sock = dir.path().join("events.sock");
    let mut w = agent_tests::LogWriter(
        wait_for(SECS, || std::os::unix::net::UnixStream::connect(&sock).ok()).unwrap(),
    );
    let line = "ptp4l[1.0]: [ptp4l.0.config] master offset 5 s2 freq 1 path delay 2";
    w.line(line);
    w.line("ptp4l[1.1]: [ptp4l.0.config] master offset 6 s2 freq 1 path delay 2");
    w.line("ptp4l[1.2]: [ptp4l.0.config] master offset 900 s2 freq 1 path delay 2");
    let text = wait_for(SECS, || {
        let t = std::fs::read_to_string(&log).ok()?;
        t.contains("new=FREERUN").then_some(t)
    })
    .unwrap_or_else(|| panic!("{}", std::fs::read_to_string(&log).unwrap_or_default()));
    let changes: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("state changed") && l.contains("lock-state"))
        .collect();
    assert_eq!(
        changes.len(),
        2,
        "LOCKED, then FREERUN; not the unchanged line: {text}"
    );
    assert!(
        changes[0].contains("old=none") && changes[0].contains("new=LOCKED"),
        "{}",
        changes[0]
    );
    assert!(
        changes[0].contains(line),
        "the cause is the line: {}",
        changes[0]
    );
    assert!(changes[1].contains("old=LOCKED") && changes[1].contains("new=FREERUN"));
    assert!(!text.contains('\u{1b}'), "no colour codes when piped");
    assert!(!text.contains("Some("), "plain values in fields");
}

#[test]
fn ptp_plugin_false_runs_no_source() {
    let a = Agent::start_logged(&["--ptp-plugin", "false"]);
    assert_eq!(get(&a.api("/health")).status, 200);
    let detail = get(&a.api("/health/detail")).json();
    assert_eq!(detail["active"], "none", "{detail}");
    assert!(!a.socket_path().exists(), "no log socket");
    assert!(a.log().contains("PTP_PLUGIN is false"), "{}", a.log());
    // Go's spellings, as the anchor reads the variable; garbage exits 64.
    let out = Command::new(workspace_bin("cloud-event-agent"))
        .env("PTP_PLUGIN", "yes")
        .arg("--api-port=0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("PTP_PLUGIN")
            || String::from_utf8_lossy(&out.stderr).contains("not a boolean")
    );
}
