use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// Delivery to subscribers (ours).
pub struct DeliveryMetrics {
    /// Event creation to the consumer's answer.
    pub latency: Histogram,
    /// Undelivered events over all subscriber queues.
    pub queue_depth: IntGauge,
    /// Older undelivered state replaced by newer state for the same resource.
    pub coalesced: IntCounter,
    /// Deliveries by outcome: `success`, `rejected` (non-2xx), `failed`,
    /// `timeout` (sent, not answered in time), `dropped`.
    pub deliveries: IntCounterVec,
    /// Retries after a failed attempt.
    pub retries: IntCounter,
    /// Consumers removed after too many consecutive failures.
    pub consumers_removed: IntCounter,
    /// `cloud_event_agent_stage_seconds{stage}`, one handle per stage.
    pub stages: Stages,
}

/// Where an event's time goes, one histogram per stage, each the time
/// since the previous stage: `engine` (a line read from the log socket,
/// or a record's kernel time on the eBPF path, to the event made), `queued` (serialised and in every subscriber's queue),
/// `written` (per delivery: queued to the request written to the
/// consumer's socket, the worker's wake-up included) and `answered`
/// (written to the consumer's answer read). Two clock reads and two
/// atomic adds per delivery: cheap enough to stay on.
pub struct Stages {
    pub engine: Histogram,
    pub queued: Histogram,
    pub written: Histogram,
    pub answered: Histogram,
}

impl Stages {
    fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let v = super::registered(
            r,
            HistogramVec::new(
                HistogramOpts::new(
                    "cloud_event_agent_stage_seconds",
                    "Time an event spends in each stage of its way, since the previous stage",
                )
                .buckets(vec![
                    0.000_002, 0.000_005, 0.000_01, 0.000_02, 0.000_05, 0.000_1, 0.000_2, 0.000_5,
                    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0,
                ]),
                &["stage"],
            )?,
        )?;
        Ok(Self {
            engine: v.with_label_values(&["engine"]),
            queued: v.with_label_values(&["queued"]),
            written: v.with_label_values(&["written"]),
            answered: v.with_label_values(&["answered"]),
        })
    }
}

impl DeliveryMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let latency = super::registered(
            r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "cloud_event_agent_delivery_latency_seconds",
                    "Time from event creation to the consumer's answer",
                )
                .buckets(vec![
                    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
                    0.1, 0.25, 0.5, 1.0, 2.5,
                ]),
            )?,
        )?;
        let queue_depth = super::registered(
            r,
            IntGauge::new(
                "cloud_event_agent_delivery_queue_depth",
                "Undelivered events over all subscriber queues",
            )?,
        )?;
        let coalesced = super::registered(
            r,
            IntCounter::new(
                "cloud_event_agent_deliveries_coalesced_total",
                "Undelivered state replaced by newer state for the same resource",
            )?,
        )?;
        let deliveries = super::registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "cloud_event_agent_deliveries_total",
                    "Deliveries to subscribers by outcome",
                ),
                &["outcome"],
            )?,
        )?;
        let retries = super::registered(
            r,
            IntCounter::new(
                "cloud_event_agent_delivery_retries_total",
                "Delivery attempts repeated after a failure",
            )?,
        )?;
        let consumers_removed = super::registered(
            r,
            IntCounter::new(
                "cloud_event_agent_consumers_removed_total",
                "Consumers removed after too many consecutive network failures",
            )?,
        )?;
        Ok(Self {
            stages: Stages::register(r)?,
            latency,
            queue_depth,
            coalesced,
            deliveries,
            retries,
            consumers_removed,
        })
    }
}
