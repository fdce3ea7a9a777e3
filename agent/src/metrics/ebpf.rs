use prometheus::{GaugeVec, IntCounter, IntCounterVec, Opts, Registry};

/// The eBPF source (ours).
pub struct EbpfMetrics {
    /// Records read from the ring buffer, by kind.
    pub records: IntCounterVec,
    /// Records the probes could not write because the ring buffer was full
    /// (counted per CPU in the kernel, summed here), by kind.
    pub lost: IntCounterVec,
    /// Records or lines dropped in userspace, by reason: `decode_error`,
    /// `untrusted`, `truncated`, `syslog_duplicate`.
    pub dropped: IntCounterVec,
    /// Log records of a watched process the probes dropped, by process
    /// name and reason: `over_budget` (its line budget), `ring_full`.
    pub lines_dropped: IntCounterVec,
    /// Log lines handed to the engine.
    pub lines: IntCounter,
    /// Frequency of a clock as last set by a linuxptp process
    /// (`clock_adjtime` with `ADJ_FREQUENCY`), in ppb.
    pub frequency_ppb: GaugeVec,
    /// Clock steps (`ADJ_SETOFFSET`, `clock_settime`) by linuxptp processes.
    pub steps: IntCounterVec,
    /// `clock_adjtime` calls by linuxptp processes, by result (`ok`, `error`).
    pub adjtime: IntCounterVec,
}

impl EbpfMetrics {
    pub(super) fn register(r: &Registry) -> Result<Self, prometheus::Error> {
        let records = super::registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "cloud_event_agent_ebpf_records_total",
                    "Records read from the eBPF ring buffer, by kind",
                ),
                &["kind"],
            )?,
        )?;
        let lost = super::registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "cloud_event_agent_ebpf_lost_records_total",
                    "Records lost in the kernel because the ring buffer was full, by kind",
                ),
                &["kind"],
            )?,
        )?;
        let dropped = super::registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "cloud_event_agent_ebpf_dropped_total",
                    "Records or lines dropped by the eBPF source, by reason",
                ),
                &["reason"],
            )?,
        )?;
        let lines_dropped = super::registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "cloud_event_agent_ebpf_lines_dropped_total",
                    "Log records of watched processes dropped in the kernel, by process and reason",
                ),
                &["process", "reason"],
            )?,
        )?;
        let lines = super::registered(
            r,
            IntCounter::new(
                "cloud_event_agent_ebpf_lines_total",
                "Log lines of linuxptp processes handed to the engine",
            )?,
        )?;
        let frequency_ppb = super::registered(
            r,
            GaugeVec::new(
                Opts::new(
                    "cloud_event_agent_clock_frequency_ppb",
                    "Clock frequency adjustment last set by a linuxptp process, in ppb",
                ),
                &["process", "clock"],
            )?,
        )?;
        let steps = super::registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "cloud_event_agent_clock_steps_total",
                    "Clock steps (ADJ_SETOFFSET, clock_settime) by linuxptp processes",
                ),
                &["process", "clock"],
            )?,
        )?;
        let adjtime = super::registered(
            r,
            IntCounterVec::new(
                Opts::new(
                    "cloud_event_agent_clock_adjtime_total",
                    "clock_adjtime calls by linuxptp processes, by result",
                ),
                &["process", "clock", "result"],
            )?,
        )?;
        Ok(Self {
            records,
            lost,
            dropped,
            lines_dropped,
            lines,
            frequency_ppb,
            steps,
            adjtime,
        })
    }
}
