//! The client crate's examples as processes: built by `cargo test
//! --all-targets` (or `cargo build -p cloud-event-client --examples`) next
//! to the workspace binaries, under `examples/`. They print JSON lines on
//! stdout, collected here.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{wait_for, workspace_bin};

/// The built example `name`.
#[must_use]
pub fn example_bin(name: &str) -> PathBuf {
    // `workspace_bin` asserts on a file; look beside it, under examples/.
    let agent = workspace_bin("cloud-event-agent");
    let p = agent
        .parent()
        .expect("profile dir")
        .join("examples")
        .join(name);
    assert!(
        p.exists(),
        "{} not built: run `cargo build -p cloud-event-client --features amqp --examples` (cargo test --workspace --all-targets builds it)",
        p.display()
    );
    p
}

/// A running example; its stdout lines are parsed as JSON as they come.
pub struct Example {
    child: Child,
    lines: Arc<Mutex<Vec<serde_json::Value>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Example {
    #[must_use]
    pub fn spawn(name: &str, args: &[&str]) -> Self {
        let mut child = Command::new(example_bin(name))
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn example");
        let out = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l = lines.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                let v = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
                l.lock().unwrap().push(v);
            }
        });
        Self {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Runs to completion (at most `timeout`); asserts success; returns the
    /// lines.
    #[must_use]
    pub fn run(name: &str, args: &[&str], timeout: Duration) -> Vec<serde_json::Value> {
        let mut e = Self::spawn(name, args);
        let status = wait_for(timeout, || e.child.try_wait().unwrap())
            .unwrap_or_else(|| panic!("{name} did not finish in {timeout:?}"));
        assert!(status.success(), "{name} {args:?} failed: {status}");
        // The reader sees EOF once the process is gone.
        if let Some(r) = e.reader.take() {
            r.join().expect("stdout reader");
        }
        e.lines()
    }

    #[must_use]
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.lines.lock().unwrap().clone()
    }

    /// Waits until a line satisfies `pred`; returns it.
    pub fn wait_line(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        wait_for(timeout, || self.lines().into_iter().find(|l| pred(l)))
            .unwrap_or_else(|| panic!("no such line; got {:#?}", self.lines()))
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
