//! The label sets an engine instance created, so they can be removed when
//! its profile goes away (the anchor's "stale series" fixes).

use prometheus::IntGaugeVec;

use super::PtpMetrics;

/// Which `openshift_ptp_*` gauge family a series belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    /// offset, max offset, frequency and delay together (`from,process,node,iface`).
    Servo,
    ClockState,
    NmeaStatus,
    InterfaceRole,
    ClockClass,
    /// frequency, phase and pps status (`from,process,node,iface`).
    DpllStatus,
    GnssStatus,
    SynceQuality,
    SynceQl,
}

/// Label sets created (cold path only: when a handle is resolved).
#[derive(Debug, Default)]
pub(crate) struct SeriesSet(Vec<(Family, Vec<Box<str>>)>);

impl SeriesSet {
    pub(crate) fn add(&mut self, family: Family, labels: &[&str]) {
        let labels: Vec<Box<str>> = labels.iter().map(|l| Box::from(*l)).collect();
        if !self.0.iter().any(|(f, l)| *f == family && *l == labels) {
            self.0.push((family, labels));
        }
    }

    /// Removes the recorded series of `family` from `m` (a dead daemon's
    /// clock class and port roles).
    pub(crate) fn remove_family(&mut self, family: Family, m: &PtpMetrics) {
        self.0.retain(|(f, labels)| {
            if *f != family {
                return true;
            }
            let l: Vec<&str> = labels.iter().map(AsRef::as_ref).collect();
            for vec in m.family(*f) {
                let _ = vec.remove_label_values(&l);
            }
            false
        });
    }

    /// Removes every recorded series from `m`.
    pub(crate) fn remove_all(&mut self, m: &PtpMetrics) {
        for (family, labels) in self.0.drain(..) {
            let l: Vec<&str> = labels.iter().map(AsRef::as_ref).collect();
            for vec in m.family(family) {
                // Absent already (never set): nothing to do.
                let _ = vec.remove_label_values(&l);
            }
        }
    }
}

impl PtpMetrics {
    fn family(&self, f: Family) -> Vec<&IntGaugeVec> {
        match f {
            Family::Servo => vec![&self.offset, &self.max_offset, &self.frequency, &self.delay],
            Family::ClockState => vec![&self.clock_state],
            Family::NmeaStatus => vec![&self.nmea_status],
            Family::InterfaceRole => vec![&self.interface_role],
            Family::ClockClass => vec![&self.clock_class],
            Family::DpllStatus => {
                vec![&self.frequency_status, &self.phase_status, &self.pps_status]
            }
            Family::GnssStatus => vec![&self.gnss_status],
            Family::SynceQuality => vec![&self.synce_clock_quality],
            Family::SynceQl => vec![&self.synce_ssm_ql],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_what_was_added() {
        let m = PtpMetrics::unregistered().unwrap();
        let mut s = SeriesSet::default();
        m.clock_state
            .with_label_values(&["ptp4l", "n", "ens1fx"])
            .set(1);
        s.add(Family::ClockState, &["ptp4l", "n", "ens1fx"]);
        let _ = m.servo("master", "ptp4l", "n", "ens1fx");
        s.add(Family::Servo, &["master", "ptp4l", "n", "ens1fx"]);
        s.add(Family::Servo, &["master", "ptp4l", "n", "ens1fx"]);
        s.remove_all(&m);
        assert!(
            m.clock_state
                .remove_label_values(&["ptp4l", "n", "ens1fx"])
                .is_err()
        );
        assert!(
            m.delay
                .remove_label_values(&["master", "ptp4l", "n", "ens1fx"])
                .is_err()
        );
    }
}
