//! Servo lines: ptp4l (E1), phc2sys (E3 = worst(phc2sys, E1)) and ts2phc.

use super::super::clock::{Cause, Clock};
use super::super::parse::{phc2sys, ptp4l, ts2phc};
use super::instance::{clock_event, make_clock, master_address, realtime_clock, servo, servo_leaf};
use super::{Cx, Engine, Ingest, REALTIME};
use crate::event::{EventKind, SyncState};
use crate::metrics::ServoSeries;

impl Engine {
    pub(super) fn ptp4l(&mut self, i: usize, line: ptp4l::Line, cx: &Cx<'_>) -> Ingest {
        let (node, metrics) = (&self.node, &self.metrics);
        let inst = &mut self.instances[i];
        if inst.master.is_none() {
            inst.master = Some(inst.master_clock(metrics, node));
        }
        let tbc = inst.is_tbc();
        inst.last_servo = Some(cx.now);
        let summary = super::mgmt::summary_state(&inst.ports);
        let (th, leaf) = (inst.th, &inst.leaf);
        let Some(clock) = inst.master.as_mut() else {
            return Ingest::Ignored;
        };
        let s = servo(
            clock,
            0,
            &mut inst.series,
            metrics,
            ["master", "ptp4l", node, leaf],
        );
        let changed = match line {
            ptp4l::Line::Rms(r) => {
                set_rms(s, &r);
                // A summary is offset evidence too (a slave syncing faster
                // than `summary_interval` prints nothing else); its state
                // comes from the port, its range check from the worst offset.
                let Some(incoming) = summary else {
                    return Ingest::Used;
                };
                clock.apply(incoming, r.max, Cause::Own, &th, cx.now)
            }
            ptp4l::Line::Offset(o) => {
                set_offset(s, &o);
                let (incoming, cause) = servo_state(&o);
                clock.apply(incoming, o.offset, cause, &th, cx.now)
            }
        };
        // T-BC: T-BC-STATUS decides lock-state; ptp4l is metrics only.
        if let Some(state) = changed.filter(|_| !tbc) {
            let ev = clock_event(EventKind::LockState, clock, state);
            self.publish(ev, cx.sink);
        }
        Ingest::Used
    }

    pub(super) fn phc2sys(&mut self, i: usize, line: phc2sys::Line, cx: &Cx<'_>) -> Ingest {
        let (node, metrics) = (&self.node, &self.metrics);
        let inst = &mut self.instances[i];
        let (e1, th) = (inst.e1(), inst.th);
        let clock = realtime_clock(
            &mut inst.realtime,
            metrics,
            &mut inst.series,
            node,
            "phc2sys",
        );
        let (from, o) = match line {
            phc2sys::Line::Rms(r) => {
                let l = ["phc", "phc2sys", node, REALTIME];
                set_rms(servo(clock, 0, &mut inst.series, metrics, l), &r);
                return Ingest::Used;
            }
            phc2sys::Line::Offset(from, o) => (from, o),
        };
        let slot = usize::from(from == phc2sys::From::Sys);
        let l = [from.as_str(), "phc2sys", node, REALTIME];
        set_offset(servo(clock, slot, &mut inst.series, metrics, l), &o);
        let (own, cause) = servo_state(&o);
        // E3 = worst(phc2sys, E1) (O-RAN Table 37).
        let (incoming, cause) = match e1 {
            Some(e1) if e1 > own => (e1, Cause::Derived),
            _ => (own, cause),
        };
        if let Some(state) = clock.apply(incoming, o.offset, cause, &th, cx.now) {
            let ev = clock_event(EventKind::OsClockSyncState, clock, state);
            self.publish(ev, cx.sink);
        }
        Ingest::Used
    }

    pub(super) fn ts2phc(&mut self, i: usize, line: ts2phc::Line<'_>, cx: &Cx<'_>) -> Ingest {
        let (iface, offset, state, freq) = match line {
            ts2phc::Line::Nmea { iface, available } => {
                let k = match self.instances[i]
                    .nmea
                    .iter()
                    .position(|(f, _)| f.as_bytes() == iface)
                {
                    Some(k) => k,
                    None => {
                        let alias = self.alias(iface);
                        let labels = ["ts2phc", self.node.as_str(), &alias];
                        let inst = &mut self.instances[i];
                        inst.series.add(crate::metrics::Family::NmeaStatus, &labels);
                        let g = self.metrics.nmea_status.with_label_values(&labels);
                        inst.nmea.push((String::from_utf8_lossy(iface).into(), g));
                        inst.nmea.len() - 1
                    }
                };
                self.instances[i].nmea[k].1.set(i64::from(available));
                return Ingest::Used;
            }
            ts2phc::Line::Offset {
                iface,
                offset,
                state,
                freq,
            } => (iface, offset, state, freq),
        };
        let k = match self.instances[i]
            .ts2phc
            .iter()
            .position(|(f, _)| f.as_bytes() == iface)
        {
            Some(k) => k,
            None => self.new_ts2phc(i, iface),
        };
        let (node, metrics) = (&self.node, &self.metrics);
        let inst = &mut self.instances[i];
        let (th, gm) = (inst.th, inst.gm.is_some());
        let (_, clock) = &mut inst.ts2phc[k];
        let s = servo_leaf(clock, &mut inst.series, metrics, "master", "ts2phc", node);
        s.observe_offset(offset);
        if let Some(f) = freq {
            s.frequency.set(f);
        }
        if gm {
            // With a GM, ts2phc only feeds metrics.
            let s = match state {
                SyncState::Locked if !th.in_range(offset) => SyncState::Freerun,
                s => s,
            };
            clock.set_quietly(s, offset);
            return Ingest::Used;
        }
        if let Some(st) = clock.apply(state, offset, Cause::Derived, &th, cx.now) {
            let ev = clock_event(EventKind::LockState, clock, st);
            self.publish(ev, cx.sink);
        }
        Ingest::Used
    }

    fn new_ts2phc(&mut self, i: usize, iface: &[u8]) -> usize {
        let alias = self.alias(iface);
        let addr = master_address(&self.node, &alias);
        let inst = &mut self.instances[i];
        let c: Clock = make_clock(
            &self.metrics,
            &mut inst.series,
            &self.node,
            "ts2phc",
            &alias,
            addr,
        );
        inst.ts2phc.push((String::from_utf8_lossy(iface).into(), c));
        inst.ts2phc.len() - 1
    }
}

/// The servo token's state, HOLDOVER for a line without path delay.
fn servo_state(o: &ptp4l::Offset) -> (SyncState, Cause) {
    match o.delay {
        None => (SyncState::Holdover, Cause::Own),
        Some(_) => (o.servo.state(), Cause::Own),
    }
}

fn set_offset(s: &mut ServoSeries, o: &ptp4l::Offset) {
    s.observe_offset(o.offset);
    if let Some(f) = o.freq {
        s.frequency.set(f);
    }
    if let Some(d) = o.delay {
        s.delay.set(d);
    }
}

fn set_rms(s: &ServoSeries, r: &ptp4l::Rms) {
    s.offset.set(r.rms);
    s.max_offset.set(r.max);
    if let Some(f) = r.freq {
        s.frequency.set(f);
    }
    if let Some(d) = r.delay {
        s.delay.set(d);
    }
}
