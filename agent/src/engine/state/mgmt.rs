//! Facts that are not log lines: a daemon's exit, its clock steps, and what
//! its management socket says (port states, clock class, `TIME_STATUS_NP`).

use std::time::{Duration, Instant};

use super::super::clock::Cause;
use super::super::parse::port::{PortLine, PortState};
use super::super::parse::{Prefix, Servo, phc2sys, ptp4l};
use super::super::{Origin, Sink, What};
use super::instance::{clock_event, servo};
use super::{Cx, Engine, Ingest};
use crate::event::{EventKind, SyncState};

/// A servo line this recent speaks for the clock; the management
/// socket's offset only for a ptp4l that prints none.
const SERVO_FRESH: Duration = Duration::from_secs(3);

impl Engine {
    /// Every fact but a log line and a start.
    pub(super) fn fact(
        &mut self,
        origin: &Origin,
        at: Instant,
        what: What<'_>,
        sink: &dyn Sink,
    ) -> Ingest {
        let process: &[u8] = origin.process.as_deref().map_or(b"", str::as_bytes);
        let p = Prefix {
            process,
            config: None,
            message: b"",
        };
        let i = match what {
            // The death of a daemon the engine never knew changes nothing.
            What::Exited => self.existing(origin, process),
            _ => self.place(origin, &p, process),
        };
        let Some(i) = i else {
            return Ingest::Ignored;
        };
        if matches!(
            what,
            What::PortState { .. } | What::ClockClass(_) | What::TimeStatus { .. }
        ) {
            // A daemon that answers is alive.
            self.instances[i].dead = false;
        }
        let cx = Cx {
            origin,
            prefix: &p,
            process,
            now: at,
            sink,
        };
        match what {
            What::Exited => self.process_status(i, &cx, false),
            What::Step { realtime, ns } => {
                // What the daemon prints when it steps (`s1`): FREERUN even
                // when its output is not seen.
                let o = ptp4l::Offset {
                    offset: ns,
                    servo: Servo::Unlocked,
                    freq: None,
                    delay: Some(0),
                };
                match process {
                    b"ptp4l" => self.ptp4l(i, ptp4l::Line::Offset(o), &cx),
                    b"phc2sys" if realtime => {
                        self.phc2sys(i, phc2sys::Line::Offset(phc2sys::From::Phc, o), &cx)
                    }
                    _ => Ingest::Ignored,
                }
            }
            What::PortState { port, state } => self.port_state(i, port, state, &cx),
            What::ClockClass(c) => self.clock_class(i, &cx, c),
            What::TimeStatus {
                master_offset,
                gm_present,
            } => self.time_status(i, master_offset, gm_present, &cx),
            What::Line(_) | What::Started(_) => Ingest::Ignored,
        }
    }

    /// A port state read from the socket: the transition from the last
    /// state seen (log or socket); the first sight only sets the role.
    fn port_state(&mut self, i: usize, port: u16, to: PortState, cx: &Cx<'_>) -> Ingest {
        let from = self.instances[i]
            .ports
            .iter()
            .find(|p| p.port == port)
            .and_then(|p| p.state);
        if from == Some(to) {
            return Ingest::Used;
        }
        let l = PortLine {
            port,
            iface: None,
            from: from.unwrap_or(to),
            to,
            event: b"MANAGEMENT",
        };
        self.port(i, &l, cx)
    }

    /// `TIME_STATUS_NP` of a ptp4l that prints no servo lines: a SLAVE
    /// port with a grandmaster is LOCKED when the offset is in range.
    fn time_status(&mut self, i: usize, offset: i64, gm: bool, cx: &Cx<'_>) -> Ingest {
        let (node, metrics) = (&self.node, &self.metrics);
        let inst = &mut self.instances[i];
        let fresh = inst
            .last_servo
            .is_some_and(|t| cx.now.saturating_duration_since(t) < SERVO_FRESH);
        if fresh || inst.is_tbc() || inst.gm.is_some() || !inst.ts2phc.is_empty() {
            return Ingest::Ignored;
        }
        let slave = inst.ports.iter().any(|p| p.state == Some(PortState::Slave));
        if inst.master.is_none() {
            inst.master = Some(inst.master_clock(metrics, node));
        }
        let (th, leaf) = (inst.th, &inst.leaf);
        let Some(clock) = inst.master.as_mut() else {
            return Ingest::Ignored;
        };
        // A port that left SLAVE already decided (HOLDOVER, then FREERUN).
        if !slave && clock.state().is_some() {
            return Ingest::Used;
        }
        let s = servo(
            clock,
            0,
            &mut inst.series,
            metrics,
            ["master", "ptp4l", node, leaf],
        );
        s.observe_offset(offset);
        let incoming = if slave && gm {
            SyncState::Locked
        } else {
            SyncState::Freerun
        };
        if let Some(st) = clock.apply(incoming, offset, Cause::Own, &th, cx.now) {
            let ev = clock_event(EventKind::LockState, clock, st);
            self.publish(ev, cx.sink);
        }
        Ingest::Used
    }
}

/// The servo evidence of a summary line: LOCKED when a port is SLAVE,
/// FREERUN when one is still UNCALIBRATED, none when the ports are unknown.
pub(super) fn summary_state(ports: &[super::instance::Port]) -> Option<SyncState> {
    if ports.iter().any(|p| p.state == Some(PortState::Slave)) {
        Some(SyncState::Locked)
    } else if ports
        .iter()
        .any(|p| p.state == Some(PortState::Uncalibrated))
    {
        Some(SyncState::Freerun)
    } else {
        None
    }
}
