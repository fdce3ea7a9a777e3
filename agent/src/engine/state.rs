//! The engine proper: instances (one per config, or per bare process name),
//! each with a main clock (lock-state, from ptp4l) and CLOCK_REALTIME
//! (os-clock-sync-state, from phc2sys), and the node's sync-state.

use std::time::Instant;

use super::clock::{Cause, Clock, Thresholds};
use super::node::{SyncTracker, worst};
use super::parse::{self, Prefix, phc2sys, ptp4l};
use super::{Origin, Sink, Snapshot, alias::alias};
use crate::event::{DataValue, Event, EventKind, NODE_PREFIX, SyncState};
use crate::metrics::{PtpMetrics, ServoSeries};

/// What the engine made of a line (for the source's counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingest {
    /// It changed state or metrics.
    Used,
    /// Well formed but of no use here (port states, other processes...).
    Ignored,
    /// Not UTF-8 where it matters, or a known family with bad fields.
    Invalid,
}

/// One linuxptp instance.
struct Instance {
    /// `ptp4l.0.config`, or `ptp4l` for a plain untagged ptp4l.
    name: Box<str>,
    /// The main clock's interface, when known (its alias names the clock).
    iface: Option<Box<str>>,
    master: Option<Clock>,
    realtime: Option<Clock>,
}

pub struct Engine {
    node: String,
    thresholds: Thresholds,
    metrics: PtpMetrics,
    /// Few (one per config): a linear search beats hashing.
    instances: Vec<Instance>,
    sync: SyncTracker,
}

const REALTIME: &str = "CLOCK_REALTIME";

impl Engine {
    /// An engine for `node` with the default `thresholds` for every instance.
    #[must_use]
    pub fn new(node: String, thresholds: Thresholds, metrics: PtpMetrics) -> Self {
        Self {
            node,
            thresholds,
            metrics,
            instances: Vec::new(),
            sync: SyncTracker::default(),
        }
    }

    #[must_use]
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Names the main clock's interface of `config` (from its profile or
    /// command line): values are then addressed by its alias (§3.9).
    pub fn set_interface(&mut self, config: &str, iface: &str) {
        let i = self.instance(config);
        self.instances[i].iface = Some(iface.into());
        if let Some(old) = self.instances[i].master.take() {
            let mut c = self.master_clock(i);
            c.adopt(&old);
            self.instances[i].master = Some(c);
        }
    }

    /// One log line (without its newline).
    pub fn ingest_line(
        &mut self,
        origin: &Origin,
        line: &[u8],
        now: Instant,
        sink: &dyn Sink,
    ) -> Ingest {
        let p = parse::common::prefix(line);
        let process: &[u8] = match (p.process, &origin.process) {
            (b"", Some(o)) => o.as_bytes(),
            (p, _) => p,
        };
        if let Some(up) = parse::process_status(p.message) {
            return self.process_status(origin, &p, process, up, now, sink);
        }
        match process {
            b"ptp4l" => self.ptp4l(origin, &p, now, sink),
            b"phc2sys" => self.phc2sys(origin, &p, now, sink),
            // Unknown writer: a bare servo line is still recognisable.
            b"" => match self.ptp4l(origin, &p, now, sink) {
                Ingest::Ignored => self.phc2sys(origin, &p, now, sink),
                r => r,
            },
            _ => Ingest::Ignored,
        }
    }

    fn ptp4l(&mut self, origin: &Origin, p: &Prefix<'_>, now: Instant, sink: &dyn Sink) -> Ingest {
        let line = match ptp4l::parse(p.message) {
            Ok(Some(l)) => l,
            Ok(None) => return Ingest::Ignored,
            Err(_) => return Ingest::Invalid,
        };
        let Some(i) = self.place(origin, p, b"ptp4l") else {
            return Ingest::Invalid;
        };
        if self.instances[i].master.is_none() {
            self.instances[i].master = Some(self.master_clock(i));
        }
        let (node, metrics, th) = (&self.node, &self.metrics, self.thresholds);
        let inst = &mut self.instances[i];
        let Some(clock) = inst.master.as_mut() else {
            return Ingest::Ignored;
        };
        let (name, iface) = (&inst.name, inst.iface.as_deref());
        // Label values are resolved on the clock's first line only.
        let s = series(clock, 0, || {
            metrics.servo("master", "ptp4l", node, &leaf(name, iface))
        });
        let o = match line {
            ptp4l::Line::Rms(r) => {
                set_rms(s, &r);
                return Ingest::Used;
            }
            ptp4l::Line::Offset(o) => o,
        };
        set_offset(s, &o);
        let (incoming, cause) = servo_state(&o);
        if let Some(state) = clock.apply(incoming, o.offset, cause, &th, now) {
            let ev = clock_event(EventKind::LockState, clock, state);
            self.publish(ev, sink);
        }
        Ingest::Used
    }

    fn phc2sys(
        &mut self,
        origin: &Origin,
        p: &Prefix<'_>,
        now: Instant,
        sink: &dyn Sink,
    ) -> Ingest {
        let line = match phc2sys::parse(p.message) {
            Ok(Some(l)) => l,
            Ok(None) => return Ingest::Ignored,
            Err(_) => return Ingest::Invalid,
        };
        let Some(i) = self.place(origin, p, b"phc2sys") else {
            return Ingest::Invalid;
        };
        if self.instances[i].realtime.is_none() {
            self.instances[i].realtime = Some(self.realtime_clock());
        }
        let (node, metrics, th) = (&self.node, &self.metrics, self.thresholds);
        let inst = &mut self.instances[i];
        let e1 = inst.master.as_ref().and_then(Clock::state);
        let Some(clock) = inst.realtime.as_mut() else {
            return Ingest::Ignored;
        };
        let (from, o) = match line {
            phc2sys::Line::Rms(r) => {
                let s = series(clock, 0, || metrics.servo("phc", "phc2sys", node, REALTIME));
                set_rms(s, &r);
                return Ingest::Used;
            }
            phc2sys::Line::Offset(from, o) => (from, o),
        };
        let slot = usize::from(from == phc2sys::From::Sys);
        let s = series(clock, slot, || {
            metrics.servo(from.as_str(), "phc2sys", node, REALTIME)
        });
        set_offset(s, &o);
        let (own, cause) = servo_state(&o);
        // E3 = worst(phc2sys, E1) (§3.5, O-RAN Table 37); LOCKED E1 changes
        // nothing, so this is the plain worst.
        let (incoming, cause) = match e1 {
            Some(e1) if e1 > own => (e1, Cause::Derived),
            _ => (own, cause),
        };
        if let Some(state) = clock.apply(incoming, o.offset, cause, &th, now) {
            let ev = clock_event(EventKind::OsClockSyncState, clock, state);
            self.publish(ev, sink);
        }
        Ingest::Used
    }

    /// `PTP_PROCESS_STATUS:N` (§3.7): metrics; a dead ptp4l frees its main
    /// clock, a dead phc2sys CLOCK_REALTIME, at once.
    fn process_status(
        &mut self,
        origin: &Origin,
        p: &Prefix<'_>,
        process: &[u8],
        up: bool,
        now: Instant,
        sink: &dyn Sink,
    ) -> Ingest {
        let Ok(proc_name) = std::str::from_utf8(process) else {
            return Ingest::Invalid;
        };
        if proc_name.is_empty() {
            return Ingest::Invalid;
        }
        let Some(i) = self.place(origin, p, process) else {
            return Ingest::Invalid;
        };
        let labels = [proc_name, &self.node, &self.instances[i].name];
        self.metrics
            .process_status
            .with_label_values(&labels)
            .set(i64::from(up));
        if up {
            self.metrics
                .process_restart_count
                .with_label_values(&labels)
                .inc();
            return Ingest::Used;
        }
        let (th, inst) = (self.thresholds, &mut self.instances[i]);
        let (kind, clock) = match process {
            b"ptp4l" => (EventKind::LockState, inst.master.as_mut()),
            b"phc2sys" => (EventKind::OsClockSyncState, inst.realtime.as_mut()),
            _ => return Ingest::Used,
        };
        if let Some(c) = clock {
            let offset = c.offset();
            if let Some(state) = c.apply(SyncState::Freerun, offset, Cause::Own, &th, now) {
                let ev = clock_event(kind, c, state);
                self.publish(ev, sink);
            }
        }
        Ingest::Used
    }

    /// Fires timers that are due: HOLDOVER past its timeout becomes FREERUN,
    /// with an event (the anchor's timer did this too).
    pub fn tick(&mut self, now: Instant, sink: &dyn Sink) {
        let mut events = Vec::new();
        for inst in &mut self.instances {
            for (kind, clock) in [
                (EventKind::LockState, inst.master.as_mut()),
                (EventKind::OsClockSyncState, inst.realtime.as_mut()),
            ] {
                if let Some(c) = clock
                    && c.expire(now)
                {
                    events.push(clock_event(kind, c, SyncState::Freerun));
                }
            }
        }
        for ev in events {
            self.publish(ev, sink);
        }
    }

    /// The earliest timer deadline, if any.
    #[must_use]
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clocks().filter_map(Clock::deadline).min()
    }

    /// Forgets all clock state (`CMD RESTART`).
    pub fn reset(&mut self) {
        self.instances.clear();
        self.sync.reset();
    }

    #[must_use]
    pub fn snapshot(&self, kind: EventKind) -> Snapshot {
        if !self.clocks().any(|c| c.state().is_some()) {
            return Snapshot::NotSet;
        }
        let values: Vec<DataValue> = match kind {
            EventKind::SyncState => match self.node_state() {
                Some(s) => vec![DataValue::state(kind.address(&self.node), s)],
                None => Vec::new(),
            },
            EventKind::LockState | EventKind::OsClockSyncState => self
                .instances
                .iter()
                .filter_map(|i| {
                    if kind == EventKind::LockState {
                        i.master.as_ref()
                    } else {
                        i.realtime.as_ref()
                    }
                })
                .filter_map(|c| c.state().map(|s| (c, s)))
                .flat_map(|(c, s)| clock_values(c, s))
                .collect(),
            _ => Vec::new(),
        };
        if values.is_empty() {
            Snapshot::NotFound
        } else {
            Snapshot::Values(values)
        }
    }

    fn clocks(&self) -> impl Iterator<Item = &Clock> {
        self.instances
            .iter()
            .flat_map(|i| [i.master.as_ref(), i.realtime.as_ref()])
            .flatten()
    }

    /// The worst of every main clock and CLOCK_REALTIME (§3.8).
    fn node_state(&self) -> Option<SyncState> {
        worst(self.clocks().filter_map(Clock::state))
    }

    /// Sends `ev`, then the sync-state if that changed with it.
    fn publish(&mut self, ev: Event, sink: &dyn Sink) {
        sink.publish(ev);
        if let Some(s) = self.sync.update(self.node_state()) {
            let addr = EventKind::SyncState.address(&self.node);
            sink.publish(Event::new(
                EventKind::SyncState,
                vec![DataValue::state(addr, s)],
            ));
        }
    }

    /// The instance of a line: its tag, else the connection's config, else
    /// the process name. An untagged phc2sys follows the plain ptp4l, so
    /// its E3 sees that ptp4l's E1.
    fn place(&mut self, origin: &Origin, p: &Prefix<'_>, process: &[u8]) -> Option<usize> {
        let name = match (p.config, &origin.config) {
            (Some(c), _) => c,
            (None, Some(c)) => c.as_bytes(),
            (None, None) if process == b"phc2sys" => b"ptp4l",
            (None, None) => process,
        };
        let name = std::str::from_utf8(name).ok()?;
        Some(self.instance(name))
    }

    fn instance(&mut self, name: &str) -> usize {
        if let Some(i) = self.instances.iter().position(|i| &*i.name == name) {
            return i;
        }
        self.instances.push(Instance {
            name: name.into(),
            iface: None,
            master: None,
            realtime: None,
        });
        self.instances.len() - 1
    }

    fn master_clock(&self, i: usize) -> Clock {
        let inst = &self.instances[i];
        let leaf = leaf(&inst.name, inst.iface.as_deref());
        let gauge = self
            .metrics
            .clock_state
            .with_label_values(&["ptp4l", &self.node, &leaf]);
        Clock::new(format!("{NODE_PREFIX}{}/{leaf}/master", self.node), gauge)
    }

    fn realtime_clock(&self) -> Clock {
        let gauge = self
            .metrics
            .clock_state
            .with_label_values(&["phc2sys", &self.node, REALTIME]);
        Clock::new(format!("{NODE_PREFIX}{}/{REALTIME}", self.node), gauge)
    }
}

/// The address segment naming an instance's main clock: the interface
/// alias, else the config (or process) name.
fn leaf(name: &str, iface: Option<&str>) -> String {
    iface.map_or_else(|| name.to_owned(), alias)
}

/// The servo token's state, HOLDOVER for a line without path delay (§3.3).
fn servo_state(o: &ptp4l::Offset) -> (SyncState, Cause) {
    match o.delay {
        None => (SyncState::Holdover, Cause::Own),
        Some(_) => (o.servo.state(), Cause::Own),
    }
}

fn series(
    clock: &mut Clock,
    slot: usize,
    resolve: impl FnOnce() -> ServoSeries,
) -> &mut ServoSeries {
    clock.series[slot].get_or_insert_with(resolve)
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

/// Notification (state) and metric (offset) at the clock's address (§2.4).
fn clock_values(c: &Clock, s: SyncState) -> [DataValue; 2] {
    [
        DataValue::state(c.address.clone(), s),
        DataValue::metric(c.address.clone(), c.offset()),
    ]
}

fn clock_event(kind: EventKind, c: &Clock, s: SyncState) -> Event {
    Event::new(kind, clock_values(c, s).into())
}
