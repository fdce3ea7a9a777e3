use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Registry};

/// The anchor's PTP metrics, names and labels unchanged, plus the
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
    /// `openshift_ptp_nmea_status{process,node,iface}`: 0 UNAVAILABLE, 1 AVAILABLE.
    pub nmea_status: IntGaugeVec,
    /// `openshift_ptp_threshold{threshold,node,profile}`.
    pub threshold: IntGaugeVec,
    /// `openshift_ptp_interface_role{process,node,iface}` (iface: the port).
    pub interface_role: IntGaugeVec,
    /// `openshift_ptp_clock_class{process,config,node}`.
    pub clock_class: IntGaugeVec,
    /// `openshift_ptp_ha_profile_status{process,node,profile}`.
    pub ha_profile_status: IntGaugeVec,
    /// `openshift_ptp_synce_clock_quality{process,node,profile,network_option,iface,device}`.
    pub synce_clock_quality: IntGaugeVec,
    /// `openshift_ptp_synce_ssm_ql{...,ql_type}`.
    pub synce_ssm_ql: IntGaugeVec,
    /// `openshift_ptp_frequency_status{from,process,node,iface}` (DPLL).
    pub frequency_status: IntGaugeVec,
    /// `openshift_ptp_phase_status{from,process,node,iface}` (DPLL).
    pub phase_status: IntGaugeVec,
    /// `openshift_ptp_pps_status{from,process,node,iface}` (DPLL).
    pub pps_status: IntGaugeVec,
    /// `openshift_ptp_gnss_status{from,process,node,iface}`.
    pub gnss_status: IntGaugeVec,
    /// `cloud_event_agent_socket_lines_total{result}`.
    pub socket_lines: IntCounterVec,
    /// `cloud_event_agent_config_errors_total{kind}`: profile or config
    /// files that did not parse (kind `ptp_config`, `ptp_profiles`).
    pub config_errors: IntCounterVec,
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
const SYNCE: &[&str] = &[
    "process",
    "node",
    "profile",
    "network_option",
    "iface",
    "device",
];

impl PtpMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let gauge =
            |name: &str, help: &str, labels: &[&str]| super::gauge_vec(r, name, help, labels);
        let counter =
            |name: &str, help: &str, labels: &[&str]| super::counter_vec(r, name, help, labels);
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
            nmea_status: gauge(
                "openshift_ptp_nmea_status",
                "0 = UNAVAILABLE, 1 = AVAILABLE",
                &["process", "node", "iface"],
            )?,
            threshold: gauge(
                "openshift_ptp_threshold",
                "Threshold values of a PTP profile",
                &["threshold", "node", "profile"],
            )?,
            interface_role: gauge(
                "openshift_ptp_interface_role",
                "0 = PASSIVE, 1 = SLAVE, 2 = MASTER, 3 = FAULTY, 4 = UNKNOWN, 5 = LISTENING",
                &["process", "node", "iface"],
            )?,
            clock_class: gauge(
                "openshift_ptp_clock_class",
                "6 = Locked, 7 = PRC unlocked in-spec, 52/187 = PRC unlocked out-of-spec, \
                 135 = T-BC holdover in-spec, 165 = T-BC holdover out-of-spec, 248 = Default, \
                 255 = Slave Only Clock",
                &["process", "config", "node"],
            )?,
            ha_profile_status: gauge(
                "openshift_ptp_ha_profile_status",
                "0 = INACTIVE 1 = ACTIVE",
                &["process", "node", "profile"],
            )?,
            synce_clock_quality: gauge(
                "openshift_ptp_synce_clock_quality",
                "SyncE clock quality: QL + extended QL",
                SYNCE,
            )?,
            synce_ssm_ql: gauge(
                "openshift_ptp_synce_ssm_ql",
                "SyncE SSM QL by type (SSM, Extended SSM)",
                &[
                    "process",
                    "node",
                    "profile",
                    "network_option",
                    "iface",
                    "device",
                    "ql_type",
                ],
            )?,
            frequency_status: gauge(
                "openshift_ptp_frequency_status",
                "-1=UNKNOWN, 0=INVALID, 1=FREERUN, 2=LOCKED, 3=LOCKED_HO_ACQ, 4=HOLDOVER",
                SERVO,
            )?,
            phase_status: gauge(
                "openshift_ptp_phase_status",
                "-1=UNKNOWN, 0=INVALID, 1=FREERUN, 2=LOCKED, 3=LOCKED_HO_ACQ, 4=HOLDOVER",
                SERVO,
            )?,
            pps_status: gauge(
                "openshift_ptp_pps_status",
                "0=UNAVAILABLE, 1=AVAILABLE",
                SERVO,
            )?,
            gnss_status: gauge(
                "openshift_ptp_gnss_status",
                "0=NOFIX, 1=Dead Reckoning Only, 2=2D-FIX, 3=3D-FIX, 4=GPS+dead reckoning fix, \
                 5=Time only fix",
                SERVO,
            )?,
            socket_lines: counter(
                "cloud_event_agent_socket_lines_total",
                "Lines read from the log socket, by result",
                &["result"],
            )?,
            config_errors: counter(
                "cloud_event_agent_config_errors_total",
                "PTP config or profile files that did not parse",
                &["kind"],
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
