//! Command line and environment. Every flag has an env var; the result is
//! validated before any port is bound (invalid configuration exits with 64).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use axum::http::Uri;
use clap::{Parser, ValueEnum};

mod security;
pub(crate) use security::{AuthSettings, Security, SecurityArgs};

/// sysexits.h EX_USAGE: the exit code for invalid configuration.
pub const EX_USAGE: i32 = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SourceKind {
    /// eBPF when the probes load here, else the log socket.
    Auto,
    /// Kernel probes on unmodified linuxptp processes.
    Ebpf,
    /// The linuxptp-daemon line protocol on a Unix socket.
    Socket,
}

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

// ---------------------------------------------------------------------------
// Drop-in for the anchor's sidecar: what ptp-operator's template passes
// (`--api-version`, `PTP_PLUGIN`, `NAME_SPACE`, `PTP_PROFILE_PATH`), with the
// anchor's meaning, and its flags that change nothing here (a warning).

/// The anchor's arguments and environment that mean something here.
#[derive(Clone, Debug, clap::Args)]
pub struct DropIn {
    /// The REST API version the operator asks for: `1.0` (v1 and the v1-era
    /// HTTP transport) or `2.0` (v2). Both versions are served whatever its
    /// value, unless `--api-version-only` (the operator's daemon polls
    /// v2's `/health` in both cases, so that one always answers).
    #[arg(long, env = "API_VERSION", value_parser = parse_api_version)]
    pub api_version: Option<ApiMajor>,

    /// Serve only the version named by `--api-version`.
    #[arg(long, env = "API_VERSION_ONLY", requires = "api_version")]
    pub api_version_only: bool,

    /// Keys of the values pushed to v1 subscribers: `legacy` (`resource`,
    /// `dataType`, `valueType`, `value`: what the anchor's 4.14 consumers
    /// read, and every later v1 reader accepts) or `oran` (`ResourceAddress`,
    /// `data_type`, `value_type`, `value`).
    #[arg(long, env = "V1_VALUE_KEYS", value_enum, default_value_t = V1ValueKeys::Legacy)]
    pub v1_value_keys: V1ValueKeys,

    /// `false` runs no PTP source (the anchor loads its PTP plugin only when
    /// `PTP_PLUGIN` is true; unset here means true, so plain use needs no
    /// variable). Accepts Go's boolean spellings (`1`, `t`, `TRUE`, ...).
    #[arg(long, env = "PTP_PLUGIN", value_parser = parse_go_bool, default_value = "true", action = clap::ArgAction::Set)]
    pub ptp_plugin: bool,

    /// Namespace of the operator (the anchor's `NAME_SPACE`): without
    /// `--transport-host` the agent names itself as the anchor's per-node
    /// Service, `ptp-event-publisher-service-<node>.<ns>.svc.cluster.local`.
    #[arg(long, env = "NAME_SPACE")]
    pub namespace: Option<String>,

    /// Directory of the ptp-configmap files, one per node name (the
    /// anchor's `PTP_PROFILE_PATH`): `--ptp-profiles` defaults to
    /// `<dir>/<node-name>`.
    #[arg(long, env = "PTP_PROFILE_PATH", default_value = "/etc/linuxptp")]
    pub ptp_profile_path: PathBuf,
}

/// `--api-version`'s major version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApiMajor {
    V1,
    V2,
}

/// See [`DropIn::v1_value_keys`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum V1ValueKeys {
    Legacy,
    Oran,
}

/// `1.0`, `1`, `v1` (any `1.x`) or the same for 2.
fn parse_api_version(s: &str) -> Result<ApiMajor, String> {
    let t = s.trim().trim_start_matches(['v', 'V']);
    match t.split('.').next().map(str::parse::<u32>) {
        Some(Ok(1)) => Ok(ApiMajor::V1),
        Some(Ok(2)) => Ok(ApiMajor::V2),
        _ => Err(format!("{s:?}: the API versions are 1.0 and 2.0")),
    }
}

/// Go's `strconv.ParseBool`, which the anchor reads its switches with.
fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s.trim() {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        other => Err(format!("{other:?} is not a boolean (true or false)")),
    }
}

/// Every flag the anchor's sidecar has had (its Go `flag` set, all
/// releases). Those this agent does not define are accepted with a warning.
const ANCHOR_FLAGS: &[&str] = &[
    "api-port",
    "api-version",
    "auth-config",
    "http-event-publishers",
    "metrics-addr",
    "store-path",
    "transport-host",
];

/// The command line with the anchor's forms made ours: Go's single-dash
/// `-store-path=x` becomes `--store-path=x`, and an anchor flag this agent
/// does not define is removed (with its value) and named in the returned
/// warnings. Everything else is left for clap to judge.
#[must_use]
pub fn anchor_compatible_args(
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> (Vec<std::ffi::OsString>, Vec<String>) {
    use clap::CommandFactory;
    let cmd = Args::command();
    let ours = |name: &str| cmd.get_arguments().any(|a| a.get_long() == Some(name));
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut args = args.into_iter();
    out.extend(args.next());
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str() else {
            out.push(arg);
            continue;
        };
        if text == "--" {
            out.push(arg);
            out.extend(args.by_ref());
            break;
        }
        let bare = text.strip_prefix("--").or_else(|| text.strip_prefix('-'));
        let Some(bare) = bare.filter(|_| text.len() > 1) else {
            out.push(arg);
            continue;
        };
        let (name, inline) = match bare.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (bare, None),
        };
        if !ANCHOR_FLAGS.contains(&name) {
            out.push(arg);
            continue;
        }
        if ours(name) {
            out.push(format!("--{bare}").into());
            continue;
        }
        // The anchor's flags all take a value: `--flag value` eats the next.
        let value = match inline {
            Some(v) => v.to_owned(),
            None => args
                .next()
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        warnings.push(format!(
            "--{name}={value}: a flag of cloud-event-proxy that changes nothing here; ignored"
        ));
    }
    (out, warnings)
}

/// SASL PLAIN credentials for the broker.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpCredentials {
    pub user: String,
    pub password: String,
}

impl std::fmt::Debug for AmqpCredentials {
    // The password stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "AmqpCredentials {{ user: {:?}, password: \"***\" }}",
            self.user
        )
    }
}

/// Validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub api_addr: SocketAddr,
    pub store_path: PathBuf,
    /// `scheme://host:port` used to build `UriLocation`.
    pub public_base: String,
    pub role: Role,
    /// `host:port` of the AMQP broker, when `--transport-host` is `amqp://`.
    pub amqp: Option<String>,
    /// From `amqp://user:password@...`; none: SASL ANONYMOUS.
    pub amqp_credentials: Option<AmqpCredentials>,
    pub amqp_address_style: AmqpAddressStyle,
    /// `http://host:port` of each publisher (consumer sidecar).
    pub http_event_publishers: Vec<String>,
    pub publisher_check: Duration,
    pub metrics_addr: SocketAddr,
    pub node_name: String,
    pub source: SourceKind,
    pub watch: Vec<String>,
    pub ebpf_ring_bytes: u32,
    pub ebpf_line_budget: u32,
    pub ebpf_line_burst: u32,
    pub ebpf_trust_any: bool,
    pub ebpf_ignore_pidns: Vec<u64>,
    pub socket_path: PathBuf,
    pub ptp_config_dir: PathBuf,
    pub ptp_profiles: PathBuf,
    /// Default thresholds (max, min ns) and holdover timeout.
    pub max_offset_threshold: i64,
    pub min_offset_threshold: i64,
    pub holdover_timeout: Duration,
    pub ptp4l_uds: PathBuf,
    pub log_format: LogFormat,
    pub max_consecutive_failures: u32,
    pub queue_capacity: usize,
    pub delivery_timeout: Duration,
    pub drain_timeout: Duration,
    pub max_body_bytes: usize,
    pub security: Security,
    /// Which REST API versions are served (the v1-era HTTP transport goes
    /// with v1); v2's `/health` always answers.
    pub serve_v1: bool,
    pub serve_v2: bool,
    pub v1_value_keys: V1ValueKeys,
    /// `PTP_PLUGIN=false`: no source runs.
    pub ptp_plugin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--node-name is empty and the host name could not be read")]
    NoNodeName,
    #[error("--node-name {0:?} may not contain '/', whitespace or control characters")]
    BadNodeName(String),
    #[error("--transport-host {value:?} is not a URL with a host: {reason}")]
    BadTransportHost { value: String, reason: String },
    #[error("--api-port must not be 0")]
    ZeroPort,
    #[error("--queue-capacity must be at least 1")]
    ZeroQueue,
    #[error("--max-body-bytes must be at least 1024")]
    SmallBody,
    #[error("--http-event-publishers {0:?} is not host:port or an http URL")]
    BadPublisher(String),
    #[error("--role consumer needs --http-event-publishers or an amqp:// --transport-host")]
    ConsumerWithoutPublishers,
    #[error(
        "--watch {0:?}: each name must have 1 to 15 bytes, without whitespace, at most 64 names"
    )]
    BadWatch(String),
    #[error("--ebpf-ring-bytes {0} must be a power of two and at least 4096")]
    BadRing(u32),
    #[error("--min-offset-threshold must be below --max-offset-threshold")]
    BadThresholds,
    #[error("--store-path {path}: {reason}")]
    BadStore { path: PathBuf, reason: String },
    #[error("{0}")]
    Security(String),
}

impl Args {
    /// Checks everything that can be checked without binding a port.
    pub fn validate(self) -> Result<Config, ConfigError> {
        if self.api_port == 0 {
            return Err(ConfigError::ZeroPort);
        }
        if self.queue_capacity == 0 {
            return Err(ConfigError::ZeroQueue);
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::SmallBody);
        }
        let watch: Vec<String> = self
            .watch
            .iter()
            .map(|w| w.trim().to_owned())
            .filter(|w| !w.is_empty())
            .collect();
        if watch.is_empty()
            || watch.len() > 64
            || watch
                .iter()
                .any(|w| w.len() > 15 || w.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(ConfigError::BadWatch(self.watch.join(",")));
        }
        if self.min_offset_threshold >= self.max_offset_threshold {
            return Err(ConfigError::BadThresholds);
        }
        if self.ebpf_ring_bytes < 4096 || !self.ebpf_ring_bytes.is_power_of_two() {
            return Err(ConfigError::BadRing(self.ebpf_ring_bytes));
        }
        let node_name = match self.node_name.filter(|n| !n.is_empty()) {
            Some(n) => n,
            None => nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .filter(|h| !h.is_empty())
                .ok_or(ConfigError::NoNodeName)?,
        };
        if node_name
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
        {
            return Err(ConfigError::BadNodeName(node_name));
        }
        let (amqp, amqp_credentials, http_th) = match self.transport_host.as_deref() {
            Some(th) if th.to_ascii_lowercase().starts_with("amqp://") => {
                let (addr, creds) = amqp_addr(th)?;
                (Some(addr), creds, None)
            }
            other => (None, None, other),
        };
        // The anchor's default transport host names its per-node Service in
        // the operator's namespace.
        let anchor_default = self
            .drop_in
            .namespace
            .as_deref()
            .filter(|n| !n.is_empty())
            .map(|ns| {
                format!("http://ptp-event-publisher-service-NODE_NAME.{ns}.svc.cluster.local:9043")
            });
        let http_th = http_th.or(anchor_default
            .as_deref()
            .filter(|_| self.transport_host.is_none()));
        let public_base = public_base(http_th, &node_name, self.api_port)?;
        let http_event_publishers = self
            .http_event_publishers
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            // As the anchor does: NODE_NAME (short) and NODE_IP replaced.
            .map(|p| publisher_base(&node_tokens(p, &node_name)))
            .collect::<Result<Vec<_>, _>>()?;
        let role = self.role.unwrap_or(if http_event_publishers.is_empty() {
            Role::Publisher
        } else {
            Role::Consumer
        });
        if role == Role::Consumer && http_event_publishers.is_empty() && amqp.is_none() {
            return Err(ConfigError::ConsumerWithoutPublishers);
        }
        if self.store_path.exists() && !self.store_path.is_dir() {
            return Err(ConfigError::BadStore {
                path: self.store_path,
                reason: "exists and is not a directory".into(),
            });
        }
        let ptp_profiles = self
            .ptp_profiles
            .unwrap_or_else(|| self.drop_in.ptp_profile_path.join(&node_name));
        let only = self
            .drop_in
            .api_version
            .filter(|_| self.drop_in.api_version_only);
        Ok(Config {
            api_addr: SocketAddr::new(self.api_addr, self.api_port),
            store_path: self.store_path,
            public_base,
            role,
            amqp,
            amqp_credentials,
            amqp_address_style: self.amqp_address_style,
            http_event_publishers,
            publisher_check: Duration::from_millis(self.publisher_check_ms.max(10)),
            metrics_addr: self.metrics_addr,
            node_name,
            source: self.source,
            watch,
            ebpf_ring_bytes: self.ebpf_ring_bytes,
            ebpf_line_budget: self.ebpf_line_budget,
            ebpf_line_burst: self.ebpf_line_burst,
            ebpf_trust_any: self.ebpf_trust_any,
            ebpf_ignore_pidns: self.ebpf_ignore_pidns,
            socket_path: self.socket_path,
            ptp_config_dir: self.ptp_config_dir,
            ptp_profiles,
            max_offset_threshold: self.max_offset_threshold,
            min_offset_threshold: self.min_offset_threshold,
            holdover_timeout: Duration::from_secs(self.holdover_timeout),
            ptp4l_uds: self.ptp4l_uds,
            log_format: self.log_format,
            max_consecutive_failures: self.max_consecutive_failures,
            queue_capacity: self.queue_capacity,
            delivery_timeout: Duration::from_millis(self.delivery_timeout_ms.max(1)),
            drain_timeout: Duration::from_millis(self.drain_timeout_ms),
            max_body_bytes: self.max_body_bytes,
            security: self.security.validate()?,
            serve_v1: only != Some(ApiMajor::V2),
            serve_v2: only != Some(ApiMajor::V1),
            v1_value_keys: self.drop_in.v1_value_keys,
            ptp_plugin: self.drop_in.ptp_plugin,
        })
    }
}

/// `host:port` and the credentials (SASL PLAIN; none: ANONYMOUS) of an
/// `amqp://[user:password@]host[:port][/...]` transport host.
fn amqp_addr(th: &str) -> Result<(String, Option<AmqpCredentials>), ConfigError> {
    let bad = |reason: &str| ConfigError::BadTransportHost {
        value: th.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = th.parse().map_err(|e| bad(&format!("{e}")))?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    let creds = uri
        .authority()
        .and_then(|a| a.as_str().rsplit_once('@'))
        .map(|(userinfo, _)| {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            AmqpCredentials {
                user: user.to_owned(),
                password: password.to_owned(),
            }
        });
    Ok((format!("{host}:{}", uri.port_u16().unwrap_or(5672)), creds))
}

/// `http://host:port` of a publisher given as `host:port` or a URL.
fn publisher_base(p: &str) -> Result<String, ConfigError> {
    let with_scheme = if p.contains("://") {
        p.to_owned()
    } else {
        format!("http://{p}")
    };
    let uri: Uri = with_scheme
        .parse()
        .map_err(|_| ConfigError::BadPublisher(p.to_owned()))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http"), Some(h)) if !h.is_empty() => Ok(format!(
            "http://{}",
            uri.authority().map_or(h, |a| a.as_str())
        )),
        _ => Err(ConfigError::BadPublisher(p.to_owned())),
    }
}

/// `NODE_NAME` replaced by the short node name, `NODE_IP` by `$NODE_IP`.
fn node_tokens(value: &str, node: &str) -> String {
    let short = node.split('.').next().unwrap_or(node);
    let mut value = value.replace("NODE_NAME", short);
    if let Ok(ip) = std::env::var("NODE_IP") {
        value = value.replace("NODE_IP", &ip);
    }
    value
}

/// `scheme://host:port` of this publisher, from `--transport-host` as the
/// anchor reads it (only its host part; `NODE_NAME` is replaced by the short
/// host name, `NODE_IP` by `$NODE_IP`).
fn public_base(th: Option<&str>, node: &str, api_port: u16) -> Result<String, ConfigError> {
    let Some(th) = th.filter(|t| !t.is_empty()) else {
        return Ok(format!("http://localhost:{api_port}"));
    };
    let value = node_tokens(th, node);
    let with_scheme = if value.contains("://") {
        value
    } else {
        format!("http://{value}")
    };
    let bad = |reason: &str| ConfigError::BadTransportHost {
        value: th.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = with_scheme.parse().map_err(|e| bad(&format!("{e}")))?;
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    // UriLocation always points at our REST API: http, host, the API port.
    Ok(format!("http://{host}:{api_port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut v = vec!["cloud-event-agent", "--node-name", "n1.example.com"];
        v.extend_from_slice(args);
        Args::try_parse_from(v).unwrap().validate()
    }

    #[test]
    fn defaults() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.api_addr.port(), 9043);
        assert_eq!(c.public_base, "http://localhost:9043");
        assert_eq!(c.metrics_addr.to_string(), "127.0.0.1:9091");
        assert_eq!(
            c.ptp_profiles,
            PathBuf::from("/etc/linuxptp/n1.example.com")
        );
        assert_eq!(c.source, SourceKind::Auto);
        assert_eq!(c.watch, ["ptp4l", "phc2sys", "ts2phc"]);
        assert_eq!(c.ebpf_ring_bytes, 256 * 1024);
        assert_eq!((c.ebpf_line_budget, c.ebpf_line_burst), (1000, 200));
    }

    #[test]
    fn watch_and_ring() {
        let c = parse(&["--watch", "ptp4l, ts2phc"]).unwrap();
        assert_eq!(c.watch, ["ptp4l", "ts2phc"]);
        assert!(matches!(
            parse(&["--watch", "a-name-longer-than-15"]),
            Err(ConfigError::BadWatch(_))
        ));
        assert!(matches!(
            parse(&["--watch", ","]),
            Err(ConfigError::BadWatch(_))
        ));
        assert!(matches!(
            parse(&["--ebpf-ring-bytes", "5000"]),
            Err(ConfigError::BadRing(5000))
        ));
    }

    #[test]
    fn transport_host_like_the_anchor() {
        let c = parse(&[
            "--transport-host",
            "http://ptp-event-publisher-service-NODE_NAME.openshift-ptp.svc.cluster.local:9043",
        ])
        .unwrap();
        assert_eq!(
            c.public_base,
            "http://ptp-event-publisher-service-n1.openshift-ptp.svc.cluster.local:9043"
        );
        assert!(matches!(
            parse(&["--transport-host", "http://"]),
            Err(ConfigError::BadTransportHost { .. })
        ));
    }

    #[test]
    fn amqp_transport_host_and_consumer_role() {
        let c = parse(&["--transport-host", "amqp://broker"]).unwrap();
        assert_eq!(c.amqp.as_deref(), Some("broker:5672"));
        assert_eq!(c.public_base, "http://localhost:9043");
        assert_eq!(c.role, Role::Publisher);
        let c = parse(&[
            "--http-event-publishers",
            "p1:9043,http://p2:80,pub-NODE_NAME:9043",
        ])
        .unwrap();
        assert_eq!(c.role, Role::Consumer);
        assert_eq!(
            c.http_event_publishers,
            ["http://p1:9043", "http://p2:80", "http://pub-n1:9043"]
        );
        assert!(matches!(
            parse(&["--role", "consumer"]),
            Err(ConfigError::ConsumerWithoutPublishers)
        ));
        assert!(matches!(
            parse(&["--http-event-publishers", "ftp://x"]),
            Err(ConfigError::BadPublisher(_))
        ));
        let c = parse(&["--role", "consumer", "--transport-host", "amqp://b:5674"]).unwrap();
        assert_eq!(c.amqp.as_deref(), Some("b:5674"));
        assert!(c.amqp_credentials.is_none());
        let c = parse(&["--transport-host", "amqp://guest:s3cret@b:5674"]).unwrap();
        assert_eq!(c.amqp.as_deref(), Some("b:5674"));
        let creds = c.amqp_credentials.unwrap();
        assert_eq!(
            (creds.user.as_str(), creds.password.as_str()),
            ("guest", "s3cret")
        );
        assert!(!format!("{creds:?}").contains("s3cret"));
    }

    #[test]
    fn rejects_bad_values() {
        assert!(matches!(
            parse(&["--api-port", "0"]),
            Err(ConfigError::ZeroPort)
        ));
        assert!(matches!(
            Args::try_parse_from(["x", "--node-name", "a/b"])
                .unwrap()
                .validate(),
            Err(ConfigError::BadNodeName(_))
        ));
        assert!(Args::try_parse_from(["x", "--source", "nope"]).is_err());
    }

    #[test]
    fn the_operators_arguments_and_environment() {
        let argv = [
            "cloud-event-agent",
            "--metrics-addr=127.0.0.1:9091",
            "--store-path=/store",
            "--transport-host=http://ptp-event-publisher-service-NODE_NAME.openshift-ptp.svc.cluster.local:9043",
            "--api-version=2.0",
            "--api-port=9043",
            "--node-name=n1.example.com",
        ];
        let (args, warnings) = anchor_compatible_args(argv.iter().map(Into::into));
        assert!(warnings.is_empty(), "{warnings:?}");
        let c = Args::try_parse_from(args).unwrap().validate().unwrap();
        assert!(c.serve_v1 && c.serve_v2, "2.0 alone keeps v1");
        assert_eq!(c.store_path, PathBuf::from("/store"));
        assert_eq!(
            c.public_base,
            "http://ptp-event-publisher-service-n1.openshift-ptp.svc.cluster.local:9043"
        );
        let only = parse(&["--api-version", "1.0", "--api-version-only"]).unwrap();
        assert!(only.serve_v1 && !only.serve_v2);
        assert!(Args::try_parse_from(["x", "--api-version", "3.0"]).is_err());
        assert_eq!(parse_api_version("v2"), Ok(ApiMajor::V2));
        assert_eq!(parse_go_bool("T"), Ok(true));
        assert!(!parse(&["--ptp-plugin", "false"]).unwrap().ptp_plugin);
        assert!(parse_go_bool("yes").is_err());
        let c = parse(&["--namespace", "ptp", "--ptp-profile-path", "/p"]).unwrap();
        assert_eq!(
            c.public_base,
            "http://ptp-event-publisher-service-n1.ptp.svc.cluster.local:9043"
        );
        assert_eq!(c.ptp_profiles, PathBuf::from("/p/n1.example.com"));
    }

    #[test]
    fn anchor_only_flags_are_dropped_with_a_warning() {
        let argv = ["x", "-store-path=/s", "--auth-config", "/a.json", "--bogus"];
        let (args, warnings) = anchor_compatible_args(argv.iter().map(Into::into));
        let defines_auth = {
            use clap::CommandFactory;
            Args::command()
                .get_arguments()
                .any(|a| a.get_long() == Some("auth-config"))
        };
        let args: Vec<String> = args.into_iter().map(|a| a.into_string().unwrap()).collect();
        assert_eq!(args[..2], ["x", "--store-path=/s"]);
        // Unknown to the anchor too: left for clap to refuse.
        assert_eq!(args.last().map(String::as_str), Some("--bogus"));
        if !defines_auth {
            assert_eq!(warnings.len(), 1);
            assert!(
                warnings[0].contains("--auth-config=/a.json"),
                "{warnings:?}"
            );
        }
    }
}
