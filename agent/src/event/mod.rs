//! The O-RAN event model: kinds and resource addresses, values and the
//! wire JSON. One serialisation per event, shared by
//! every subscriber.

mod kind;
pub(crate) mod parse;
mod time;
pub(crate) mod v1;
mod value;
mod wire;

use std::time::{Instant, SystemTime};

pub(crate) use kind::{EventKind, NODE_PREFIX};
pub(crate) use time::rfc3339_nano;
pub(crate) use value::{DataType, DataValue, SyncState, ValueType};
pub(crate) use wire::{ValueKeys, write_v2, write_values_with};

/// One event as the engine decided it: created once, serialised once.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    pub id: uuid::Uuid,
    /// Wall-clock time of creation (the CloudEvent `time`).
    pub time: SystemTime,
    /// Monotonic time of creation, for the delivery latency histogram.
    pub created: Instant,
    pub values: Vec<DataValue>,
}

impl Event {
    #[must_use]
    pub fn new(kind: EventKind, values: Vec<DataValue>) -> Self {
        Self {
            kind,
            id: uuid::Uuid::new_v4(),
            time: SystemTime::now(),
            created: Instant::now(),
            values,
        }
    }

    /// The structured CloudEvent 1.0 JSON (O-RAN v2).
    #[must_use]
    pub fn to_v2_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256 + 160 * self.values.len());
        write_v2(&mut out, self);
        out
    }
}
