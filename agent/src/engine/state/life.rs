//! Which instance a fact belongs to, and a daemon's start and death.
//!
//! A ptp4l the source knows by pid (eBPF) is its own instance: two daemons
//! are two instances even when their configs share a name, and the lines,
//! clock calls and exit of one process always land on the same instance,
//! whatever its `message_tag` says. Other processes (phc2sys, ts2phc) and
//! the log socket's lines are placed by config name or tag, preferring an
//! instance in the writer's own pid namespace, then a live one.

use super::super::parse::Prefix;
use super::super::{Daemon, Origin, Pid, Sink};
use super::instance::Instance;
use super::{Cx, Engine, Ingest, MAX_INSTANCES, same_instance};
use crate::metrics::Family;

impl Engine {
    /// The instance of ptp4l `d`, made (or taken over) on first sight.
    pub(super) fn daemon_instance(&mut self, origin: &Origin, d: Pid) -> Option<usize> {
        if let Some(i) = self.instances.iter().position(|x| x.daemon == Some(d)) {
            return Some(i);
        }
        let name = origin.config.as_deref().unwrap_or("ptp4l");
        // Its own dead predecessor (a restart under the same config in the
        // same pid namespace keeps its addresses and state), or an instance
        // other processes' lines made before this ptp4l was known.
        let reuse = self.instances.iter().position(|x| {
            same_instance(&x.name, name.as_bytes())
                && x.daemon.is_none_or(|p| x.dead && p.ns == d.ns)
        });
        let i = match reuse {
            Some(i) => i,
            None => {
                if !self.room() {
                    return None;
                }
                self.instances.push(Instance::new(name.into()));
                self.instances.len() - 1
            }
        };
        let inst = &mut self.instances[i];
        inst.daemon = Some(d);
        inst.dead = false;
        Some(i)
    }

    /// The instance named `name` (its config or tag), best first: same pid
    /// namespace as the writer, then alive.
    pub(super) fn find_named(&self, name: &[u8], origin: &Origin) -> Option<usize> {
        let ns = origin.daemon.map(|d| d.ns);
        self.instances
            .iter()
            .enumerate()
            .rev()
            .filter(|(_, x)| {
                same_instance(&x.name, name)
                    || x.tag.as_deref().is_some_and(|t| same_instance(t, name))
            })
            .max_by_key(|(_, x)| (ns.is_some() && x.daemon.map(|d| d.ns) == ns, !x.dead))
            .map(|(i, _)| i)
    }

    /// Whether one more instance fits; makes room by forgetting a dead one.
    pub(super) fn room(&mut self) -> bool {
        if self.instances.len() < MAX_INSTANCES {
            return true;
        }
        let Some(i) = self.instances.iter().position(|x| x.dead) else {
            return false;
        };
        let mut gone = self.instances.remove(i);
        gone.series.remove_all(&self.metrics);
        true
    }

    /// A daemon came up: a ptp4l names its interfaces, tag and profile; the
    /// process metric says it is up.
    pub(super) fn started(&mut self, origin: &Origin, d: &Daemon<'_>, sink: &dyn Sink) -> Ingest {
        let process: &[u8] = origin.process.as_deref().map_or(b"", str::as_bytes);
        let p = Prefix {
            process,
            config: None,
            message: b"",
        };
        let Some(i) = self.place(origin, &p, process) else {
            return Ingest::Invalid;
        };
        if process == b"ptp4l" && origin.daemon.is_some() {
            let inst = &mut self.instances[i];
            inst.explicit_iface = d.ifaces.first().map(|f| f.as_str().into());
            inst.ifaces = d.ifaces.iter().map(|f| f.as_str().into()).collect();
            inst.tag = d.tag.map(Into::into);
            inst.profile = d.profile.map(Into::into);
            self.rebuild_aliases();
            self.refresh(i);
        }
        let cx = Cx {
            origin,
            prefix: &p,
            process,
            now: std::time::Instant::now(),
            sink,
        };
        self.process_status(i, &cx, true)
    }

    /// The instance a fact about an existing daemon belongs to; `None`
    /// when the engine never knew it (nothing to change).
    pub(super) fn existing(&self, origin: &Origin, process: &[u8]) -> Option<usize> {
        if let Some(d) = origin.daemon
            && process == b"ptp4l"
        {
            return self.instances.iter().position(|x| x.daemon == Some(d));
        }
        let name: &[u8] = match (&origin.config, process) {
            (Some(c), _) => c.as_bytes(),
            (None, b"ptp4l" | b"phc2sys" | b"ts2phc" | b"") => b"ptp4l",
            (None, p) => p,
        };
        self.find_named(name, origin)
    }

    /// A dead ptp4l: no clock class and no port roles remain (they were
    /// the daemon's word, and it says nothing any more); an instance that
    /// never published anything is forgotten.
    pub(super) fn ptp4l_died(&mut self, i: usize) {
        let metrics = &self.metrics;
        let inst = &mut self.instances[i];
        inst.dead = true;
        inst.last_servo = None;
        inst.class = None;
        inst.series.remove_family(Family::ClockClass, metrics);
        inst.series.remove_family(Family::InterfaceRole, metrics);
        for p in &mut inst.ports {
            p.role = None;
            p.state = None;
            p.gauge = None;
        }
        if !inst.has_state() {
            let mut gone = self.instances.remove(i);
            gone.series.remove_all(metrics);
        }
    }
}
