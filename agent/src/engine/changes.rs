//! One INFO log line per published state change: the resource, its old and
//! new value and what caused it (the input line, or the timer).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tracing::{debug, info};

use super::Sink;
use crate::event::{DataType, Event, EventKind};

/// Wraps the engine's sink; the handle sets the cause before each input.
pub(super) struct ChangeLog {
    inner: Arc<dyn Sink>,
    /// Last published value per (kind, resource address).
    last: Mutex<HashMap<(EventKind, String), String>>,
    /// The input being applied; reused, so a line costs no allocation.
    cause: Mutex<String>,
    /// When that input was read, for the stage timing.
    read: Mutex<Option<Instant>>,
}

impl ChangeLog {
    pub(super) fn new(inner: Arc<dyn Sink>) -> Self {
        Self {
            inner,
            last: Mutex::new(HashMap::new()),
            cause: Mutex::new(String::new()),
            read: Mutex::new(None),
        }
    }

    /// What the next published events are caused by, and when it was read
    /// (`None`: a timer or an update, not an input).
    pub(super) fn set_cause(&self, cause: &[u8], read: Option<Instant>) {
        *self.read.lock() = read;
        let mut c = self.cause.lock();
        c.clear();
        c.push_str(String::from_utf8_lossy(cause).trim_end());
    }
}

impl Sink for ChangeLog {
    fn publish(&self, event: Event) {
        // The state value (notification), else the metric (clock class).
        let value = event
            .values
            .iter()
            .find(|v| v.data_type == DataType::Notification)
            .or_else(|| event.values.first());
        if let Some(v) = value {
            let key = (event.kind, v.resource_address.clone());
            let old = self.last.lock().insert(key, v.value.clone());
            if old.as_deref() == Some(v.value.as_str()) {
                // Re-published unchanged (after lost input): not a change.
                debug!(resource = %v.resource_address, event = %event.kind.source(),
                    value = %v.value, "state re-published");
                self.forward(event);
                return;
            }
            info!(
                resource = %v.resource_address,
                event = %event.kind.source(),
                old = %old.as_deref().unwrap_or("none"),
                new = %v.value,
                cause = %self.cause.lock(),
                "state changed"
            );
        }
        self.forward(event);
    }
}

impl ChangeLog {
    fn forward(&self, event: Event) {
        match *self.read.lock() {
            Some(read) => self.inner.publish_read(event, read),
            None => self.inner.publish(event),
        }
    }
}
