use prometheus::{IntCounter, IntCounterVec, IntGauge, Registry};

/// The AMQP transport and the consumer sidecar's relay (ours).
pub struct TransportMetrics {
    /// AMQP messages by `direction` (`sent`, `received`) and `outcome`
    /// (`accepted`, `refused`, `dropped`, `event`, `status_request`,
    /// `invalid`).
    pub amqp_messages: IntCounterVec,
    /// Connections to the broker opened after the first one.
    pub amqp_reconnects: IntCounter,
    /// 1 while connected to the broker.
    pub amqp_connected: IntGauge,
    /// Undelivered AMQP state replaced by newer state for the same resource.
    pub amqp_coalesced: IntCounter,
    /// Events arriving at a consumer sidecar by `outcome` (`relayed`,
    /// `duplicate`, `invalid`).
    pub relay_events: IntCounterVec,
    /// Subscriptions a consumer sidecar made at its publishers, by `outcome`
    /// (`created`, `existing`, `failed`).
    pub relay_subscriptions: IntCounterVec,
    /// Checks of a publisher by a consumer sidecar (health, then its
    /// subscriptions), by `outcome` (`ok`, `failed`).
    pub relay_checks: IntCounterVec,
}

impl TransportMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let vec =
            |name: &str, help: &str, labels: &[&str]| super::counter_vec(r, name, help, labels);
        let amqp_reconnects = super::registered(
            r,
            IntCounter::new(
                "cloud_event_agent_amqp_reconnects_total",
                "Connections to the AMQP broker opened after the first one",
            )?,
        )?;
        let amqp_connected = super::registered(
            r,
            IntGauge::new(
                "cloud_event_agent_amqp_connected",
                "1 while connected to the AMQP broker",
            )?,
        )?;
        let amqp_coalesced = super::registered(
            r,
            IntCounter::new(
                "cloud_event_agent_amqp_coalesced_total",
                "Unsent AMQP state replaced by newer state for the same resource",
            )?,
        )?;
        Ok(Self {
            amqp_messages: vec(
                "cloud_event_agent_amqp_messages_total",
                "AMQP messages by direction and outcome",
                &["direction", "outcome"],
            )?,
            amqp_reconnects,
            amqp_connected,
            amqp_coalesced,
            relay_events: vec(
                "cloud_event_agent_relay_events_total",
                "Events arriving at a consumer sidecar, by outcome",
                &["outcome"],
            )?,
            relay_subscriptions: vec(
                "cloud_event_agent_relay_subscriptions_total",
                "Subscriptions made at publishers on the CNF's behalf, by outcome",
                &["outcome"],
            )?,
            relay_checks: vec(
                "cloud_event_agent_relay_checks_total",
                "Checks of a publisher's health and subscriptions by a consumer sidecar",
                &["outcome"],
            )?,
        })
    }
}
