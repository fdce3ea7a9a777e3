use std::fmt;

use cloud_event_client::EventType;

/// Prefix of every node-qualified resource address.
pub(crate) use cloud_event_client::NODE_PREFIX;

/// The event types the agent publishes. The discriminant is an index
/// into per-kind tables, stable for the life of the process only. Their
/// strings are the client library's ([`EventType`]): one owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    SyncState = 0,
    LockState = 1,
    GnssSyncStatus = 2,
    OsClockSyncState = 3,
    SynceLockState = 4,
    ClockClass = 5,
    SynceClockQuality = 6,
}

impl EventKind {
    pub const ALL: [Self; 7] = [
        Self::SyncState,
        Self::LockState,
        Self::GnssSyncStatus,
        Self::OsClockSyncState,
        Self::SynceLockState,
        Self::ClockClass,
        Self::SynceClockQuality,
    ];

    /// The client library's name for this kind.
    #[must_use]
    pub(crate) const fn event_type(self) -> EventType {
        match self {
            Self::SyncState => EventType::SyncState,
            Self::LockState => EventType::LockState,
            Self::GnssSyncStatus => EventType::GnssSyncStatus,
            Self::OsClockSyncState => EventType::OsClockSyncState,
            Self::SynceLockState => EventType::SynceLockState,
            Self::ClockClass => EventType::ClockClass,
            Self::SynceClockQuality => EventType::SynceClockQuality,
        }
    }

    /// The kind of a client library type (every type the library knows is
    /// one the agent publishes).
    #[must_use]
    pub(crate) fn of_type(t: EventType) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.event_type() == t)
    }

    /// The CloudEvent `type`.
    #[must_use]
    pub const fn type_str(self) -> &'static str {
        self.event_type().as_str()
    }

    /// The short O-RAN source, also the suffix of the resource address (v2).
    #[must_use]
    pub const fn source(self) -> &'static str {
        self.event_type().source()
    }

    /// The v1 resource suffix (only clock class differs).
    #[must_use]
    pub const fn v1_source(self) -> &'static str {
        self.event_type().v1_source()
    }

    /// `/cluster/node/<node><source>`: the address consumers subscribe to.
    #[must_use]
    pub fn address(self, node: &str) -> String {
        format!("{NODE_PREFIX}{node}{}", self.source())
    }

    /// The kind whose node-qualified address (v2 or v1 spelling) is `addr`.
    #[must_use]
    pub fn from_address(node: &str, addr: &str) -> Option<Self> {
        let rest = addr.strip_prefix(NODE_PREFIX)?.strip_prefix(node)?;
        Self::ALL
            .into_iter()
            .find(|k| rest == k.source() || rest == k.v1_source())
    }

    #[must_use]
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.source())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for k in EventKind::ALL {
            let a = k.address("n1.example.com");
            assert_eq!(EventKind::from_address("n1.example.com", &a), Some(k));
            assert_eq!(EventKind::from_address("n2", &a), None);
        }
        assert_eq!(
            EventKind::from_address(
                "n1",
                "/cluster/node/n1/sync/ptp-status/ptp-clock-class-change"
            ),
            Some(EventKind::ClockClass)
        );
        assert_eq!(EventKind::from_address("n1", "/cluster/node/n1/sync"), None);
    }
}

impl EventKind {
    /// Whether a subscription to `resource` receives events of this kind:
    /// the exact address (v2 or v1 spelling), or a prefix of the address on a
    /// path boundary (O-RAN hierarchy: `/cluster/node/<node>/sync` gets all).
    #[must_use]
    pub fn matched_by(self, node: &str, resource: &str) -> bool {
        let resource = resource.trim_end_matches('/');
        if resource.is_empty() {
            return false;
        }
        let Some(rest) = resource
            .strip_prefix(NODE_PREFIX)
            .and_then(|r| r.strip_prefix(node))
        else {
            // `/cluster/node` and `/cluster` are prefixes of every address.
            return (NODE_PREFIX.trim_end_matches('/')).starts_with(resource)
                && path_prefix(NODE_PREFIX.trim_end_matches('/'), resource);
        };
        if rest.is_empty() {
            return true;
        }
        path_prefix(self.source(), rest) || rest == self.v1_source()
    }

    /// Kinds a subscription to `resource` receives, in table order.
    pub fn matching(node: &str, resource: &str) -> impl Iterator<Item = Self> {
        let node = node.to_owned();
        let resource = resource.to_owned();
        Self::ALL
            .into_iter()
            .filter(move |k| k.matched_by(&node, &resource))
    }
}

/// `prefix` equals `path` or is a prefix of it ending on a `/` boundary.
fn path_prefix(path: &str, prefix: &str) -> bool {
    path == prefix || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'/'))
}

#[cfg(test)]
mod match_tests {
    use super::*;

    #[test]
    fn exact_and_prefix_subscriptions() {
        let n = "n1";
        let lock = "/cluster/node/n1/sync/ptp-status/lock-state";
        assert!(EventKind::LockState.matched_by(n, lock));
        assert!(!EventKind::ClockClass.matched_by(n, lock));
        let ptp: Vec<_> = EventKind::matching(n, "/cluster/node/n1/sync/ptp-status").collect();
        assert_eq!(ptp, vec![EventKind::LockState, EventKind::ClockClass]);
        assert_eq!(EventKind::matching(n, "/cluster/node/n1/sync").count(), 7);
        assert_eq!(EventKind::matching(n, "/cluster/node/n1/").count(), 7);
        assert_eq!(EventKind::matching(n, "/cluster/node").count(), 7);
        assert_eq!(EventKind::matching(n, "/cluster/node/n12/sync").count(), 0);
        assert_eq!(
            EventKind::matching(n, "/cluster/node/n1/sync/ptp").count(),
            0
        );
        assert_eq!(
            EventKind::matching(n, "/cluster/node/n1/sync/ptp-status/lock-state/x").count(),
            0
        );
        assert_eq!(EventKind::matching(n, "").count(), 0);
        assert_eq!(EventKind::matching(n, "/clu").count(), 0);
        assert!(
            EventKind::ClockClass
                .matched_by(n, "/cluster/node/n1/sync/ptp-status/ptp-clock-class-change")
        );
    }
}
