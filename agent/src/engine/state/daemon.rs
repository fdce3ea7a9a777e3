//! The daemon's own lines: T-GM and T-BC status, DPLL, GNSS, clock
//! class, and process up/down.

use super::super::clock::Cause;
use super::super::parse::daemon::{Dpll, Gm, Gnss, Tbc};
use super::instance::{self, clock_event, make_clock, master_address};
use super::{Cx, DEAD_OFFSET, Engine, Ingest};
use crate::event::{DataValue, Event, EventKind, SyncState};
use crate::metrics::Family;

impl Engine {
    pub(super) fn gm(&mut self, i: usize, g: Gm<'_>, cx: &Cx<'_>) -> Ingest {
        if self.instances[i].gm.is_none() {
            let c = self.iface_clock(i, "GM", g.iface);
            self.instances[i].gm = Some(c);
        }
        // The offset of a GM event is the DPLL's phase offset.
        let inst = &mut self.instances[i];
        let offset = inst
            .dpll
            .iter()
            .find(|d| d.iface.as_bytes() == g.iface)
            .map_or(0, |d| d.gauges[0].get());
        let Some(c) = inst.gm.as_mut() else {
            return Ingest::Ignored;
        };
        if let Some(s) = c.force(g.state, offset) {
            let ev = clock_event(EventKind::LockState, c, s);
            self.publish(ev, cx.sink);
        }
        Ingest::Used
    }

    pub(super) fn tbc(&mut self, i: usize, t: Tbc<'_>, cx: &Cx<'_>) -> Ingest {
        if self.instances[i].tbc.is_none() {
            let c = self.iface_clock(i, "T-BC", t.iface);
            self.instances[i].tbc = Some(c);
        }
        let (node, metrics) = (&self.node, &self.metrics);
        let inst = &mut self.instances[i];
        let Some(c) = inst.tbc.as_mut() else {
            return Ingest::Ignored;
        };
        let s = instance::servo_leaf(c, &mut inst.series, metrics, "T-BC", "T-BC", node);
        s.offset.set(t.offset);
        if let Some(s) = c.force(t.state, t.offset) {
            let ev = clock_event(EventKind::LockState, c, s);
            self.publish(ev, cx.sink);
        }
        Ingest::Used
    }

    pub(super) fn dpll(&mut self, i: usize, d: &Dpll<'_>) -> Ingest {
        let k = match self.instances[i]
            .dpll
            .iter()
            .position(|x| x.iface.as_bytes() == d.iface)
        {
            Some(k) => k,
            None => {
                let alias = self.alias(d.iface);
                let (node, m) = (self.node.as_str(), &self.metrics);
                let servo = ["dpll", "dpll", node, alias.as_str()];
                let inst = &mut self.instances[i];
                inst.series.add(Family::Servo, &servo);
                inst.series.add(Family::DpllStatus, &servo);
                inst.series.add(Family::ClockState, &["dpll", node, &alias]);
                inst.dpll.push(instance::Dpll {
                    iface: String::from_utf8_lossy(d.iface).into(),
                    gauges: [
                        m.offset.with_label_values(&servo),
                        m.clock_state.with_label_values(&["dpll", node, &alias]),
                        m.frequency_status.with_label_values(&servo),
                        m.phase_status.with_label_values(&servo),
                        m.pps_status.with_label_values(&servo),
                    ],
                });
                inst.dpll.len() - 1
            }
        };
        let g = &self.instances[i].dpll[k].gauges;
        g[1].set(d.state.metric());
        for (gauge, v) in [
            (&g[0], d.offset),
            (&g[2], d.frequency_status),
            (&g[3], d.phase_status),
            (&g[4], d.pps_status),
        ] {
            if let Some(v) = v {
                gauge.set(v);
            }
        }
        Ingest::Used
    }

    /// GNSS: published when its O-RAN value changes; never part of
    /// the node's sync-state.
    pub(super) fn gnss(&mut self, i: usize, g: &Gnss<'_>, cx: &Cx<'_>) -> Ingest {
        let k = match self.instances[i]
            .gnss
            .iter()
            .position(|x| x.iface.as_bytes() == g.iface)
        {
            Some(k) => k,
            None => {
                let alias = self.alias(g.iface);
                let (node, m) = (self.node.as_str(), &self.metrics);
                let servo = ["gnss", "gnss", node, alias.as_str()];
                let inst = &mut self.instances[i];
                inst.series.add(Family::Servo, &servo);
                inst.series.add(Family::GnssStatus, &servo);
                inst.series.add(Family::ClockState, &["gnss", node, &alias]);
                inst.gnss.push(instance::Gnss {
                    iface: String::from_utf8_lossy(g.iface).into(),
                    address: master_address(node, &alias),
                    value: None,
                    offset: 0,
                    fix: 0,
                    gauges: [
                        m.offset.with_label_values(&servo),
                        m.gnss_status.with_label_values(&servo),
                        m.clock_state.with_label_values(&["gnss", node, &alias]),
                    ],
                });
                inst.gnss.len() - 1
            }
        };
        let x = &mut self.instances[i].gnss[k];
        x.gauges[0].set(g.offset);
        x.gauges[1].set(g.status);
        x.gauges[2].set(g.state.metric());
        (x.offset, x.fix) = (g.offset, g.status);
        let value = gnss_value(g.state, g.status);
        if x.value == Some(value) {
            return Ingest::Used;
        }
        x.value = Some(value);
        cx.sink.publish(Event::new(
            EventKind::GnssSyncStatus,
            gnss_values(&x.address, value, g.offset, g.status),
        ));
        Ingest::Used
    }

    /// `CLOCK_CLASS_CHANGE`: on change, the metric and an event.
    pub(super) fn clock_class(&mut self, i: usize, cx: &Cx<'_>, class: u8) -> Ingest {
        if self.instances[i].class == Some(class) {
            return Ingest::Used;
        }
        let inst = &mut self.instances[i];
        inst.class = Some(class);
        let process = String::from_utf8_lossy(cx.process);
        let process = if process.is_empty() {
            "ptp4l"
        } else {
            &process
        };
        let labels = [process, cx.config(inst), self.node.as_str()];
        self.metrics
            .clock_class
            .with_label_values(&labels)
            .set(i64::from(class));
        let labels: Vec<String> = labels.iter().map(|s| (*s).to_owned()).collect();
        let l: Vec<&str> = labels.iter().map(String::as_str).collect();
        inst.series.add(Family::ClockClass, &l);
        let addr = inst.class_address(&self.node);
        cx.sink.publish(Event::new(
            EventKind::ClockClass,
            vec![DataValue::metric(addr, class)],
        ));
        Ingest::Used
    }

    /// `PTP_PROCESS_STATUS:N`.
    pub(super) fn process_status(&mut self, i: usize, cx: &Cx<'_>, up: bool) -> Ingest {
        let Ok(process) = std::str::from_utf8(cx.process) else {
            return Ingest::Invalid;
        };
        if process.is_empty() {
            return Ingest::Invalid;
        }
        let labels = [process, self.node.as_str(), cx.config(&self.instances[i])];
        self.metrics
            .process_status
            .with_label_values(&labels)
            .set(i64::from(up));
        if up {
            self.metrics
                .process_restart_count
                .with_label_values(&labels)
                .inc();
            if process == "ptp4l" {
                self.instances[i].dead = false;
            }
            return Ingest::Used;
        }
        let chronyd = self.has_chronyd();
        let inst = &mut self.instances[i];
        let (th, now, gm) = (inst.th, cx.now, inst.gm.is_some());
        let mut events = Vec::new();
        let mut free = |kind: Option<EventKind>, c: &mut super::super::clock::Clock| {
            let s = c.apply(SyncState::Freerun, DEAD_OFFSET, Cause::Own, &th, now);
            if let (Some(kind), Some(s)) = (kind, s) {
                events.push(clock_event(kind, c, s));
            }
        };
        match process {
            "ts2phc" => {
                let kind = (!gm).then_some(EventKind::LockState);
                for (_, c) in &mut inst.ts2phc {
                    if let Some(s) = c.series[0].as_mut() {
                        s.offset.set(DEAD_OFFSET);
                    }
                    free(kind, c);
                }
            }
            "ptp4l" => {
                if inst.is_tbc() {
                    if let Some(c) = inst.tbc.as_mut() {
                        free(Some(EventKind::LockState), c);
                    }
                } else if let Some(c) = inst.master.as_mut() {
                    free(Some(EventKind::LockState), c);
                }
                if !chronyd && let Some(c) = inst.realtime.as_mut() {
                    free(Some(EventKind::OsClockSyncState), c);
                }
            }
            "phc2sys" | "chronyd" if process == "chronyd" || !chronyd => {
                if let Some(c) = inst.realtime.as_mut() {
                    free(Some(EventKind::OsClockSyncState), c);
                }
            }
            _ => {}
        }
        for ev in events {
            self.publish(ev, cx.sink);
        }
        if process == "ptp4l" {
            self.ptp4l_died(i);
            self.publish_sync(cx.sink);
        }
        Ingest::Used
    }

    /// A clock named by an interface's alias (`<alias>/master`).
    fn iface_clock(&mut self, i: usize, process: &str, iface: &[u8]) -> super::super::clock::Clock {
        let alias = self.alias(iface);
        let addr = master_address(&self.node, &alias);
        make_clock(
            &self.metrics,
            &mut self.instances[i].series,
            &self.node,
            process,
            &alias,
            addr,
        )
    }
}

/// O-RAN gnss-sync-status: SYNCHRONIZED when locked, else
/// ACQUIRING-SYNC with some fix, FAILURE-NOFIX without.
fn gnss_value(state: SyncState, fix: i64) -> &'static str {
    match (state, fix) {
        (SyncState::Locked, _) => "SYNCHRONIZED",
        (_, f) if f >= 1 => "ACQUIRING-SYNC",
        _ => "FAILURE-NOFIX",
    }
}

pub(super) fn gnss_values(address: &str, value: &str, offset: i64, fix: i64) -> Vec<DataValue> {
    vec![
        DataValue::state(address.to_owned(), value),
        DataValue::metric(address.to_owned(), offset),
        DataValue::metric(format!("{address}/gpsFix"), fix),
    ]
}
