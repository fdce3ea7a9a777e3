//! The engine proper: instances (one per running ptp4l the source knows by
//! pid; else one per config, or per bare process name for an untagged
//! linuxptp), each with its clocks, and the node's sync-state. One file per
//! line family handles its messages; `life.rs` places facts on instances
//! and handles a daemon's start and death, `mgmt.rs` the facts read from
//! its management socket.

mod daemon;
mod instance;
mod life;
mod mgmt;
mod other;
mod port;
mod servo;
mod snapshot;

use std::time::Instant;

use instance::Instance;

use super::alias::{AliasMap, phc_of};
use super::clock::{Clock, Thresholds};
use super::node::{SyncTracker, worst};
use super::parse::{self, Msg, Prefix};
use super::profiles::file::is_config_name;
use super::profiles::{ConfigInfo, ProfileSet};
use super::{Origin, Sink, What};
use crate::event::{DataValue, Event, EventKind, SyncState};
use crate::metrics::PtpMetrics;

/// What the engine made of a line (for the source's counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ingest {
    /// It changed state or metrics.
    Used,
    /// Well formed but of no use here (other processes, info lines...).
    Ignored,
    /// Not UTF-8 where it matters, or a known family with bad fields.
    Invalid,
}

pub struct Engine {
    node: String,
    defaults: Thresholds,
    metrics: PtpMetrics,
    profiles: ProfileSet,
    aliases: AliasMap,
    /// Few (one per config): a linear search beats hashing.
    instances: Vec<Instance>,
    sync: SyncTracker,
}

/// Offset reported for a clock whose process died.
pub(crate) const DEAD_OFFSET: i64 = -9_999_999_999_999_999;
const REALTIME: &str = "CLOCK_REALTIME";

impl Engine {
    /// An engine for `node`; `defaults` are the thresholds of instances
    /// without a known profile.
    #[must_use]
    pub fn new(node: String, defaults: Thresholds, metrics: PtpMetrics) -> Self {
        Self {
            node,
            defaults,
            metrics,
            profiles: ProfileSet::default(),
            aliases: AliasMap::default(),
            instances: Vec::new(),
            sync: SyncTracker::default(),
        }
    }

    #[must_use]
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Names the main clock's interface of `config` (a source that knows
    /// the interface but not the process): values are then addressed by
    /// its alias.
    pub fn set_interface(&mut self, config: &str, iface: &str) {
        let i = self.instance(config.as_bytes());
        self.instances[i].explicit_iface = Some(iface.into());
        self.refresh(i);
    }

    /// Replaces the profiles: thresholds, interfaces and aliases of every
    /// instance. Instances whose config went away are dropped with their
    /// metric series.
    pub fn set_profiles(&mut self, set: ProfileSet, sink: &dyn Sink) {
        for (name, _) in &self.profiles.thresholds {
            if !set.thresholds.iter().any(|(n, _)| n == name) {
                for t in THRESHOLDS {
                    let _ = self
                        .metrics
                        .threshold
                        .remove_label_values(&[t, &self.node, name]);
                }
            }
        }
        for (name, th) in &set.thresholds {
            let holdover = i64::try_from(th.holdover.as_secs()).unwrap_or(i64::MAX);
            for (t, v) in THRESHOLDS
                .iter()
                .zip([th.min_offset, th.max_offset, holdover])
            {
                self.metrics
                    .threshold
                    .with_label_values(&[t, self.node.as_str(), name])
                    .set(v);
            }
        }
        let old = std::mem::replace(&mut self.profiles, set);
        self.rebuild_aliases();
        let (metrics, new) = (&self.metrics, &self.profiles);
        self.instances.retain_mut(|inst| {
            let gone = lookup(&old, &inst.name).is_some() && lookup(new, &inst.name).is_none();
            if gone {
                inst.series.remove_all(metrics);
            }
            !gone
        });
        for i in 0..self.instances.len() {
            self.refresh(i);
        }
        self.publish_sync(sink);
    }

    /// One fact of `origin`'s daemon that happened `at`.
    pub fn apply(
        &mut self,
        origin: &Origin,
        at: Instant,
        what: What<'_>,
        sink: &dyn Sink,
    ) -> Ingest {
        match what {
            What::Line(line) => self.ingest_line(origin, line, at, sink),
            What::Started(d) => self.started(origin, &d, sink),
            other => self.fact(origin, at, other, sink),
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
        let msg = match parse::message(process, p.message) {
            Ok(Msg::Other) => return Ingest::Ignored,
            Ok(m) => m,
            Err(_) => return Ingest::Invalid,
        };
        let Some(i) = self.place(origin, &p, process) else {
            return Ingest::Invalid;
        };
        let cx = Cx {
            origin,
            prefix: &p,
            process,
            now,
            sink,
        };
        match msg {
            Msg::ProcessStatus(up) => self.process_status(i, &cx, up),
            Msg::ClockClass(c) => self.clock_class(i, &cx, c),
            Msg::Ptp4l(l) => self.ptp4l(i, l, &cx),
            Msg::Port(l) => self.port(i, &l, &cx),
            Msg::Phc2sys(l) => self.phc2sys(i, l, &cx),
            Msg::HaProfile(p, up) => self.ha_profile(p, up),
            Msg::Ts2phc(l) => self.ts2phc(i, l, &cx),
            Msg::Gm(g) => self.gm(i, g, &cx),
            Msg::Tbc(t) => self.tbc(i, t, &cx),
            Msg::Dpll(d) => self.dpll(i, &d),
            Msg::Gnss(g) => self.gnss(i, &g, &cx),
            Msg::Synce(s) => self.synce(i, &s, &cx),
            Msg::Chronyd(ok) => self.chronyd(i, ok, &cx),
            Msg::Other => Ingest::Ignored,
        }
    }

    /// Fires timers that are due: HOLDOVER past its timeout becomes FREERUN,
    /// with an event (the anchor's timer did this too).
    pub fn tick(&mut self, now: Instant, sink: &dyn Sink) {
        let mut events = Vec::new();
        for inst in &mut self.instances {
            for (kind, c) in inst.clocks_mut() {
                if c.expire(now)
                    && let Some(kind) = kind
                {
                    events.push(instance::clock_event(kind, c, SyncState::Freerun));
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
        self.instances
            .iter()
            .flat_map(Instance::clocks)
            .filter_map(|(_, c)| c.deadline())
            .min()
    }

    /// The profiles in force.
    #[must_use]
    pub fn profiles(&self) -> &ProfileSet {
        &self.profiles
    }

    /// Whether the instance of `config` is a ptp4l's: it printed ptp4l's
    /// servo or port lines (only ptp4l prints those). What lets the
    /// management-socket follower take a config of any name for a ptp4l's.
    #[must_use]
    pub fn is_ptp4l(&self, config: &str) -> bool {
        self.instances.iter().any(|i| {
            &*i.name == config && i.daemon.is_none() && (i.master.is_some() || !i.ports.is_empty())
        })
    }

    /// How many instances the engine tracks (tests, diagnostics).
    #[must_use]
    pub fn instance_count(&self) -> usize {
        self.instances.len()
    }

    /// Forgets all clock state (`CMD RESTART`); profiles stay.
    pub fn reset(&mut self) {
        self.instances.clear();
        self.sync.reset();
    }

    /// Input was lost (the eBPF ring buffer was full): every clock's next
    /// reading is published even if its state looks unchanged, so
    /// subscribers converge on what the daemons say now.
    pub fn records_lost(&mut self) {
        for inst in &mut self.instances {
            for (_, c) in inst.clocks_mut() {
                c.mark_uncertain();
            }
        }
    }

    /// Lines of one daemon were dropped before they reached the engine
    /// (over its budget, or a full ring): the clocks it reports may have
    /// changed unseen, so each one's next reading is published again, even
    /// unchanged. Other daemons' clocks are left alone.
    pub fn evidence_lost(&mut self, origin: &Origin) {
        let process = origin.process.as_deref().map_or(&b""[..], str::as_bytes);
        let Some(i) = self.existing(origin, process) else {
            return;
        };
        let inst = &mut self.instances[i];
        match process {
            b"phc2sys" => inst.realtime.iter_mut().for_each(Clock::mark_uncertain),
            b"ts2phc" => inst.ts2phc.iter_mut().for_each(|(_, c)| c.mark_uncertain()),
            _ => inst
                .master
                .iter_mut()
                .chain(inst.gm.iter_mut())
                .chain(inst.tbc.iter_mut())
                .for_each(Clock::mark_uncertain),
        }
    }

    /// The worst of every published main clock and CLOCK_REALTIME.
    fn node_state(&self) -> Option<SyncState> {
        worst(
            self.instances
                .iter()
                .flat_map(Instance::clocks)
                .filter(|(k, _)| k.is_some())
                .filter_map(|(_, c)| c.state()),
        )
    }

    /// Sends `ev`, then the sync-state if that changed with it.
    fn publish(&mut self, ev: Event, sink: &dyn Sink) {
        sink.publish(ev);
        self.publish_sync(sink);
    }

    fn publish_sync(&mut self, sink: &dyn Sink) {
        if let Some(s) = self.sync.update(self.node_state()) {
            let addr = EventKind::SyncState.address(&self.node);
            sink.publish(Event::new(
                EventKind::SyncState,
                vec![DataValue::state(addr, s)],
            ));
        }
    }

    /// The instance of a line: its tag, else the connection's config, else
    /// the process name. Untagged phc2sys and ts2phc join the plain ptp4l,
    /// so E3 sees that ptp4l's E1.
    fn place(&mut self, origin: &Origin, p: &Prefix<'_>, process: &[u8]) -> Option<usize> {
        // A ptp4l the source knows by pid is its own instance, whatever its
        // config or tag say.
        if let Some(d) = origin.daemon
            && process == b"ptp4l"
        {
            return self.daemon_instance(origin, d);
        }
        let name = match (p.config, &origin.config) {
            (Some(c), _) => c,
            (None, Some(c)) => c.as_bytes(),
            (None, None) if process == b"phc2sys" || process == b"ts2phc" => b"ptp4l",
            (None, None) if process.is_empty() => b"ptp4l",
            (None, None) => process,
        };
        let tagged = std::str::from_utf8(name).ok()?;
        if let Some(i) = self.find_named(name, origin) {
            return Some(i);
        }
        // Tags are config names: the daemon's, or a config
        // of the config directory (`slave.cfg`); anything else is garbage,
        // and must not grow the instance list. A daemon the source knows
        // (eBPF) may use any config name.
        if origin.daemon.is_none()
            && (p.config.is_some() || origin.config.is_some())
            && !is_config_name(tagged)
            && self.profiles.config(tagged).is_none()
        {
            return None;
        }
        if !self.room() {
            return None;
        }
        Some(self.instance(name))
    }

    /// The instance named `tag` (ts2phc.N.config is ptp4l.N.config),
    /// created on first use.
    fn instance(&mut self, tag: &[u8]) -> usize {
        if let Some(i) = self
            .instances
            .iter()
            .position(|i| same_instance(&i.name, tag))
        {
            return i;
        }
        let name = instance_key(&String::from_utf8_lossy(tag));
        self.instances.push(Instance::new(name.into()));
        let i = self.instances.len() - 1;
        self.refresh(i);
        i
    }

    /// Re-reads an instance's profile; re-addresses its clocks when its
    /// main interface's alias changed.
    fn refresh(&mut self, i: usize) {
        let inst = &self.instances[i];
        // By config name, then message_tag, then a shared interface; the
        // thresholds of a config outside the profiles by its `#profile:`.
        let info = lookup(&self.profiles, &inst.name)
            .or_else(|| inst.tag.as_deref().and_then(|t| lookup(&self.profiles, t)))
            .or_else(|| {
                let f = inst.explicit_iface.as_deref()?;
                self.profiles
                    .configs
                    .iter()
                    .find(|c| c.interfaces.iter().any(|x| x == f))
            })
            .cloned();
        let by_profile = inst.profile.as_deref().and_then(|p| {
            self.profiles
                .thresholds
                .iter()
                .find(|(n, _)| n == p)
                .map(|(_, t)| *t)
        });
        let inst = &mut self.instances[i];
        inst.th = info
            .as_ref()
            .map(|c| c.thresholds)
            .or(by_profile)
            .unwrap_or(self.defaults);
        let iface = info
            .as_ref()
            .and_then(|c| c.interfaces.first().map(|s| Box::from(s.as_str())))
            .or_else(|| inst.explicit_iface.clone());
        let leaf: Box<str> = match &iface {
            Some(f) => self.aliases.get(f).into(),
            None => inst.name.clone(),
        };
        inst.info = info;
        if leaf != inst.leaf {
            inst.leaf = leaf;
            inst.readdress(&self.metrics, &self.node);
        }
    }

    /// Aliases over the profiles' ports and those of the daemons the
    /// source knows (each its own PHC unless sysfs says otherwise), so two
    /// daemons' interfaces never share an alias by the naming rule alone.
    fn rebuild_aliases(&mut self) {
        let mut ports: Vec<(String, String)> = self
            .profiles
            .configs
            .iter()
            .flat_map(|c| {
                let key = instance_key(&c.config);
                c.interfaces
                    .iter()
                    .map(move |i| (phc_of(i).unwrap_or_else(|| key.clone()), i.clone()))
            })
            .collect();
        for inst in &self.instances {
            let Some(d) = inst.daemon else {
                continue;
            };
            for f in &inst.ifaces {
                if ports.iter().any(|(_, i)| **i == **f) {
                    continue;
                }
                let key = phc_of(f).unwrap_or_else(|| format!("pid {}:{}", d.ns, d.pid));
                ports.push((key, f.to_string()));
            }
        }
        self.aliases = AliasMap::new(&ports);
        for i in 0..self.instances.len() {
            self.refresh(i);
        }
    }

    /// The alias naming `iface`'s clock.
    fn alias(&self, iface: &[u8]) -> String {
        self.aliases.get(&String::from_utf8_lossy(iface))
    }

    /// Whether some instance runs chronyd (a dead phc2sys then does not
    /// make the OS clock FREERUN).
    fn has_chronyd(&self) -> bool {
        self.instances
            .iter()
            .any(|i| i.name.starts_with("chronyd") || i.info.as_ref().is_some_and(|c| c.chronyd))
    }
}

/// The per-line context the handlers share.
struct Cx<'a> {
    origin: &'a Origin,
    prefix: &'a Prefix<'a>,
    process: &'a [u8],
    now: Instant,
    sink: &'a dyn Sink,
}

impl Cx<'_> {
    /// The line's config as it was written (the `config` metric label).
    fn config<'b>(&'b self, inst: &'b Instance) -> &'b str {
        self.prefix
            .config
            .and_then(|c| std::str::from_utf8(c).ok())
            .or(self.origin.config.as_deref())
            .unwrap_or(&inst.name)
    }
}

/// More configs than any node runs; a bound against garbage.
const MAX_INSTANCES: usize = 64;

const THRESHOLDS: [&str; 3] = [
    "MinOffsetThreshold",
    "MaxOffsetThreshold",
    "HoldOverTimeout",
];

/// `ts2phc.N.config` state is kept under `ptp4l.N.config`, as the anchor does.
fn instance_key(tag: &str) -> String {
    match tag.strip_prefix("ts2phc.") {
        Some(rest) => format!("ptp4l.{rest}"),
        None => tag.to_owned(),
    }
}

/// `instance_key(tag) == name`, without allocating.
fn same_instance(name: &str, tag: &[u8]) -> bool {
    match tag.strip_prefix(b"ts2phc.") {
        Some(rest) => name
            .strip_prefix("ptp4l.")
            .is_some_and(|n| n.as_bytes() == rest),
        None => name.as_bytes() == tag,
    }
}

/// The profile of instance `name`: its config, or the ts2phc config of a
/// T-GM that has no ptp4l config.
fn lookup<'a>(set: &'a ProfileSet, name: &str) -> Option<&'a ConfigInfo> {
    set.config(name).or_else(|| {
        let rest = name.strip_prefix("ptp4l.")?;
        set.config(&format!("ts2phc.{rest}"))
    })
}
