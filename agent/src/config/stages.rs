//! The validated command line turned into each stage's own settings:
//! the source's, the engine's, delivery's, the API's, the AMQP link's and
//! the consumer sidecar's. Each stage defines its struct; only this file
//! knows which flags feed it.

use std::time::Duration;

use cloud_event_client::amqp::{AddressStyle, AmqpConfig as Link};
use cloud_event_client::{Endpoint, EndpointError, Scheme};

use super::anchor::{ApiMajor, V1ValueKeys};
use super::{AmqpAddressStyle, Args, ConfigError};
use crate::api::{ApiConfig, Serve};
use crate::engine::{EngineConfig, Thresholds};
use crate::event::ValueKeys;
use crate::relay::RelayConfig;
use crate::source::{SourceConfig, ebpf};
use crate::transport::amqp::AmqpConfig;
use crate::transport::policy::{Policy, Rule};
use crate::transport::{DeliveryConfig, TransportConfig};

impl Args {
    pub(super) fn source_config(&self, watch: Vec<String>) -> SourceConfig {
        SourceConfig {
            enabled: self.drop_in.ptp_plugin,
            kind: self.source,
            ebpf: ebpf::Options {
                watch,
                ring_bytes: self.ebpf_ring_bytes,
                line_budget: self.ebpf_line_budget,
                line_burst: self.ebpf_line_burst,
                trust_any: self.ebpf_trust_any,
                ignore_pidns: self.ebpf_ignore_pidns.clone(),
            },
            socket_path: self.socket_path.clone(),
            ptp4l_uds: self.ptp4l_uds.clone(),
        }
    }

    pub(super) fn engine_config(&self, node: &str) -> EngineConfig {
        EngineConfig {
            thresholds: Thresholds {
                max_offset: self.max_offset_threshold,
                min_offset: self.min_offset_threshold,
                holdover: Duration::from_secs(self.holdover_timeout),
            },
            ptp_config_dir: self.ptp_config_dir.clone(),
            ptp_profiles: self
                .ptp_profiles
                .clone()
                .unwrap_or_else(|| self.drop_in.ptp_profile_path.join(node)),
        }
    }

    pub(super) fn transport_config(&self, node: &str) -> Result<TransportConfig, ConfigError> {
        let sec = &self.security;
        let rules = sec
            .endpoint_policy
            .iter()
            .map(|r| {
                Rule::parse(r).map_err(|source| ConfigError::EndpointPolicy {
                    rule: r.clone(),
                    source,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(TransportConfig {
            delivery: DeliveryConfig {
                node: node.to_owned(),
                timeout: Duration::from_millis(self.delivery_timeout_ms.max(1)),
                queue_capacity: self.queue_capacity,
                max_consecutive_failures: self.max_consecutive_failures,
                idle: Duration::from_millis(sec.outbound_idle_ms.max(1)),
                v1_keys: match self.drop_in.v1_value_keys {
                    V1ValueKeys::Legacy => ValueKeys::Legacy,
                    V1ValueKeys::Oran => ValueKeys::Oran,
                },
            },
            policy: Policy::from_rules(rules),
            endpoint_tls: crate::tls::ClientFiles {
                ca: sec.endpoint_ca.clone(),
                cert: sec.endpoint_cert.clone(),
                key: sec.endpoint_key.clone(),
            },
            max_connections: sec.max_outbound_connections,
            drain_timeout: Duration::from_millis(self.drain_timeout_ms),
        })
    }

    pub(super) fn api_config(&self, public_base: String) -> ApiConfig {
        let only = self
            .drop_in
            .api_version
            .filter(|_| self.drop_in.api_version_only);
        ApiConfig {
            addr: std::net::SocketAddr::new(self.api_addr, self.api_port),
            metrics_addr: self.metrics_addr,
            public_base,
            max_body_bytes: self.max_body_bytes,
            serve: Serve {
                v1: only != Some(ApiMajor::V2),
                v2: only != Some(ApiMajor::V1),
            },
            max_connections: self.security.max_api_connections,
            header_timeout: Duration::from_millis(self.security.header_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(self.security.idle_timeout_ms.max(1)),
        }
    }

    pub(super) fn relay_config(&self, publishers: Vec<String>) -> RelayConfig {
        RelayConfig {
            publishers,
            check: Duration::from_millis(self.publisher_check_ms.max(10)),
        }
    }
}

/// The broker link of an `amqp://[user:password@]host[:port][/]` transport
/// host (SASL PLAIN with credentials, else ANONYMOUS).
pub(super) fn amqp_config(
    th: &str,
    node: &str,
    style: AmqpAddressStyle,
) -> Result<AmqpConfig, ConfigError> {
    // Our container id: unique per process.
    let container = format!("cloud-event-agent-{}", uuid::Uuid::new_v4().simple());
    let link = Link::parse(th, &container).map_err(|source| ConfigError::BadTransportHost {
        value: th.to_owned(),
        source: Box::new(source),
    })?;
    Ok(AmqpConfig {
        link: link.with_style(match style {
            AmqpAddressStyle::Oran => AddressStyle::ORan,
            AmqpAddressStyle::Rabbitmq => AddressStyle::RabbitMq,
        }),
        node: node.to_owned(),
    })
}

/// `http://host:port` of a publisher given as `host:port` or a URL.
pub(super) fn publisher_base(p: &str) -> Result<String, ConfigError> {
    let bad = |source| ConfigError::BadPublisher {
        value: p.to_owned(),
        source,
    };
    let e = Endpoint::parse_or(p, Scheme::Http).map_err(bad)?;
    if e.scheme() != Scheme::Http {
        return Err(bad(EndpointError::Scheme(e.scheme().to_string(), "http")));
    }
    Ok(e.origin())
}

/// `NODE_NAME` replaced by the short node name, `NODE_IP` by `$NODE_IP`.
pub(super) fn node_tokens(value: &str, node: &str) -> String {
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
pub(super) fn public_base(
    th: Option<&str>,
    node: &str,
    api_port: u16,
) -> Result<String, ConfigError> {
    let Some(th) = th.filter(|t| !t.is_empty()) else {
        return Ok(format!("http://localhost:{api_port}"));
    };
    let e = Endpoint::parse_or(&node_tokens(th, node), Scheme::Http).map_err(|source| {
        ConfigError::BadTransportHost {
            value: th.to_owned(),
            source: Box::new(source),
        }
    })?;
    // UriLocation always points at our REST API: http, host, the API port.
    let host = e.host();
    Ok(if host.contains(':') {
        format!("http://[{host}]:{api_port}")
    } else {
        format!("http://{host}:{api_port}")
    })
}
