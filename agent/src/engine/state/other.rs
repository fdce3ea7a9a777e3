//! SyncE, chronyd and PTP-HA lines.

use super::super::parse::synce::Synce;
use super::instance::{self, clock_event, realtime_clock};
use super::{Cx, Engine, Ingest};
use crate::event::{DataValue, Event, EventKind, NODE_PREFIX, SyncState};
use crate::metrics::Family;

/// Extended QL when the network does not use it.
const NO_EXT_QL: u8 = 0xff;

impl Engine {
    /// synce4l: lock-state from `eec_state` lines, clock quality from
    /// `clock_quality` lines, each published when it changes.
    pub(super) fn synce(&mut self, i: usize, s: &Synce<'_>, cx: &Cx<'_>) -> Ingest {
        let k = match self.instances[i]
            .synce
            .iter()
            .position(|x| x.device.as_bytes() == s.device && x.iface.as_bytes() == s.iface)
        {
            Some(k) => k,
            None => {
                let iface = String::from_utf8_lossy(s.iface);
                let labels = ["synce4l", self.node.as_str(), &iface];
                let inst = &mut self.instances[i];
                inst.series.add(Family::ClockState, &labels);
                inst.synce.push(instance::Synce {
                    device: String::from_utf8_lossy(s.device).into(),
                    iface: iface.as_ref().into(),
                    state: None,
                    quality: None,
                    gauge: self.metrics.clock_state.with_label_values(&labels),
                });
                inst.synce.len() - 1
            }
        };
        let node = self.node.as_str();
        let inst = &mut self.instances[i];
        let x = &mut inst.synce[k];
        let addr = || format!("{NODE_PREFIX}{node}/{}/{}", x.device, x.iface);
        if s.eec_state.is_some() {
            x.gauge.set(s.state.metric());
            if x.state != Some(s.state) {
                x.state = Some(s.state);
                // The anchor's quirk kept: a state string typed as a metric.
                cx.sink.publish(Event::new(
                    EventKind::SynceLockState,
                    vec![DataValue::metric(addr(), s.state)],
                ));
            }
        }
        let (Some(_), Some(ql)) = (s.clock_quality, s.ql) else {
            return Ingest::Used;
        };
        let ext = s.ext_ql.unwrap_or(NO_EXT_QL);
        if x.quality == Some((ql, ext)) {
            return Ingest::Used;
        }
        // Only a new quality touches the gauges (their labels vary).
        x.quality = Some((ql, ext));
        let addr = addr();
        let (device, iface) = (x.device.clone(), x.iface.clone());
        let profile = inst
            .info
            .as_ref()
            .and_then(|c| c.profile.clone())
            .unwrap_or_else(|| inst.name.to_string());
        let net = s.network_option.unwrap_or(0).to_string();
        let base = ["synce4l", node, &profile, &net, &iface, &device];
        let total = i64::from(ql) + s.ext_ql.map_or(0, i64::from);
        self.metrics
            .synce_clock_quality
            .with_label_values(&base)
            .set(total);
        inst.series.add(Family::SynceQuality, &base);
        for (t, v) in [("SSM", ql), ("Extended SSM", ext)] {
            let l = [base[0], base[1], base[2], base[3], base[4], base[5], t];
            self.metrics
                .synce_ssm_ql
                .with_label_values(&l)
                .set(i64::from(v));
            inst.series.add(Family::SynceQl, &l);
        }
        cx.sink.publish(Event::new(
            EventKind::SynceClockQuality,
            synce_quality_values(&addr, ql, ext),
        ));
        Ingest::Used
    }

    /// chronyd: `Selected source` is a LOCKED OS clock, `no
    /// selectable sources` a FREERUN one.
    pub(super) fn chronyd(&mut self, i: usize, locked: bool, cx: &Cx<'_>) -> Ingest {
        let (node, metrics) = (&self.node, &self.metrics);
        let inst = &mut self.instances[i];
        let c = realtime_clock(
            &mut inst.realtime,
            metrics,
            &mut inst.series,
            node,
            "chronyd",
        );
        let state = if locked {
            SyncState::Locked
        } else {
            SyncState::Freerun
        };
        if let Some(s) = c.force(state, 0) {
            let ev = clock_event(EventKind::OsClockSyncState, c, s);
            self.publish(ev, cx.sink);
        }
        Ingest::Used
    }

    /// `ptp_ha_profile <p> state <0|1>`: the metric only.
    pub(super) fn ha_profile(&mut self, profile: &[u8], active: bool) -> Ingest {
        let profile = String::from_utf8_lossy(profile);
        self.metrics
            .ha_profile_status
            .with_label_values(&["phc2sys", &self.node, &profile])
            .set(i64::from(active));
        Ingest::Used
    }
}

pub(super) fn synce_quality_values(addr: &str, ql: u8, ext: u8) -> Vec<DataValue> {
    vec![
        DataValue::metric(format!("{addr}/Ql"), ql),
        DataValue::metric(format!("{addr}/extQl"), ext),
    ]
}
