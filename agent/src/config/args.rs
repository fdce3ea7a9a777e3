//! The command line: one flag per setting, each also read from an env var.
//! Checked and turned into each stage's settings by [`Args::validate`].

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use super::anchor::DropIn;
use super::security::SecurityArgs;
use crate::source::SourceKind;

/// How resource addresses become AMQP addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum AmqpAddressStyle {
    /// The O-RAN address as is (`/cluster/node/n1/sync/ptp-status/lock-state`).
    #[default]
    Oran,
    /// For brokers that refuse `/` inside a name (RabbitMQ): the topic
    /// exchange, `/exchange/amq.topic/cluster.node.n1.sync.ptp-status.lock-state`.
    Rabbitmq,
}

/// What this agent is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Watches linuxptp on this node and publishes its events.
    Publisher,
    /// A sidecar next to a CNF: subscribes at publishers (HTTP or AMQP) on
    /// the CNF's behalf and relays what arrives to the CNF's endpoints.
    Consumer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Plain,
    Json,
}

/// cloud-event-agent: O-RAN sync events from linuxptp, delivered as CloudEvents.
#[derive(Clone, Debug, Parser)]
#[command(name = "cloud-event-agent", version, about, args_override_self = true)]
pub struct Args {
    /// Port of the O-RAN REST API.
    #[arg(long, env = "API_PORT", default_value_t = 9043)]
    pub api_port: u16,

    /// Address the REST API binds to.
    #[arg(long, env = "API_ADDR", default_value = "0.0.0.0")]
    pub api_addr: IpAddr,

    /// Directory of the subscription store (`<clientID>.json` files).
    #[arg(long, env = "STORE_PATH", default_value = ".")]
    pub store_path: PathBuf,

    /// Base URL of this publisher as consumers reach it; its host:port goes
    /// into `UriLocation`. `NODE_NAME` and `NODE_IP` in it are replaced.
    /// Default: `http://localhost:<api-port>`. An `amqp://host[:port]` URL
    /// instead selects the AMQP 1.0 transport (port 5672 by default).
    #[arg(long, env = "TRANSPORT_HOST")]
    pub transport_host: Option<String>,

    /// Publisher or consumer sidecar. Default: consumer when
    /// `--http-event-publishers` is set, else publisher.
    #[arg(long, env = "ROLE", value_enum)]
    pub role: Option<Role>,

    /// Consumer sidecar: the publishers to subscribe at (`host:port` of
    /// their REST API, comma-separated).
    #[arg(long, env = "HTTP_EVENT_PUBLISHERS", value_delimiter = ',')]
    pub http_event_publishers: Vec<String>,

    /// Consumer sidecar: how often each publisher is checked (health, list)
    /// and lost subscriptions are made again, in milliseconds.
    #[arg(long, env = "PUBLISHER_CHECK_MS", default_value_t = 30_000)]
    pub publisher_check_ms: u64,

    /// How resource addresses map to AMQP addresses.
    #[arg(long, env = "AMQP_ADDRESS_STYLE", value_enum, default_value_t = AmqpAddressStyle::Oran)]
    pub amqp_address_style: AmqpAddressStyle,

    /// Prometheus `/metrics` listener.
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9091")]
    pub metrics_addr: SocketAddr,

    /// Node name used in resource addresses. Default: the host name.
    #[arg(long, env = "NODE_NAME")]
    pub node_name: Option<String>,

    /// Where facts come from.
    #[arg(long, env = "SOURCE", value_enum, default_value_t = SourceKind::Auto)]
    pub source: SourceKind,

    /// Process names the eBPF probes watch, comma separated (as the kernel's
    /// `comm`: 1 to 15 bytes each).
    #[arg(
        long,
        env = "WATCH",
        value_delimiter = ',',
        default_value = "ptp4l,phc2sys,ts2phc"
    )]
    pub watch: Vec<String>,

    /// Bytes of the eBPF ring buffer: a power of two, at least 4096.
    #[arg(long, env = "EBPF_RING_BYTES", default_value_t = 256 * 1024)]
    pub ebpf_ring_bytes: u32,

    /// Log lines (writes) per second each watched process may send through
    /// the eBPF ring; lines over it are dropped in the kernel and counted,
    /// so one chatty daemon cannot crowd out the others. 0: no budget.
    #[arg(long, env = "EBPF_LINE_BUDGET", default_value_t = 1000)]
    pub ebpf_line_budget: u32,

    /// Lines a watched process may send at once above its budget's rate.
    #[arg(long, env = "EBPF_LINE_BURST", default_value_t = 200)]
    pub ebpf_line_burst: u32,

    /// Trust every watched process by its name alone, skipping the check
    /// that it is a linuxptp binary. For benches and tests only: with it, a
    /// process that renames itself `ptp4l` feeds the engine.
    #[arg(long, env = "EBPF_TRUST_ANY", hide = true)]
    pub ebpf_trust_any: bool,

    /// Pid namespaces (the inode of `/proc/<pid>/ns/pid`, comma separated)
    /// whose linuxptp processes the eBPF source ignores. Default: none; every
    /// namespace of the node is watched, since the daemons run in their own
    /// pods and an agent that missed them would report nothing.
    #[arg(long, env = "EBPF_IGNORE_PIDNS", value_delimiter = ',')]
    pub ebpf_ignore_pidns: Vec<u64>,

    /// Unix socket of the log-line protocol (linuxptp-daemon writes here).
    #[arg(long, env = "SOCKET_PATH", default_value = "/cloud-native/events.sock")]
    pub socket_path: PathBuf,

    /// Directory of the `ptp4l.N.config` files (`#profile:` header, sections).
    #[arg(long, env = "PTP_CONFIG_DIR", default_value = "/var/run")]
    pub ptp_config_dir: PathBuf,

    /// The ptp-configmap JSON with per-profile thresholds.
    /// Default: `/etc/linuxptp/<node-name>`.
    #[arg(long, env = "PTP_PROFILES")]
    pub ptp_profiles: Option<PathBuf>,

    /// Default upper offset threshold in ns (the anchor's
    /// `maxOffsetThreshold`): LOCKED needs an offset strictly below it.
    #[arg(
        long,
        env = "MAX_OFFSET_THRESHOLD",
        default_value_t = 100,
        allow_negative_numbers = true
    )]
    pub max_offset_threshold: i64,

    /// Default lower offset threshold in ns (`minOffsetThreshold`).
    #[arg(long, env = "MIN_OFFSET_THRESHOLD", default_value_t = -100, allow_negative_numbers = true)]
    pub min_offset_threshold: i64,

    /// Default holdover timeout in seconds (`holdOverTimeout`).
    #[arg(long, env = "HOLDOVER_TIMEOUT", default_value_t = 5)]
    pub holdover_timeout: u64,

    /// ptp4l's management socket, for configs without `uds_address` (or
    /// a plain ptp4l): port states and clock class come straight from it.
    #[arg(long, env = "PTP4L_UDS", default_value = "/var/run/ptp4l")]
    pub ptp4l_uds: PathBuf,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Plain)]
    pub log_format: LogFormat,

    /// Consecutive network failures after which a consumer and all its
    /// subscriptions are removed (the anchor's 10). 0 never removes.
    #[arg(long, env = "MAX_CONSECUTIVE_FAILURES", default_value_t = 10)]
    pub max_consecutive_failures: u32,

    /// Undelivered events kept per subscriber endpoint before coalescing.
    #[arg(long, env = "QUEUE_CAPACITY", default_value_t = 64)]
    pub queue_capacity: usize,

    /// Timeout of one POST to a consumer, in milliseconds.
    #[arg(long, env = "DELIVERY_TIMEOUT_MS", default_value_t = 2000)]
    pub delivery_timeout_ms: u64,

    /// Time allowed on SIGTERM to drain delivery queues, in milliseconds.
    #[arg(long, env = "DRAIN_TIMEOUT_MS", default_value_t = 5000)]
    pub drain_timeout_ms: u64,

    /// Largest accepted request body, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// TLS, auth, endpoint policy, connection limits.
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub drop_in: DropIn,
}
