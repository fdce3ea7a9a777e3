//! CurrentState: every instance's values of one kind in one
//! list. Values carry the same addresses as the push events (the anchor's
//! `/CLOCK_CLASS` suffix and its SyncE re-rendering in CurrentState are
//! not reproduced: push and pull agree here, see docs/engine.md).

use super::super::Snapshot;
use super::Engine;
use super::daemon::gnss_values;
use super::instance::clock_values;
use super::other::synce_quality_values;
use crate::event::{DataValue, EventKind, NODE_PREFIX};

impl Engine {
    #[must_use]
    pub fn snapshot(&self, kind: EventKind) -> Snapshot {
        let has_data = self.instances.iter().any(|i| {
            i.clocks().any(|(k, c)| k.is_some() && c.state().is_some())
                || i.class.is_some()
                || i.gnss.iter().any(|g| g.value.is_some())
                || i.synce
                    .iter()
                    .any(|s| s.state.is_some() || s.quality.is_some())
        });
        if !has_data {
            return Snapshot::NotSet;
        }
        let node = self.node.as_str();
        let mut values: Vec<DataValue> = Vec::new();
        match kind {
            EventKind::SyncState => {
                if let Some(s) = self.node_state() {
                    values.push(DataValue::state(kind.address(node), s));
                }
            }
            EventKind::LockState | EventKind::OsClockSyncState => {
                for inst in &self.instances {
                    for (k, c) in inst.clocks() {
                        if k == Some(kind)
                            && let Some(s) = c.state()
                        {
                            values.extend(clock_values(c, s));
                        }
                    }
                }
            }
            EventKind::ClockClass => {
                for inst in &self.instances {
                    if let Some(c) = inst.class {
                        values.push(DataValue::metric(inst.class_address(node), c));
                    }
                }
            }
            EventKind::GnssSyncStatus => {
                for g in self.instances.iter().flat_map(|i| &i.gnss) {
                    if let Some(v) = g.value {
                        values.extend(gnss_values(&g.address, v, g.offset, g.fix));
                    }
                }
            }
            EventKind::SynceLockState | EventKind::SynceClockQuality => {
                for s in self.instances.iter().flat_map(|i| &i.synce) {
                    let addr = format!("{NODE_PREFIX}{node}/{}/{}", s.device, s.iface);
                    match (kind, s.state, s.quality) {
                        (EventKind::SynceLockState, Some(st), _) => {
                            values.push(DataValue::metric(addr, st));
                        }
                        (EventKind::SynceClockQuality, _, Some((ql, ext))) => {
                            values.extend(synce_quality_values(&addr, ql, ext));
                        }
                        _ => {}
                    }
                }
            }
        }
        if values.is_empty() {
            Snapshot::NotFound
        } else {
            Snapshot::Values(values)
        }
    }
}
