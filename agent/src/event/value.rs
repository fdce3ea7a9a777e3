use std::fmt;

/// `data_type` of a value: the client library's.
pub(crate) use cloud_event_client::DataType;

/// `value_type` of a value. The client library's also carries other
/// publishers' names; the agent writes only these two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Enumeration,
    Decimal,
}

impl ValueType {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enumeration => "enumeration",
            Self::Decimal => "decimal64.3",
        }
    }
}

/// One element of `data.values`. `value` is always a string on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataValue {
    pub resource_address: String,
    pub data_type: DataType,
    pub value_type: ValueType,
    pub value: String,
}

impl DataValue {
    /// A notification/enumeration value, e.g. a sync state.
    #[must_use]
    pub fn state(resource_address: String, state: impl fmt::Display) -> Self {
        Self {
            resource_address,
            data_type: DataType::Notification,
            value_type: ValueType::Enumeration,
            value: state.to_string(),
        }
    }

    /// A metric/decimal64.3 value, e.g. an offset in ns or a clock class.
    #[must_use]
    pub fn metric(resource_address: String, value: impl fmt::Display) -> Self {
        Self {
            resource_address,
            data_type: DataType::Metric,
            value_type: ValueType::Decimal,
            value: value.to_string(),
        }
    }
}

/// Sync states, ordered so that `max` is the worst.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SyncState {
    Locked,
    Holdover,
    Freerun,
}

impl SyncState {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Locked => "LOCKED",
            Self::Holdover => "HOLDOVER",
            Self::Freerun => "FREERUN",
        }
    }

    /// The `openshift_ptp_clock_state` value: FREERUN 0, LOCKED 1, HOLDOVER 2.
    #[must_use]
    pub const fn metric(self) -> i64 {
        match self {
            Self::Freerun => 0,
            Self::Locked => 1,
            Self::Holdover => 2,
        }
    }

    /// The worse of two states (FREERUN > HOLDOVER > LOCKED).
    #[must_use]
    pub fn worst(self, other: Self) -> Self {
        self.max(other)
    }
}

impl fmt::Display for SyncState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
