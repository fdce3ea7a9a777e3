//! The engine fed real lines in-process (the anchor's rules and
//! the recorded ptp4l run), with a sink that records what it would publish.

mod anchor;
mod basic;
mod daemon;
mod fuzz;
mod identity;
mod sequences;

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::profiles::{ConfigFile, Profile, ProfileSet};
use super::{Engine, Ingest, Origin, Sink, Thresholds};
use crate::event::{DataType, Event, EventKind};
use crate::metrics::PtpMetrics;

/// Records every published event.
#[derive(Default)]
pub(crate) struct Recorder(pub Mutex<Vec<Event>>);

impl Sink for Recorder {
    fn publish(&self, event: Event) {
        self.0.lock().push(event);
    }
}

impl Recorder {
    /// (kind, address, state, offset) of each event so far, then forgets them.
    pub(crate) fn take(&self) -> Vec<(EventKind, String, String, Option<String>)> {
        std::mem::take(&mut *self.0.lock())
            .into_iter()
            .map(|e| {
                let n = e
                    .values
                    .iter()
                    .find(|v| v.data_type == DataType::Notification)
                    .unwrap();
                let m = e.values.iter().find(|v| v.data_type == DataType::Metric);
                assert!(m.is_none_or(|m| m.resource_address == n.resource_address));
                (
                    e.kind,
                    n.resource_address.clone(),
                    n.value.clone(),
                    m.map(|m| m.value.clone()),
                )
            })
            .collect()
    }

    /// Just the (kind, state) pairs.
    pub(crate) fn states(&self) -> Vec<(EventKind, String)> {
        self.take().into_iter().map(|(k, _, s, _)| (k, s)).collect()
    }
}

pub(super) const NODE: &str = "n1";
pub(super) const LOCK: EventKind = EventKind::LockState;
pub(super) const OS: EventKind = EventKind::OsClockSyncState;
pub(super) const SYNC: EventKind = EventKind::SyncState;

pub(super) struct T {
    pub e: Engine,
    pub r: Recorder,
    pub now: Instant,
    pub metrics: PtpMetrics,
}

impl T {
    pub(super) fn new() -> Self {
        let metrics = PtpMetrics::unregistered().unwrap();
        Self {
            e: Engine::new(NODE.into(), Thresholds::default(), metrics.clone()),
            r: Recorder::default(),
            now: Instant::now(),
            metrics,
        }
    }

    pub(super) fn feed(&mut self, line: &str) -> Ingest {
        self.feed_as(&Origin::default(), line)
    }

    pub(super) fn feed_as(&mut self, origin: &Origin, line: &str) -> Ingest {
        self.e
            .ingest_line(origin, line.as_bytes(), self.now, &self.r)
    }

    pub(super) fn states(&self) -> Vec<(EventKind, String)> {
        self.r.states()
    }

    pub(super) fn gauge(&self, process: &str, iface: &str) -> i64 {
        self.metrics
            .clock_state
            .with_label_values(&[process, NODE, iface])
            .get()
    }
}

pub(super) fn st(kind: EventKind, s: &str) -> (EventKind, String) {
    (kind, s.to_owned())
}

pub(super) const P0: &str = "ptp4l[1.0]: [ptp4l.0.config] ";
pub(super) const C0: &str = "phc2sys[1.0]: [ptp4l.0.config] ";

pub(super) fn ptp(offset: i64, servo: &str) -> String {
    format!("{P0}master offset {offset} {servo} freq -3972 path delay 89")
}

pub(super) fn phc(offset: i64, servo: &str) -> String {
    format!("{C0}CLOCK_REALTIME phc offset {offset} {servo} freq -20217 delay 536")
}

impl T {
    /// Loads config files (name, text) and a profiles JSON.
    pub(super) fn profiles(&mut self, files: &[(&str, &str)], json: &str) {
        let files: Vec<ConfigFile> = files
            .iter()
            .map(|(n, t)| super::profiles::file::parse(n, t).unwrap())
            .collect();
        let profiles: Vec<Profile> = if json.is_empty() {
            Vec::new()
        } else {
            super::profiles::json::parse("p.json", json).unwrap()
        };
        let set = ProfileSet::resolve(files, &profiles, Thresholds::default());
        self.e.set_profiles(set, &self.r);
    }

    /// Moves the clock on by `d` and fires due timers.
    pub(super) fn advance(&mut self, d: Duration) {
        self.now += d;
        self.e.tick(self.now, &self.r);
    }
}
