use prometheus::{IntCounterVec, IntGauge, IntGaugeVec, Registry};

/// Connections, limits and authentication (ours).
pub struct SecurityMetrics {
    /// `cloud_event_agent_connections_closed_total{listener,reason}`: closed
    /// by the agent (cap, idle, header timeout, TLS handshake refused).
    pub connections_closed: IntCounterVec,
    /// `cloud_event_agent_connections_busy{listener}`: connections with a
    /// request in flight (at the cap, only idle ones can be closed).
    pub connections_busy: IntGaugeVec,
    /// `cloud_event_agent_auth_failures_total{reason}`: requests refused 401
    /// or 403, and token checks that failed on the checker's side.
    pub auth_failures: IntCounterVec,
    /// Open outbound connections to subscribers.
    pub outbound_connections: IntGauge,
}

impl SecurityMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        Ok(Self {
            connections_closed: super::counter_vec(
                r,
                "cloud_event_agent_connections_closed_total",
                "Connections closed by the agent, by listener and reason",
                &["listener", "reason"],
            )?,
            connections_busy: super::gauge_vec(
                r,
                "cloud_event_agent_connections_busy",
                "Connections with a request in flight, by listener",
                &["listener"],
            )?,
            auth_failures: super::counter_vec(
                r,
                "cloud_event_agent_auth_failures_total",
                "Requests refused for want of a valid identity, by reason",
                &["reason"],
            )?,
            outbound_connections: super::registered(
                r,
                IntGauge::new(
                    "cloud_event_agent_outbound_connections",
                    "Open connections to subscriber endpoints",
                )?,
            )?,
        })
    }
}
