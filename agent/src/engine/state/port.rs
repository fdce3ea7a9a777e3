//! Port states: roles, and HOLDOVER when the port that was SLAVE
//! stops being one; the holdover timer then turns it into FREERUN.

use super::super::clock::Cause;
use super::super::parse::port::{PortLine, classify};
use super::instance::{Port, clock_event};
use super::{Cx, Engine, Ingest};
use crate::event::{EventKind, SyncState};
use crate::metrics::Family;

impl Engine {
    pub(super) fn port(&mut self, i: usize, l: &PortLine<'_>, cx: &Cx<'_>) -> Ingest {
        if cx.process != b"ptp4l" && !cx.process.is_empty() {
            return Ingest::Ignored;
        }
        // Port 0 is ptp4l's management (UDS) port.
        if l.port == 0 {
            return Ingest::Ignored;
        }
        let t = classify(l);
        let (node, metrics) = (&self.node, &self.metrics);
        let inst = &mut self.instances[i];
        // Borrowed: the port's name is copied only when it changes.
        let iface: Option<&str> = match l.iface {
            Some(f) => std::str::from_utf8(f).ok(),
            None => inst
                .info
                .as_ref()
                .and_then(|c| c.interfaces.get(usize::from(l.port) - 1))
                .map(String::as_str)
                .or_else(|| inst.ifaces.get(usize::from(l.port) - 1).map(AsRef::as_ref)),
        };
        let k = match inst.ports.iter().position(|p| p.port == l.port) {
            Some(k) => k,
            None => {
                inst.ports.push(Port {
                    port: l.port,
                    iface: Box::default(),
                    role: None,
                    state: None,
                    gauge: None,
                });
                inst.ports.len() - 1
            }
        };
        let port = &mut inst.ports[k];
        port.state = Some(l.to);
        if let Some(f) = iface.filter(|f| **f != *port.iface) {
            port.iface = f.into();
            port.gauge = None;
        }
        if let Some(role) = t.role
            && port.role != Some(role)
        {
            port.role = Some(role);
            if port.gauge.is_none() && !port.iface.is_empty() {
                let labels = ["ptp4l", node.as_str(), &port.iface];
                inst.series.add(Family::InterfaceRole, &labels);
                port.gauge = Some(metrics.interface_role.with_label_values(&labels));
            }
            if let Some(g) = &port.gauge {
                g.set(role.metric());
            }
        }
        if !t.lost_slave {
            return Ingest::Used;
        }
        if inst.is_tbc() {
            // T-BC-STATUS is authoritative; only ptp4l's gauge says FREERUN.
            if let Some(c) = inst.master.as_mut() {
                c.set_quietly(SyncState::Freerun, c.offset());
            }
            return Ingest::Used;
        }
        // Master offsets come from ts2phc (T-GM): its ports do not decide.
        if inst.gm.is_some() || !inst.ts2phc.is_empty() {
            return Ingest::Used;
        }
        if inst.master.is_none() {
            inst.master = Some(inst.master_clock(metrics, node));
        }
        let th = inst.th;
        let Some(clock) = inst.master.as_mut() else {
            return Ingest::Used;
        };
        // A clock that never locked or already runs free has no holdover.
        if matches!(
            clock.state(),
            Some(SyncState::Freerun | SyncState::Holdover)
        ) {
            return Ingest::Used;
        }
        let offset = clock.offset();
        if let Some(s) = clock.apply(SyncState::Holdover, offset, Cause::Own, &th, cx.now) {
            let ev = clock_event(EventKind::LockState, clock, s);
            self.publish(ev, cx.sink);
        }
        Ingest::Used
    }
}
