//! Prometheus metrics: the anchor's names so existing alerts keep
//! working, and our own under `cloud_event_agent_*`. Handles are resolved
//! once; the hot path is one atomic add.

mod api;
mod delivery;
mod ebpf;
mod ptp;
mod ptp_series;
mod security;
mod transport;

pub(crate) use api::ApiMetrics;
pub(crate) use delivery::DeliveryMetrics;
pub(crate) use ebpf::EbpfMetrics;
pub use ptp::PtpMetrics;
pub(crate) use ptp::{ServoSeries, SocketLines};
pub(crate) use ptp_series::{Family, SeriesSet};
pub(crate) use security::SecurityMetrics;
pub(crate) use transport::TransportMetrics;

use prometheus::core::Collector;
use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};

/// All metric families, registered in one registry.
pub struct Metrics {
    pub registry: Registry,
    pub api: ApiMetrics,
    pub delivery: DeliveryMetrics,
    pub ebpf: EbpfMetrics,
    pub ptp: PtpMetrics,
    pub security: SecurityMetrics,
    pub transport: TransportMetrics,
}

impl Metrics {
    /// Registers every family.
    ///
    /// # Errors
    /// Only if two families share a name (a programming error).
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        Ok(Self {
            api: ApiMetrics::register(&registry)?,
            delivery: DeliveryMetrics::register(&registry)?,
            ebpf: EbpfMetrics::register(&registry)?,
            ptp: PtpMetrics::register(&registry)?,
            security: SecurityMetrics::register(&registry)?,
            transport: TransportMetrics::register(&registry)?,
            registry,
        })
    }

    /// The text exposition format.
    #[must_use]
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        // Encoding into a Vec only fails on invalid metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// Registers `m` and returns it (a handle on the registered family).
pub(crate) fn registered<M: Collector + Clone + 'static>(
    r: &Registry,
    m: M,
) -> Result<M, prometheus::Error> {
    r.register(Box::new(m.clone()))?;
    Ok(m)
}

/// A registered integer gauge family.
pub(crate) fn gauge_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntGaugeVec, prometheus::Error> {
    registered(r, IntGaugeVec::new(Opts::new(name, help), labels)?)
}

/// A registered integer counter family.
pub(crate) fn counter_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    registered(r, IntCounterVec::new(Opts::new(name, help), labels)?)
}
