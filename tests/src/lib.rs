//! Helpers for black-box tests: start the agent binary and consumer
//! processes (killed on drop), speak HTTP to them, write to the log socket.
//!
//! Tests panic on failure (with a location) rather than return errors.
#![allow(clippy::missing_panics_doc, clippy::unwrap_used, clippy::expect_used)]

pub mod broker;
pub mod chain;
pub mod examples;
pub mod http;
pub mod kube;
pub mod ptp;
pub mod receipts;
pub mod schema;
pub mod stages;
pub mod tls;
pub mod usage;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub use http::{Response, request};

/// A built binary of this workspace, next to the test executable's
/// `deps/` directory (cargo builds every workspace binary before tests run).
#[must_use]
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().expect("deps dir");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("profile dir")
    } else {
        dir
    };
    let p = dir.join(name);
    assert!(
        p.exists(),
        "{} not built: run the tests through `cargo test --workspace` or `cargo xtask test`",
        p.display()
    );
    p
}

/// A free TCP port on 127.0.0.1 (bound, then released).
#[must_use]
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The agent binary running with its own store, socket and ports.
pub struct Agent {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub api_port: u16,
    pub metrics_port: u16,
    pub node: String,
    extra: Vec<String>,
    /// Append stderr to `<dir>/agent.log` instead of inheriting it.
    log_to_file: bool,
    /// Open-file limit (soft and hard) the agent starts with.
    nofile: Option<u64>,
    /// The API serves TLS: how to reach `/health` at start.
    https: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Agent {
    pub const NODE: &'static str = "test-node.example.com";

    /// Starts the agent with the socket source and `extra` flags; waits for
    /// `/health`.
    #[must_use]
    pub fn start(extra: &[&str]) -> Self {
        Self::start_with(extra, false)
    }

    /// Like [`Agent::start`], under an open-file limit of `nofile` (soft
    /// and hard), as a container may run it.
    #[must_use]
    pub fn start_with_nofile(extra: &[&str], nofile: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("store")).unwrap();
        let mut a = Self {
            child: None,
            dir,
            api_port: free_port(),
            metrics_port: free_port(),
            node: Self::NODE.to_owned(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            log_to_file: false,
            nofile: Some(nofile),
            https: None,
        };
        a.spawn();
        a
    }

    /// Like [`Agent::start_logged`] for an agent whose API serves TLS (the
    /// flags in `extra`); `client` reaches its `/health`.
    #[must_use]
    pub fn start_tls(extra: &[&str], client: std::sync::Arc<rustls::ClientConfig>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("store")).unwrap();
        let mut a = Self {
            child: None,
            dir,
            api_port: free_port(),
            metrics_port: free_port(),
            node: Self::NODE.to_owned(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            log_to_file: true,
            nofile: None,
            https: Some(client),
        };
        a.spawn();
        a
    }

    /// Like [`Agent::start`], with the agent's log kept in `<dir>/agent.log`
    /// (appended across restarts) for [`Agent::log`].
    #[must_use]
    pub fn start_logged(extra: &[&str]) -> Self {
        Self::start_with(extra, true)
    }

    fn start_with(extra: &[&str], log_to_file: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("store")).unwrap();
        let mut a = Self {
            child: None,
            dir,
            api_port: free_port(),
            metrics_port: free_port(),
            node: Self::NODE.to_owned(),
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            log_to_file,
            nofile: None,
            https: None,
        };
        a.spawn();
        a
    }

    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    pub fn socket_path(&self) -> PathBuf {
        self.dir.path().join("events.sock")
    }

    /// What the agent logged so far (only with [`Agent::start_logged`]).
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let mut cmd = Command::new(workspace_bin("cloud-event-agent"));
        if self.log_to_file {
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(d.join("agent.log"))
                .unwrap();
            cmd.stderr(f).env("NO_COLOR", "1");
        }
        if let Some(n) = self.nofile {
            use std::os::unix::process::CommandExt;
            // pre_exec is unsafe by contract: the closure runs between fork
            // and exec.
            #[allow(unsafe_code)]
            // SAFETY: setrlimit is async-signal-safe; nothing else runs
            // between fork and exec here.
            unsafe {
                cmd.pre_exec(move || {
                    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, n, n)
                        .map_err(std::io::Error::from)
                });
            }
        }
        let child = cmd
            .args(["--node-name", &self.node])
            // The socket source unless the test picks one (`--source ebpf`).
            .args(
                (!self.extra.iter().any(|a| a == "--source"))
                    .then_some(["--source", "socket"])
                    .into_iter()
                    .flatten(),
            )
            .args([
                "--api-addr",
                "127.0.0.1",
                "--api-port",
                &self.api_port.to_string(),
            ])
            .args([
                "--metrics-addr",
                &format!("127.0.0.1:{}", self.metrics_port),
            ])
            .arg("--store-path")
            .arg(d.join("store"))
            .arg("--socket-path")
            .arg(d.join("events.sock"))
            .arg("--ptp-config-dir")
            .arg(d)
            .arg("--ptp-profiles")
            .arg(d.join("ptp-profiles.json"))
            // Hermetic: never the machine's own ptp4l.
            .arg("--ptp4l-uds")
            .arg(d.join("ptp4l"))
            .args(&self.extra)
            .env(
                "LOG_LEVEL",
                std::env::var("AGENT_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn cloud-event-agent");
        self.child = Some(child);
        let ok = wait_for(Duration::from_secs(20), || {
            let path = "/api/ocloudNotifications/v2/health";
            let r = match &self.https {
                Some(c) => tls::request(c, self.api_port, "GET", path, None, &[]).ok()?,
                None => http::request("GET", &self.api("/health"), None).ok()?,
            };
            (r.status == 200).then_some(())
        });
        assert!(ok.is_some(), "agent did not become healthy");
    }

    /// `http://127.0.0.1:<port>/api/ocloudNotifications/v2<path>`.
    #[must_use]
    pub fn api(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/api/ocloudNotifications/v2{path}",
            self.api_port
        )
    }

    /// `http://127.0.0.1:<port>/api/ocloudNotifications/v1<path>`.
    #[must_use]
    pub fn api_v1(&self, path: &str) -> String {
        format!(
            "http://127.0.0.1:{}/api/ocloudNotifications/v1{path}",
            self.api_port
        )
    }

    /// The id of the publisher of `suffix` (e.g. `/sync/ptp-status/lock-state`).
    #[must_use]
    pub fn publisher_id(&self, suffix: &str) -> String {
        let r = http::request("GET", &self.api("/publishers"), None).unwrap();
        let want = self.address(suffix);
        let list: Vec<serde_json::Value> = serde_json::from_slice(&r.body).unwrap();
        list.iter()
            .find(|p| p["ResourceAddress"] == want.as_str())
            .and_then(|p| p["SubscriptionId"].as_str())
            .unwrap_or_else(|| panic!("no publisher for {want}"))
            .to_owned()
    }

    /// Subscribes `endpoint` to `<node><suffix>` through v2
    /// (`ResourceAddress`, `EndpointUri`); asserts 201 and returns the
    /// subscription.
    pub fn subscribe(&self, suffix: &str, endpoint: &str) -> serde_json::Value {
        let body =
            serde_json::json!({"ResourceAddress": self.address(suffix), "EndpointUri": endpoint});
        created(&self.api("/subscriptions"), &body)
    }

    /// Like [`Agent::subscribe`], through v1 (`resource`, `endpointUri`).
    pub fn subscribe_v1(&self, suffix: &str, endpoint: &str) -> serde_json::Value {
        let body = serde_json::json!({"resource": self.address(suffix), "endpointUri": endpoint});
        created(&self.api_v1("/subscriptions"), &body)
    }

    /// `GET` v2 `CurrentState` of `<node><suffix>`.
    #[must_use]
    pub fn current_state(&self, suffix: &str) -> Response {
        let url = self.api(&format!("{}/CurrentState", self.address(suffix)));
        let r = http::request("GET", &url, None).unwrap();
        if r.status == 200 {
            schema::Schema::V2CurrentState.check(&r.json());
        }
        r
    }

    /// Publishes a lock-state (or other `suffix`) event with `value` through
    /// v1 `create/event`; asserts 202.
    pub fn create_event(&self, suffix: &str, value: &str) {
        let id = self.publisher_id(suffix);
        let iface = format!("/cluster/node/{}/ens1fx/master", self.node);
        let body = serde_json::json!({
            "id": id, "type": "event.sync.ptp-status.ptp-state-change",
            "dataContentType": "application/json", "time": "2024-01-01T00:00:00Z",
            "data": {"version": "1.0", "values": [
                {"ResourceAddress": iface, "data_type": "notification", "value_type": "enumeration", "value": value},
                {"ResourceAddress": iface, "data_type": "metric", "value_type": "decimal64.3", "value": "7"},
            ]},
        });
        let r = http::request(
            "POST",
            &self.api_v1("/create/event"),
            Some(body.to_string().as_bytes()),
        )
        .unwrap();
        assert_eq!(r.status, 202, "{}", r.text());
    }

    #[must_use]
    pub fn metrics(&self) -> String {
        let r = http::request(
            "GET",
            &format!("http://127.0.0.1:{}/metrics", self.metrics_port),
            None,
        )
        .expect("scrape metrics");
        r.text()
    }

    /// The value of `series` (name with labels) in a scrape of this agent,
    /// or 0 when absent.
    #[must_use]
    pub fn sample(&self, series: &str) -> f64 {
        sample(&self.metrics(), series)
    }

    /// `/cluster/node/<node><suffix>`.
    #[must_use]
    pub fn address(&self, suffix: &str) -> String {
        format!("/cluster/node/{}{suffix}", self.node)
    }

    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL, no cleanup.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for exit; returns the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let pid = nix::unistd::Pid::from_raw(i32::try_from(c.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        c.wait().unwrap()
    }

    /// Starts the binary again on the same store, socket and ports, with
    /// `extra` flags instead of the first ones.
    pub fn restart_with(&mut self, extra: &[&str]) {
        self.extra = extra.iter().map(|s| (*s).to_owned()).collect();
        self.restart();
    }

    /// Starts the binary again on the same store, socket and ports.
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }

    /// Connects to the log socket.
    #[must_use]
    pub fn connect_socket(&self) -> LogWriter {
        let p = self.socket_path();
        let s = wait_for(Duration::from_secs(10), || UnixStream::connect(&p).ok())
            .expect("log socket accepts");
        LogWriter(s)
    }
}

/// POSTs `body` to `url`; asserts 201 and returns the JSON answer.
fn created(url: &str, body: &serde_json::Value) -> serde_json::Value {
    let r = http::request("POST", url, Some(body.to_string().as_bytes())).unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A connection to the agent's log socket.
pub struct LogWriter(pub UnixStream);

impl LogWriter {
    /// Writes one line (a newline is appended).
    pub fn line(&mut self, line: &str) {
        self.0.write_all(line.as_bytes()).unwrap();
        self.0.write_all(b"\n").unwrap();
    }
}

/// A `test-consumer` process.
pub struct Consumer {
    child: Child,
    pub port: u16,
}

impl Consumer {
    /// Answers 204 to every POST.
    #[must_use]
    pub fn start() -> Self {
        Self::with_args(&[])
    }

    #[must_use]
    pub fn with_args(args: &[&str]) -> Self {
        let mut child = Command::new(workspace_bin("test-consumer"))
            .args(args)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn test-consumer");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut first)
            .unwrap();
        let port = first
            .trim()
            .strip_prefix("port=")
            .and_then(|p| p.parse().ok())
            .expect("consumer prints its port");
        Self { child, port }
    }

    /// `http://127.0.0.1:<port><path>`.
    #[must_use]
    pub fn endpoint(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every POST received so far: `{"path", "recv_ns", "body"}`. Each
    /// body is checked against the committed schema of its format.
    #[must_use]
    pub fn events(&self) -> Vec<serde_json::Value> {
        let r = http::request("GET", &self.endpoint("/_events"), None).unwrap();
        let events: Vec<serde_json::Value> = serde_json::from_slice(&r.body).unwrap();
        for e in &events {
            schema::check_received(&e["body"]);
        }
        events
    }

    /// Bodies received on `path`.
    #[must_use]
    pub fn bodies(&self, path: &str) -> Vec<serde_json::Value> {
        self.events()
            .into_iter()
            .filter(|e| e["path"] == path)
            .map(|e| e["body"].clone())
            .collect()
    }

    /// Waits until `pred` holds for the bodies received on `path`; returns them.
    pub fn wait_bodies(
        &self,
        path: &str,
        timeout: Duration,
        mut pred: impl FnMut(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let got = wait_for(timeout, || {
            let b = self.bodies(path);
            pred(&b).then_some(b)
        });
        got.unwrap_or_else(|| panic!("condition not met on {path}; got {:#?}", self.bodies(path)))
    }

    pub fn clear(&self) {
        let _ = http::request("DELETE", &self.endpoint("/_events"), None);
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The `value`s of the notification values of a CloudEvent body (v2's
/// `data_type` or v1's legacy `dataType`).
#[must_use]
pub fn notification_values(body: &serde_json::Value) -> Vec<String> {
    body["data"]["values"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter(|v| v["data_type"] == "notification" || v["dataType"] == "notification")
                .filter_map(|v| v["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a file to a string, with the path in the panic message.
#[must_use]
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Unix nanoseconds of an RFC 3339 UTC time such as
/// `2024-08-28T14:50:57.327585316Z` (the CloudEvent `time` we write).
#[must_use]
pub fn rfc3339_ns(t: &str) -> Option<u128> {
    let b = t.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let frac = t.get(19..t.len() - 1)?;
    let nanos = match frac.strip_prefix('.') {
        Some(f) if !f.is_empty() && f.len() <= 9 => {
            f.parse::<u128>().ok()? * 10u128.pow(9 - u32::try_from(f.len()).ok()?)
        }
        None if frac.is_empty() => 0,
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u128::try_from(days * 86_400 + h * 3600 + mi * 60 + s).ok()?;
    Some(secs * 1_000_000_000 + nanos)
}

/// The value of the sample `series` (name with labels) in a scrape, or 0.
#[must_use]
pub fn sample(scrape: &str, series: &str) -> f64 {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339() {
        assert_eq!(
            super::rfc3339_ns("2024-08-28T14:50:57.327585316Z"),
            Some(1_724_856_657_327_585_316)
        );
        assert_eq!(
            super::rfc3339_ns("1970-01-01T00:00:01Z"),
            Some(1_000_000_000)
        );
        assert_eq!(super::rfc3339_ns("garbage"), None);
    }
}
