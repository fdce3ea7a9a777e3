use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};

/// The anchor's PTP metrics (§5.1), names and labels unchanged, plus the
/// log socket's line counter (ours). Cheap to clone (the vectors are shared).
#[derive(Clone)]
pub struct PtpMetrics {
    /// `openshift_ptp_offset_ns{from,process,node,iface}`.
    pub offset: IntGaugeVec,
    /// `openshift_ptp_max_offset_ns{from,process,node,iface}`: rms-line max.
    pub max_offset: IntGaugeVec,
    /// `openshift_ptp_frequency_adjustment_ns{from,process,node,iface}`.
    pub frequency: IntGaugeVec,
    /// `openshift_ptp_delay_ns{from,process,node,iface}`.
    pub delay: IntGaugeVec,
    /// `openshift_ptp_clock_state{process,node,iface}`: 0 FREERUN, 1 LOCKED,
    /// 2 HOLDOVER.
    pub clock_state: IntGaugeVec,
    /// `openshift_ptp_process_status{process,node,config}`: 0 DOWN, 1 UP.
    pub process_status: IntGaugeVec,
    /// `openshift_ptp_process_restart_count{process,node,config}`.
    pub process_restart_count: IntCounterVec,
    /// `cloud_event_agent_socket_lines_total{result}`.
    pub socket_lines: IntCounterVec,
}

/// The four servo gauges of one clock and one `from`, resolved once.
#[derive(Clone, Debug)]
pub struct ServoSeries {
    pub offset: IntGauge,
    pub max_offset: IntGauge,
    pub frequency: IntGauge,
    pub delay: IntGauge,
    /// Largest offset of the offset lines seen through this handle.
    max_seen: Option<i64>,
}

impl ServoSeries {
    /// An offset line: `max_offset` is the running maximum, as the
    /// anchor's (rms lines set it directly).
    pub fn observe_offset(&mut self, offset: i64) {
        let max = self.max_seen.map_or(offset, |m| m.max(offset));
        self.max_seen = Some(max);
        self.offset.set(offset);
        self.max_offset.set(max);
    }
}

/// `cloud_event_agent_socket_lines_total` by result, resolved once.
#[derive(Clone, Debug)]
pub struct SocketLines {
    /// Lines the engine used.
    pub ok: IntCounter,
    /// Well-formed lines it has no use for (port states, control lines...).
    pub ignored: IntCounter,
    /// Not UTF-8, or a known line family whose fields do not parse.
    pub invalid: IntCounter,
    /// Longer than the line limit: discarded up to the newline.
    pub oversize: IntCounter,
}

const SERVO: &[&str] = &["from", "process", "node", "iface"];

impl PtpMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            r.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            r.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        Ok(Self {
            offset: gauge(
                "openshift_ptp_offset_ns",
                "Metric to get the PTP clock offset in nanoseconds",
                SERVO,
            )?,
            max_offset: gauge(
                "openshift_ptp_max_offset_ns",
                "Metric to get the PTP clock maximum offset in nanoseconds",
                SERVO,
            )?,
            frequency: gauge(
                "openshift_ptp_frequency_adjustment_ns",
                "Metric to get the PTP clock frequency adjustment",
                SERVO,
            )?,
            delay: gauge(
                "openshift_ptp_delay_ns",
                "Metric to get the PTP clock path delay in nanoseconds",
                SERVO,
            )?,
            clock_state: gauge(
                "openshift_ptp_clock_state",
                "0 = FREERUN, 1 = LOCKED, 2 = HOLDOVER",
                &["process", "node", "iface"],
            )?,
            process_status: gauge(
                "openshift_ptp_process_status",
                "0 = DOWN, 1 = UP",
                &["process", "node", "config"],
            )?,
            process_restart_count: counter(
                "openshift_ptp_process_restart_count",
                "Metric to get the number of process restarts",
                &["process", "node", "config"],
            )?,
            socket_lines: counter(
                "cloud_event_agent_socket_lines_total",
                "Lines read from the log socket, by result",
                &["result"],
            )?,
        })
    }

    /// Registers into a private registry (tests, tools).
    ///
    /// # Errors
    /// Never in practice: the registry is empty.
    pub fn unregistered() -> Result<Self, prometheus::Error> {
        Self::register(&Registry::new())
    }

    #[must_use]
    pub fn servo(&self, from: &str, process: &str, node: &str, iface: &str) -> ServoSeries {
        let l = [from, process, node, iface];
        ServoSeries {
            offset: self.offset.with_label_values(&l),
            max_offset: self.max_offset.with_label_values(&l),
            frequency: self.frequency.with_label_values(&l),
            delay: self.delay.with_label_values(&l),
            max_seen: None,
        }
    }

    #[must_use]
    pub fn socket_lines(&self) -> SocketLines {
        let c = |r: &str| self.socket_lines.with_label_values(&[r]);
        SocketLines {
            ok: c("ok"),
            ignored: c("ignored"),
            invalid: c("invalid"),
            oversize: c("oversize"),
        }
    }
}
