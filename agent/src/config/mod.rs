//! Command line and environment. Every flag has an env var; the result is
//! validated before any port is bound (invalid configuration exits with 64)
//! and handed to each stage as its own settings (`stages.rs`).
//!
//! `args.rs` is the clap struct, `anchor.rs` the anchor's flags and
//! environment, `security.rs` TLS, auth and connection limits.

use std::path::PathBuf;

mod anchor;
mod args;
mod security;
mod stages;
#[cfg(test)]
mod tests;

pub use anchor::anchor_compatible_args;
pub(crate) use args::{AmqpAddressStyle, Role};
pub use args::{Args, LogFormat};
use cloud_event_client::EndpointError;
pub(crate) use security::{AuthSettings, Security};
use stages::{amqp_config, node_tokens, public_base, publisher_base};

use crate::api::ApiConfig;
use crate::engine::EngineConfig;
use crate::relay::RelayConfig;
use crate::source::SourceConfig;
use crate::transport::TransportConfig;
use crate::transport::amqp::AmqpConfig;

/// sysexits.h EX_USAGE: the exit code for invalid configuration.
pub const EX_USAGE: i32 = 64;

/// Validated configuration: the agent's identity and each stage's settings,
/// which `app` hands to the stage as they are.
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) node_name: String,
    pub(crate) role: Role,
    pub log_format: LogFormat,
    /// Directory of the subscription store.
    pub(crate) store_path: PathBuf,
    pub(crate) api: ApiConfig,
    /// TLS and token auth of the REST API.
    pub(crate) security: Security,
    pub(crate) source: SourceConfig,
    pub(crate) engine: EngineConfig,
    pub(crate) transport: TransportConfig,
    /// The AMQP transport, when `--transport-host` is `amqp://`: the
    /// publisher sends over it, the consumer sidecar receives over it.
    pub(crate) amqp: Option<AmqpConfig>,
    /// The consumer sidecar's publishers.
    pub(crate) relay: RelayConfig,
}

/// Why the configuration is refused, naming the flag.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--node-name is empty and the host name could not be read")]
    NoNodeName,
    #[error("--node-name {0:?} may not contain '/', whitespace or control characters")]
    BadNodeName(String),
    #[error("--transport-host {value:?} is not a URL with a host: {source}")]
    BadTransportHost {
        value: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("--api-port must not be 0")]
    ZeroPort,
    #[error("--queue-capacity must be at least 1")]
    ZeroQueue,
    #[error("--max-body-bytes must be at least 1024")]
    SmallBody,
    #[error("--http-event-publishers {value:?} is not host:port or an http URL: {source}")]
    BadPublisher {
        value: String,
        #[source]
        source: EndpointError,
    },
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
    #[error(
        "TLS needs both a certificate and a key (--tls-cert, --tls-key or serverCertPath, serverKeyPath)"
    )]
    TlsPair,
    #[error("--endpoint-policy {rule:?}: {source}")]
    EndpointPolicy {
        rule: String,
        #[source]
        source: crate::transport::policy::RuleError,
    },
    #[error("--auth-config {}: {source}", path.display())]
    AuthRead {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("--auth-config {}: {source}", path.display())]
    AuthJson {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

impl Args {
    /// Checks everything that can be checked without binding a port.
    ///
    /// # Errors
    /// The first setting that is wrong, naming its flag.
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
        let node_name = match self.node_name.clone().filter(|n| !n.is_empty()) {
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
        let amqp = match self.transport_host.as_deref() {
            Some(th) if th.to_ascii_lowercase().starts_with("amqp://") => {
                Some(amqp_config(th, &node_name, self.amqp_address_style)?)
            }
            _ => None,
        };
        let http_th = self.transport_host.as_deref().filter(|_| amqp.is_none());
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
        let publishers = self
            .http_event_publishers
            .iter()
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            // As the anchor does: NODE_NAME (short) and NODE_IP replaced.
            .map(|p| publisher_base(&node_tokens(p, &node_name)))
            .collect::<Result<Vec<_>, _>>()?;
        let role = self.role.unwrap_or(if publishers.is_empty() {
            Role::Publisher
        } else {
            Role::Consumer
        });
        if role == Role::Consumer && publishers.is_empty() && amqp.is_none() {
            return Err(ConfigError::ConsumerWithoutPublishers);
        }
        if self.store_path.exists() && !self.store_path.is_dir() {
            return Err(ConfigError::BadStore {
                path: self.store_path,
                reason: "exists and is not a directory".into(),
            });
        }
        Ok(Config {
            role,
            log_format: self.log_format,
            api: self.api_config(public_base),
            source: self.source_config(watch),
            engine: self.engine_config(&node_name),
            transport: self.transport_config(&node_name)?,
            relay: self.relay_config(publishers),
            amqp,
            security: self.security.clone().validate()?,
            store_path: self.store_path,
            node_name,
        })
    }
}
