//! One linuxptp instance (a `ptp4l.N.config`, with its phc2sys and ts2phc)
//! and the clocks and ports it has.

use prometheus::IntGauge;

use super::super::clock::{Clock, Thresholds};
use std::time::Instant;

use super::super::Pid;
use super::super::parse::port::{PortState, Role};
use super::super::profiles::ConfigInfo;
use super::REALTIME;
use crate::event::{DataValue, Event, EventKind, NODE_PREFIX, SyncState};
use crate::metrics::{Family, PtpMetrics, SeriesSet, ServoSeries};

pub(super) struct Port {
    pub port: u16,
    pub iface: Box<str>,
    pub role: Option<Role>,
    /// The last state seen (log line or management socket).
    pub state: Option<PortState>,
    pub gauge: Option<IntGauge>,
}

/// A GNSS receiver's last published O-RAN value.
pub(super) struct Gnss {
    pub iface: Box<str>,
    pub address: String,
    pub value: Option<&'static str>,
    pub offset: i64,
    pub fix: i64,
    pub gauges: [IntGauge; 3],
}

pub(super) struct Dpll {
    pub iface: Box<str>,
    /// offset, clock_state, frequency, phase, pps status.
    pub gauges: [IntGauge; 5],
}

/// One SyncE port of a synce4l device.
pub(super) struct Synce {
    pub device: Box<str>,
    pub iface: Box<str>,
    pub state: Option<SyncState>,
    pub quality: Option<(u8, u8)>,
    pub gauge: IntGauge,
}

pub(super) struct Instance {
    /// The config file name (`ptp4l.0.config`, `slave.cfg`), or `ptp4l`
    /// for a ptp4l without config or an untagged line.
    pub name: Box<str>,
    /// The ptp4l process this instance is, when the source knows it.
    pub daemon: Option<Pid>,
    /// Its config's `message_tag` as a config name: other processes'
    /// lines with that tag join this instance.
    pub tag: Option<Box<str>>,
    /// Its config's `#profile:` header.
    pub profile: Option<Box<str>>,
    /// The daemon died; its clocks are FREERUN until it comes back.
    pub dead: bool,
    /// When the last servo line (`master offset`, `rms`) came: the
    /// management socket's offset speaks only for a ptp4l that prints none.
    pub last_servo: Option<Instant>,
    pub info: Option<ConfigInfo>,
    pub th: Thresholds,
    /// Set by a source that knows the process's `-i`.
    pub explicit_iface: Option<Box<str>>,
    /// The daemon's interfaces as its source read them: port N is
    /// `ifaces[N - 1]` when no profile says otherwise.
    pub ifaces: Vec<Box<str>>,
    /// The address segment of the main clock: its interface's alias, else
    /// the instance name.
    pub leaf: Box<str>,
    /// ptp4l's servo (E1).
    pub master: Option<Clock>,
    /// CLOCK_REALTIME (E3), from phc2sys or chronyd.
    pub realtime: Option<Clock>,
    /// The daemon's T-GM state.
    pub gm: Option<Clock>,
    /// The daemon's T-BC state.
    pub tbc: Option<Clock>,
    /// ts2phc per interface.
    pub ts2phc: Vec<(Box<str>, Clock)>,
    pub dpll: Vec<Dpll>,
    /// ts2phc's `nmea_status` per interface.
    pub nmea: Vec<(Box<str>, IntGauge)>,
    pub gnss: Vec<Gnss>,
    pub synce: Vec<Synce>,
    pub ports: Vec<Port>,
    pub class: Option<u8>,
    pub series: SeriesSet,
}

impl Instance {
    pub(super) fn new(name: Box<str>) -> Self {
        Self {
            leaf: name.clone(),
            name,
            daemon: None,
            tag: None,
            profile: None,
            dead: false,
            last_servo: None,
            info: None,
            th: Thresholds::default(),
            explicit_iface: None,
            ifaces: Vec::new(),
            master: None,
            realtime: None,
            gm: None,
            tbc: None,
            ts2phc: Vec::new(),
            dpll: Vec::new(),
            nmea: Vec::new(),
            gnss: Vec::new(),
            synce: Vec::new(),
            ports: Vec::new(),
            class: None,
            series: SeriesSet::default(),
        }
    }

    /// Whether anything of this instance was ever published or stored
    /// (a daemon that dies before that leaves nothing behind).
    pub(super) fn has_state(&self) -> bool {
        self.clocks().any(|(_, c)| c.state().is_some())
            || self.class.is_some()
            || self.ports.iter().any(|p| p.role.is_some())
            || !self.gnss.is_empty()
            || !self.synce.is_empty()
    }

    /// A T-BC profile: T-BC-STATUS is authoritative, ptp4l is metrics only.
    pub(super) fn is_tbc(&self) -> bool {
        self.info.as_ref().is_some_and(|c| c.tbc)
    }

    /// Every clock, with the event kind it publishes (`None`: metrics only).
    pub(super) fn clocks(&self) -> impl Iterator<Item = (Option<EventKind>, &Clock)> {
        let (tbc, gm) = (self.is_tbc(), self.gm.is_some());
        let lock = Some(EventKind::LockState);
        self.master
            .iter()
            .map(move |c| ((!tbc).then_some(EventKind::LockState), c))
            .chain(
                self.realtime
                    .iter()
                    .map(|c| (Some(EventKind::OsClockSyncState), c)),
            )
            .chain(self.gm.iter().map(move |c| (lock, c)))
            .chain(self.tbc.iter().map(move |c| (lock, c)))
            .chain(
                self.ts2phc
                    .iter()
                    .map(move |(_, c)| ((!gm).then_some(EventKind::LockState), c)),
            )
    }

    pub(super) fn clocks_mut(&mut self) -> impl Iterator<Item = (Option<EventKind>, &mut Clock)> {
        let (tbc, gm) = (self.is_tbc(), self.gm.is_some());
        let lock = Some(EventKind::LockState);
        self.master
            .iter_mut()
            .map(move |c| ((!tbc).then_some(EventKind::LockState), c))
            .chain(
                self.realtime
                    .iter_mut()
                    .map(|c| (Some(EventKind::OsClockSyncState), c)),
            )
            .chain(self.gm.iter_mut().map(move |c| (lock, c)))
            .chain(self.tbc.iter_mut().map(move |c| (lock, c)))
            .chain(
                self.ts2phc
                    .iter_mut()
                    .map(move |(_, c)| ((!gm).then_some(EventKind::LockState), c)),
            )
    }

    /// E1 as E3 sees it: a T-GM forces FREERUN only when the GM is
    /// FREERUN; a T-BC's state is T-BC-STATUS; else ptp4l's.
    pub(super) fn e1(&self) -> Option<SyncState> {
        if let Some(gm) = &self.gm {
            return gm.state().filter(|s| *s == SyncState::Freerun);
        }
        if self.is_tbc() {
            return self.tbc.as_ref().and_then(Clock::state);
        }
        self.master.as_ref().and_then(Clock::state)
    }

    /// The address of the main clock for clock class (GM > T-BC > master).
    pub(super) fn class_address(&self, node: &str) -> String {
        self.gm
            .as_ref()
            .or(self.tbc.as_ref())
            .map_or_else(|| master_address(node, &self.leaf), |c| c.address.clone())
    }

    /// ptp4l's clock under the (new) leaf; the old series go.
    pub(super) fn readdress(&mut self, m: &PtpMetrics, node: &str) {
        let Some(old) = self.master.take() else {
            return;
        };
        let old_leaf = address_leaf(&old.address);
        let _ = m
            .clock_state
            .remove_label_values(&["ptp4l", node, old_leaf]);
        for v in [&m.offset, &m.max_offset, &m.frequency, &m.delay] {
            let _ = v.remove_label_values(&["master", "ptp4l", node, old_leaf]);
        }
        let mut c = self.master_clock(m, node);
        c.adopt(&old);
        self.master = Some(c);
    }

    pub(super) fn master_clock(&mut self, m: &PtpMetrics, node: &str) -> Clock {
        let address = master_address(node, &self.leaf);
        make_clock(m, &mut self.series, node, "ptp4l", &self.leaf, address)
    }
}

pub(super) fn master_address(node: &str, leaf: &str) -> String {
    format!("{NODE_PREFIX}{node}/{leaf}/master")
}

/// The `<leaf>` of a `.../<leaf>/master` address.
fn address_leaf(address: &str) -> &str {
    address.rsplit('/').nth(1).unwrap_or_default()
}

/// CLOCK_REALTIME's clock in `slot`, made as `process`'s on first use.
pub(super) fn realtime_clock<'c>(
    slot: &'c mut Option<Clock>,
    m: &PtpMetrics,
    series: &mut SeriesSet,
    node: &str,
    process: &str,
) -> &'c mut Clock {
    slot.get_or_insert_with(|| {
        let address = format!("{NODE_PREFIX}{node}/{REALTIME}");
        make_clock(m, series, node, process, REALTIME, address)
    })
}

/// A clock whose `openshift_ptp_clock_state{process,node,label}` is
/// recorded for removal with the instance.
pub(super) fn make_clock(
    m: &PtpMetrics,
    series: &mut SeriesSet,
    node: &str,
    process: &str,
    label: &str,
    address: String,
) -> Clock {
    let labels = [process, node, label];
    series.add(Family::ClockState, &labels);
    Clock::new(address, m.clock_state.with_label_values(&labels))
}

/// The servo gauges of `clock` in `slot`, resolved on first use only.
pub(super) fn servo<'c>(
    clock: &'c mut Clock,
    slot: usize,
    series: &mut SeriesSet,
    m: &PtpMetrics,
    labels: [&str; 4],
) -> &'c mut ServoSeries {
    clock.series[slot].get_or_insert_with(|| {
        series.add(Family::Servo, &labels);
        m.servo(labels[0], labels[1], labels[2], labels[3])
    })
}

/// Like [`servo`], labelled by the clock's own leaf (`<alias>/master`).
pub(super) fn servo_leaf<'c>(
    clock: &'c mut Clock,
    series: &mut SeriesSet,
    m: &PtpMetrics,
    from: &str,
    process: &str,
    node: &str,
) -> &'c mut ServoSeries {
    let leaf = address_leaf(&clock.address);
    clock.series[0].get_or_insert_with(|| {
        series.add(Family::Servo, &[from, process, node, leaf]);
        m.servo(from, process, node, leaf)
    })
}

/// Notification (state) and metric (offset) at the clock's address.
pub(super) fn clock_values(c: &Clock, s: SyncState) -> [DataValue; 2] {
    [
        DataValue::state(c.address.clone(), s),
        DataValue::metric(c.address.clone(), c.offset()),
    ]
}

pub(super) fn clock_event(kind: EventKind, c: &Clock, s: SyncState) -> Event {
    Event::new(kind, clock_values(c, s).into())
}
