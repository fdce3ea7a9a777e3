//! The node's sync-state: the worst of every main clock and every
//! CLOCK_REALTIME, published when it changes.

use crate::event::SyncState;

/// The worst of `states` (FREERUN > HOLDOVER > LOCKED); `None` if empty.
pub(crate) fn worst(states: impl IntoIterator<Item = SyncState>) -> Option<SyncState> {
    states.into_iter().max()
}

/// The last published sync-state.
#[derive(Debug, Default)]
pub(crate) struct SyncTracker {
    last: Option<SyncState>,
}

impl SyncTracker {
    /// The state to publish when `current` differs from the last one.
    pub(crate) fn update(&mut self, current: Option<SyncState>) -> Option<SyncState> {
        let c = current?;
        if self.last == Some(c) {
            return None;
        }
        self.last = Some(c);
        Some(c)
    }

    pub(crate) fn reset(&mut self) {
        self.last = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SyncState::{Freerun, Holdover, Locked};

    /// The anchor's `OverallState` truth table.
    #[test]
    fn worst_of() {
        assert_eq!(worst([Freerun, Locked]), Some(Freerun));
        assert_eq!(worst([Holdover, Freerun]), Some(Freerun));
        assert_eq!(worst([Holdover, Locked]), Some(Holdover));
        assert_eq!(worst([Locked, Locked]), Some(Locked));
        assert_eq!(worst([Locked]), Some(Locked));
        assert_eq!(worst([]), None);
    }

    #[test]
    fn publishes_on_change_only() {
        let mut t = SyncTracker::default();
        assert_eq!(t.update(None), None);
        assert_eq!(t.update(Some(Locked)), Some(Locked));
        assert_eq!(t.update(Some(Locked)), None);
        assert_eq!(t.update(Some(Freerun)), Some(Freerun));
        t.reset();
        assert_eq!(t.update(Some(Freerun)), Some(Freerun));
    }
}
