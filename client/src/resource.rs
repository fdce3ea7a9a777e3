//! Event types and resource addresses (O-RAN O-Cloud Notification API,
//! the PTP/SyncE sync events): types, not strings.

use std::fmt;

/// Prefix of every node-qualified resource address.
pub const NODE_PREFIX: &str = "/cluster/node/";

/// The sync event types a node publishes.
///
/// ```
/// use cloud_event_client::EventType;
/// let t = EventType::LockState;
/// assert_eq!(t.as_str(), "event.sync.ptp-status.ptp-state-change");
/// assert_eq!(t.source(), "/sync/ptp-status/lock-state");
/// assert_eq!(EventType::from_type_str(t.as_str()), Some(t));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum EventType {
    /// The node's overall sync state (worst of all clocks).
    SyncState,
    /// A PTP clock's lock state (LOCKED, HOLDOVER, FREERUN) and offset.
    LockState,
    /// GNSS receiver state (T-GM).
    GnssSyncStatus,
    /// The system clock's sync state (phc2sys) and offset.
    OsClockSyncState,
    /// SyncE lock state.
    SynceLockState,
    /// PTP clock class.
    ClockClass,
    /// SyncE clock quality (QL, extended QL).
    SynceClockQuality,
}

impl EventType {
    /// Every type, in O-RAN table order.
    pub const ALL: [Self; 7] = [
        Self::SyncState,
        Self::LockState,
        Self::GnssSyncStatus,
        Self::OsClockSyncState,
        Self::SynceLockState,
        Self::ClockClass,
        Self::SynceClockQuality,
    ];

    /// The CloudEvent `type` string.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::SyncState => "event.sync.sync-status.synchronization-state-change",
            Self::LockState => "event.sync.ptp-status.ptp-state-change",
            Self::GnssSyncStatus => "event.sync.gnss-status.gnss-state-change",
            Self::OsClockSyncState => "event.sync.sync-status.os-clock-sync-state-change",
            Self::SynceLockState => "event.sync.synce-status.synce-state-change",
            Self::ClockClass => "event.sync.ptp-status.ptp-clock-class-change",
            Self::SynceClockQuality => "event.sync.synce-status.synce-clock-quality-change",
        }
    }

    /// The short O-RAN source (the v2 CloudEvent `source`), also the suffix
    /// of the resource address.
    #[must_use]
    pub const fn source(self) -> &'static str {
        match self {
            Self::SyncState => "/sync/sync-status/sync-state",
            Self::LockState => "/sync/ptp-status/lock-state",
            Self::GnssSyncStatus => "/sync/gnss-status/gnss-sync-status",
            Self::OsClockSyncState => "/sync/sync-status/os-clock-sync-state",
            Self::SynceLockState => "/sync/synce-status/lock-state",
            Self::ClockClass => "/sync/ptp-status/clock-class",
            Self::SynceClockQuality => "/sync/synce-status/clock-quality",
        }
    }

    /// The v1 API's suffix: only clock class differs
    /// (`/sync/ptp-status/ptp-clock-class-change`).
    #[must_use]
    pub const fn v1_source(self) -> &'static str {
        match self {
            Self::ClockClass => "/sync/ptp-status/ptp-clock-class-change",
            other => other.source(),
        }
    }

    /// The type of a CloudEvent `type` string, including the two misspelt
    /// strings older publishers sent.
    #[must_use]
    pub fn from_type_str(s: &str) -> Option<Self> {
        match s {
            "event.sync.synce-status.sync-clock-quality-change" => Some(Self::SynceClockQuality),
            "event.sync.sync-status.synce-state-change" => Some(Self::SynceLockState),
            _ => Self::ALL.into_iter().find(|t| t.as_str() == s),
        }
    }

    /// The type of a source: the short one (`/sync/ptp-status/lock-state`)
    /// or a full resource address, in the v2 or v1 spelling.
    #[must_use]
    pub fn from_source(src: &str) -> Option<Self> {
        let short = src
            .strip_prefix(NODE_PREFIX)
            .and_then(|r| r.find('/').map(|i| &r[i..]))
            .unwrap_or(src);
        Self::ALL
            .into_iter()
            .find(|t| short == t.source() || short == t.v1_source())
    }
}

impl EventType {
    /// A short name for command lines: `sync-state`, `lock-state`,
    /// `gnss-sync-status`, `os-clock-sync-state`, `synce-lock-state`,
    /// `clock-class`, `synce-clock-quality`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::SyncState => "sync-state",
            Self::LockState => "lock-state",
            Self::GnssSyncStatus => "gnss-sync-status",
            Self::OsClockSyncState => "os-clock-sync-state",
            Self::SynceLockState => "synce-lock-state",
            Self::ClockClass => "clock-class",
            Self::SynceClockQuality => "synce-clock-quality",
        }
    }
}

/// Why a string names no event type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{0:?} names no event type (try lock-state, os-clock-sync-state, sync-state, clock-class, gnss-sync-status, synce-lock-state, synce-clock-quality)"
)]
pub struct UnknownEventType(pub String);

impl std::str::FromStr for EventType {
    type Err = UnknownEventType;
    /// A [short name](EventType::name), a `type` string or a source.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .or_else(|| Self::from_type_str(s))
            .or_else(|| Self::from_source(s))
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource address: what a subscription names and what CurrentState is
/// asked for. Either one event type of a node, or a prefix of the tree
/// (`/cluster/node/<node>/sync`), which the agent answers with every event
/// below it.
///
/// ```
/// use cloud_event_client::{EventType, ResourceAddress};
/// let a = ResourceAddress::event("compute-1", EventType::LockState);
/// assert_eq!(a.as_str(), "/cluster/node/compute-1/sync/ptp-status/lock-state");
/// assert_eq!(a.event_type(), Some(EventType::LockState));
/// assert_eq!(a.node(), Some("compute-1"));
/// let all = ResourceAddress::sync("compute-1");
/// assert!(all.covers(&a));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct ResourceAddress(String);

/// Why a string is not a resource address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a resource address: it must start with '/' and have no empty segment")]
pub struct AddressError(pub String);

impl ResourceAddress {
    /// `/cluster/node/<node><source>` of `t` (the v2 address).
    #[must_use]
    pub fn event(node: &str, t: EventType) -> Self {
        Self(format!("{NODE_PREFIX}{node}{}", t.source()))
    }

    /// The v1 API's address of `t` (differs for clock class).
    #[must_use]
    pub fn v1_event(node: &str, t: EventType) -> Self {
        Self(format!("{NODE_PREFIX}{node}{}", t.v1_source()))
    }

    /// `/cluster/node/<node>/sync`: every sync event of the node.
    #[must_use]
    pub fn sync(node: &str) -> Self {
        Self(format!("{NODE_PREFIX}{node}/sync"))
    }

    /// `/cluster/node/<node>`: everything the node publishes.
    #[must_use]
    pub fn node_root(node: &str) -> Self {
        Self(format!("{NODE_PREFIX}{node}"))
    }

    /// Any address, checked for shape only (a leading `/`, no empty
    /// segment, no trailing `/`, no whitespace).
    ///
    /// # Errors
    /// The string is not shaped like an address.
    pub fn parse(s: &str) -> Result<Self, AddressError> {
        let ok = s.starts_with('/')
            && s.len() > 1
            && !s.ends_with('/')
            && !s.contains("//")
            && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(AddressError(s.to_owned()))
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The node named in a `/cluster/node/<node>/...` address.
    #[must_use]
    pub fn node(&self) -> Option<&str> {
        let rest = self.0.strip_prefix(NODE_PREFIX)?;
        Some(rest.split('/').next().unwrap_or(rest)).filter(|n| !n.is_empty())
    }

    /// The event type this address names exactly (v2 or v1 spelling);
    /// `None` for prefixes and unknown addresses.
    #[must_use]
    pub fn event_type(&self) -> Option<EventType> {
        let node = self.node()?;
        let rest = &self.0[NODE_PREFIX.len() + node.len()..];
        EventType::ALL
            .into_iter()
            .find(|t| rest == t.source() || rest == t.v1_source())
    }

    /// Whether a subscription to `self` receives events of `other`: equal,
    /// or a prefix of it on a `/` boundary (the O-RAN hierarchy), with the
    /// v1 clock-class spelling taken as the v2 one.
    #[must_use]
    pub fn covers(&self, other: &Self) -> bool {
        let norm = |a: &Self| match (a.node(), a.event_type()) {
            (Some(n), Some(t)) => Self::event(n, t).0,
            _ => a.0.clone(),
        };
        let (me, it) = (norm(self), norm(other));
        it == me || (it.starts_with(&me) && it.as_bytes().get(me.len()) == Some(&b'/'))
    }

    /// The event types of `node` a subscription to `self` receives.
    pub fn event_types(&self, node: &str) -> impl Iterator<Item = EventType> + '_ {
        let node = node.to_owned();
        EventType::ALL
            .into_iter()
            .filter(move |t| self.covers(&Self::event(&node, *t)))
    }
}

impl fmt::Display for ResourceAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ResourceAddress {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl AsRef<str> for ResourceAddress {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for ResourceAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Sync states (O-RAN), as carried in notification values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)]
pub enum SyncState {
    Locked,
    Holdover,
    Freerun,
    Synchronized,
    AcquiringSync,
    AntennaDisconnected,
    AntennaShortCircuit,
    Booting,
    FailureMultipath,
    FailureNofix,
    FailureLowSnr,
    FailurePll,
    Unlocked,
}

impl SyncState {
    const TABLE: [(Self, &'static str); 13] = [
        (Self::Locked, "LOCKED"),
        (Self::Holdover, "HOLDOVER"),
        (Self::Freerun, "FREERUN"),
        (Self::Synchronized, "SYNCHRONIZED"),
        (Self::AcquiringSync, "ACQUIRING-SYNC"),
        (Self::AntennaDisconnected, "ANTENNA-DISCONNECTED"),
        (Self::AntennaShortCircuit, "ANTENNA-SHORT-CIRCUIT"),
        (Self::Booting, "BOOTING"),
        (Self::FailureMultipath, "FAILURE-MULTIPATH"),
        (Self::FailureNofix, "FAILURE-NOFIX"),
        (Self::FailureLowSnr, "FAILURE-LOW-SNR"),
        (Self::FailurePll, "FAILURE-PLL"),
        (Self::Unlocked, "UNLOCKED"),
    ];

    /// The wire string (`LOCKED`, `ACQUIRING-SYNC`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        Self::TABLE
            .iter()
            .find(|(s, _)| *s == self)
            .map_or("", |(_, n)| n)
    }

    /// The state of a wire string; the underscore spelling
    /// (`ACQUIRING_SYNC`) is accepted too.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Self::TABLE
            .iter()
            .find(|(_, n)| {
                n.len() == s.len()
                    && n.bytes()
                        .zip(s.bytes())
                        .all(|(a, b)| a == b || (a == b'-' && b == b'_'))
            })
            .map(|(s, _)| *s)
    }
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn types_and_sources_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::from_type_str(t.as_str()), Some(t));
            assert_eq!(EventType::from_source(t.source()), Some(t));
            assert_eq!(EventType::from_source(t.v1_source()), Some(t));
            let a = ResourceAddress::event("n1.example.com", t);
            assert_eq!(EventType::from_source(a.as_str()), Some(t));
            assert_eq!(a.event_type(), Some(t));
            assert_eq!(ResourceAddress::v1_event("n1", t).event_type(), Some(t));
        }
        assert_eq!(EventType::from_type_str("x"), None);
        for t in EventType::ALL {
            assert_eq!(t.name().parse::<EventType>(), Ok(t));
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
        }
        assert!("lock".parse::<EventType>().is_err());
        assert_eq!(EventType::from_source("/cluster/node/n1/sync"), None);
    }

    #[test]
    fn prefixes_cover_on_path_boundaries() {
        let lock = ResourceAddress::event("n1", EventType::LockState);
        let cc_v1 = ResourceAddress::v1_event("n1", EventType::ClockClass);
        let ptp = ResourceAddress::parse("/cluster/node/n1/sync/ptp-status").unwrap();
        assert!(ptp.covers(&lock));
        assert!(ptp.covers(&cc_v1));
        assert!(ResourceAddress::sync("n1").covers(&lock));
        assert!(!ResourceAddress::sync("n12").covers(&lock));
        assert!(
            !ResourceAddress::parse("/cluster/node/n1/sync/ptp")
                .unwrap()
                .covers(&lock)
        );
        assert_eq!(ResourceAddress::sync("n1").event_types("n1").count(), 7);
        assert_eq!(ptp.event_types("n1").count(), 2);
        assert!(cc_v1.covers(&ResourceAddress::event("n1", EventType::ClockClass)));
    }

    #[test]
    fn parse_rejects_bad_shapes() {
        for bad in ["", "/", "a/b", "/a//b", "/a/", "/a b"] {
            assert!(ResourceAddress::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(ResourceAddress::node_root("n").node(), Some("n"));
        let a: ResourceAddress = serde_json::from_str("\"/cluster/node/n/sync\"").unwrap();
        assert_eq!(a, ResourceAddress::sync("n"));
        assert!(serde_json::from_str::<ResourceAddress>("\"x\"").is_err());
    }

    #[test]
    fn sync_states() {
        assert_eq!(
            SyncState::parse("ACQUIRING-SYNC"),
            Some(SyncState::AcquiringSync)
        );
        assert_eq!(
            SyncState::parse("ACQUIRING_SYNC"),
            Some(SyncState::AcquiringSync)
        );
        assert_eq!(SyncState::parse("LOCKED").unwrap().as_str(), "LOCKED");
        assert_eq!(SyncState::parse("locked"), None);
    }
}
