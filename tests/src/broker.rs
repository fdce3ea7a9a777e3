//! AMQP 1.0 brokers for tests, each on its own port and killed on drop:
//! the Qpid Proton example broker (accepts O-RAN addresses) and RabbitMQ
//! with its AMQP 1.0 plugin (needs the `rabbitmq` address style), with its
//! own node name, config and data under a temporary directory, so no system
//! service is involved. The Debian packages come from `cargo xtask test`.

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{free_port, wait_for};

const PROTON_BROKER: &str = "/usr/share/proton/examples/python/broker.py";
const RABBIT_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// Which broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Proton,
    Rabbit,
}

pub struct Broker {
    pub kind: Kind,
    pub port: u16,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

impl Broker {
    /// Whether this machine has `kind` installed.
    #[must_use]
    pub fn available(kind: Kind) -> bool {
        match kind {
            Kind::Proton => Path::new(PROTON_BROKER).exists(),
            Kind::Rabbit => Path::new(RABBIT_SERVER).exists(),
        }
    }

    /// Starts `kind` and waits until it accepts connections.
    #[must_use]
    pub fn start(kind: Kind) -> Self {
        assert!(
            Self::available(kind),
            "{kind:?} broker not installed: run `cargo xtask test` (it installs the test packages)"
        );
        let mut b = Self {
            kind,
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().unwrap(),
        };
        if kind == Kind::Rabbit {
            b.write_rabbit_config();
        }
        b.spawn();
        b
    }

    /// `amqp://127.0.0.1:<port>`.
    #[must_use]
    pub fn url(&self) -> String {
        format!("amqp://127.0.0.1:{}", self.port)
    }

    /// The agent flags for this broker (transport host and address style).
    #[must_use]
    pub fn agent_flags(&self) -> Vec<String> {
        let style = match self.kind {
            Kind::Proton => "oran",
            Kind::Rabbit => "rabbitmq",
        };
        vec![
            "--transport-host".into(),
            self.url(),
            "--amqp-address-style".into(),
            style.into(),
        ]
    }

    fn write_rabbit_config(&self) {
        let d = self.dir.path();
        std::fs::write(
            d.join("rabbitmq.conf"),
            format!(
                "loopback_users = none\nlisteners.tcp.default = 127.0.0.1:{}\namqp1_0.default_user = guest\n",
                self.port
            ),
        )
        .unwrap();
        std::fs::write(d.join("enabled_plugins"), "[rabbitmq_amqp1_0].\n").unwrap();
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("broker.log"))
            .unwrap();
        let mut cmd = match self.kind {
            Kind::Proton => {
                let mut c = Command::new("/usr/bin/python3");
                c.arg(PROTON_BROKER)
                    .args(["-a", &format!("127.0.0.1:{}", self.port)]);
                c
            }
            Kind::Rabbit => {
                let mut c = Command::new(RABBIT_SERVER);
                let p = self.port;
                c.env("HOME", d)
                    .env("RABBITMQ_NODENAME", format!("rabbit-test-{p}@localhost"))
                    .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
                    .env("RABBITMQ_NODE_PORT", p.to_string())
                    .env("RABBITMQ_DIST_PORT", free_port().to_string())
                    // Loopback only: the node's distribution port and epmd.
                    .env(
                        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                        "-kernel inet_dist_use_interface {127,0,0,1}",
                    )
                    .env("ERL_EPMD_ADDRESS", "127.0.0.1")
                    .env("RABBITMQ_MNESIA_BASE", d.join("mnesia"))
                    .env("RABBITMQ_LOG_BASE", d.join("log"))
                    .env("RABBITMQ_CONFIG_FILE", d.join("rabbitmq.conf"))
                    .env("RABBITMQ_ENABLED_PLUGINS_FILE", d.join("enabled_plugins"))
                    .env("RABBITMQ_PID_FILE", d.join("rabbit.pid"));
                c
            }
        };
        // Its own process group, so the Erlang VM goes with it.
        cmd.process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        self.child = Some(cmd.spawn().expect("spawn the broker"));
        let addr = format!("127.0.0.1:{}", self.port);
        let up = wait_for(Duration::from_secs(60), || TcpStream::connect(&addr).ok());
        assert!(
            up.is_some(),
            "{:?} broker did not start: {}",
            self.kind,
            self.log()
        );
        if self.kind == Kind::Rabbit {
            // The port opens before the AMQP 1.0 plugin is ready.
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// What the broker printed.
    #[must_use]
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("broker.log")).unwrap_or_default()
    }

    /// SIGKILL the whole broker (its process group).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(pid) = i32::try_from(c.id()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = c.kill();
            let _ = c.wait();
            let addr = format!("127.0.0.1:{}", self.port);
            let _ = wait_for(Duration::from_secs(10), || {
                TcpStream::connect(&addr).is_err().then_some(())
            });
        }
    }

    /// Kills the broker and starts it again on the same port (RabbitMQ keeps
    /// its data directory).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}
