use prometheus::{IntCounterVec, IntGaugeVec, Registry};

/// The anchor's framework metrics, names and labels unchanged.
pub struct ApiMetrics {
    /// `cne_api_subscriptions{status}`: active count (gauge), failures.
    pub subscriptions: IntGaugeVec,
    /// `cne_api_publishers{status}`.
    pub publishers: IntGaugeVec,
    /// `cne_api_events_published{address,status}`.
    pub events_published: IntCounterVec,
    /// `cne_api_status_ping{status}`.
    pub status_ping: IntCounterVec,
    /// `cne_events_received{type,status}`: per delivery attempt.
    pub events_received: IntCounterVec,
    /// `cne_events_ack{type,status}`.
    pub events_ack: IntCounterVec,
    /// `cne_status_check_received{type,status}`.
    pub status_check_received: IntCounterVec,
}

impl ApiMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let gauge =
            |name: &str, help: &str, labels: &[&str]| super::gauge_vec(r, name, help, labels);
        let counter =
            |name: &str, help: &str, labels: &[&str]| super::counter_vec(r, name, help, labels);
        Ok(Self {
            subscriptions: gauge(
                "cne_api_subscriptions",
                "Metric to get number of subscriptions",
                &["status"],
            )?,
            publishers: gauge(
                "cne_api_publishers",
                "Metric to get number of publishers",
                &["status"],
            )?,
            events_published: counter(
                "cne_api_events_published",
                "Metric to get number of events published by the rest api",
                &["address", "status"],
            )?,
            status_ping: counter(
                "cne_api_status_ping",
                "Metric to get number of status pings",
                &["status"],
            )?,
            events_received: counter(
                "cne_events_received",
                "Metric to get number of events received",
                &["type", "status"],
            )?,
            events_ack: counter(
                "cne_events_ack",
                "Metric to get number of events produced",
                &["type", "status"],
            )?,
            status_check_received: counter(
                "cne_status_check_received",
                "Metric to get number of status check received",
                &["type", "status"],
            )?,
        })
    }
}
