//! One clock's state (a main clock's lock-state or CLOCK_REALTIME's
//! os-clock-sync-state): the anchor's `GenPTPEvent` table, with its
//! HOLDOVER -> FREERUN quirk fixed, and the holdover timer.

use std::time::{Duration, Instant};

use prometheus::IntGauge;

use crate::event::SyncState;
use crate::metrics::ServoSeries;

/// Offset thresholds and holdover timeout of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// ns; in range is strictly below.
    pub max_offset: i64,
    /// ns; in range is strictly above.
    pub min_offset: i64,
    /// How long HOLDOVER lasts before FREERUN.
    pub holdover: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_offset: 100,
            min_offset: -100,
            holdover: Duration::from_secs(5),
        }
    }
}

impl Thresholds {
    /// Strict: with the defaults, ±100 ns is out of range.
    #[must_use]
    pub const fn in_range(&self, offset: i64) -> bool {
        self.min_offset < offset && offset < self.max_offset
    }
}

/// Where the HOLDOVER of an input comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// The clock's own evidence (a line without path delay): starts the
    /// holdover timer.
    Own,
    /// Inherited from another clock (E3 from E1): that clock's timer rules.
    Derived,
}

/// One clock's state and its resolved metric handles.
pub(crate) struct Clock {
    /// The values' `ResourceAddress`.
    pub address: String,
    state: Option<SyncState>,
    offset: i64,
    holdover_until: Option<Instant>,
    state_gauge: IntGauge,
    /// Input may have been lost (ring buffer full): the next reading is
    /// published even when the state looks unchanged, since a change and
    /// its way back may both have been missed.
    reassert: bool,
    /// Servo gauges per `from` slot (master/phc, sys), resolved on first use.
    pub series: [Option<ServoSeries>; 2],
}

impl Clock {
    #[must_use]
    pub(crate) fn new(address: String, state_gauge: IntGauge) -> Self {
        Self {
            address,
            state: None,
            offset: 0,
            holdover_until: None,
            state_gauge,
            reassert: false,
            series: [None, None],
        }
    }

    /// The last state; `None` before the first servo line.
    #[must_use]
    pub(crate) const fn state(&self) -> Option<SyncState> {
        self.state
    }

    #[must_use]
    pub(crate) const fn offset(&self) -> i64 {
        self.offset
    }

    #[must_use]
    pub(crate) const fn deadline(&self) -> Option<Instant> {
        self.holdover_until
    }

    /// Feeds one servo reading; returns the state to publish, if it changed.
    pub(crate) fn apply(
        &mut self,
        incoming: SyncState,
        offset: i64,
        cause: Cause,
        th: &Thresholds,
        now: Instant,
    ) -> Option<SyncState> {
        use SyncState::{Freerun, Holdover, Locked};
        let in_range = th.in_range(offset);
        self.offset = offset;
        let next = match (incoming, self.state) {
            (Locked, Some(Freerun | Holdover)) => in_range.then_some(Locked),
            (Locked, Some(Locked)) => (!in_range).then_some(Freerun),
            (Locked, None) => Some(if in_range { Locked } else { Freerun }),
            // The anchor silently leaves HOLDOVER here and then never tells
            // anyone (an anchor quirk); we publish FREERUN.
            (Holdover, last) | (Freerun, last) => (last != Some(incoming)).then_some(incoming),
        };
        if incoming == Holdover && cause == Cause::Own && self.holdover_until.is_none() {
            self.holdover_until = Some(now + th.holdover);
        }
        let next = self.or_reassert(next);
        if let Some(s) = next {
            self.set(s);
        }
        next
    }

    /// Marks the state uncertain: see `reassert`.
    pub(crate) fn mark_uncertain(&mut self) {
        self.reassert = self.state.is_some();
    }

    /// `next`, or the current state when it must be asserted again.
    fn or_reassert(&mut self, next: Option<SyncState>) -> Option<SyncState> {
        let again = std::mem::take(&mut self.reassert);
        next.or(if again { self.state } else { None })
    }

    /// A state decided elsewhere (the daemon's GM/T-BC status, chronyd):
    /// no thresholds; returns it when it changed.
    pub(crate) fn force(&mut self, state: SyncState, offset: i64) -> Option<SyncState> {
        self.offset = offset;
        if self.state == Some(state) {
            return self.or_reassert(None);
        }
        self.reassert = false;
        self.set(state);
        Some(state)
    }

    /// Records a state without publishing (metrics-only clocks).
    pub(crate) fn set_quietly(&mut self, state: SyncState, offset: i64) {
        self.offset = offset;
        self.set(state);
    }

    /// Takes over `old`'s state under this clock's address (the interface
    /// became known after the first lines).
    pub(crate) fn adopt(&mut self, old: &Self) {
        self.state = old.state;
        self.offset = old.offset;
        self.holdover_until = old.holdover_until;
        if let Some(s) = self.state {
            self.state_gauge.set(s.metric());
        }
    }

    /// HOLDOVER whose timer is due becomes FREERUN: returns true then.
    pub(crate) fn expire(&mut self, now: Instant) -> bool {
        match self.holdover_until {
            Some(at) if at <= now => {
                self.holdover_until = None;
                if self.state == Some(SyncState::Holdover) {
                    self.set(SyncState::Freerun);
                    return true;
                }
                false
            }
            _ => false,
        }
    }

    fn set(&mut self, s: SyncState) {
        self.state = Some(s);
        if s != SyncState::Holdover {
            self.holdover_until = None;
        }
        self.state_gauge.set(s.metric());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SyncState::{Freerun, Holdover, Locked};

    fn clock() -> Clock {
        Clock::new("a".into(), IntGauge::new("g", "g").unwrap())
    }

    fn at(state: Option<SyncState>) -> Clock {
        let mut c = clock();
        let now = Instant::now();
        if let Some(s) = state {
            c.apply(
                s,
                if s == Locked { 0 } else { 1000 },
                Cause::Derived,
                &Thresholds::default(),
                now,
            );
        }
        assert_eq!(c.state(), state);
        c
    }

    /// table: (incoming, last, offset, expected publication, state after).
    #[test]
    fn gen_ptp_event_table() {
        let cases = [
            (Locked, Some(Freerun), 5, Some(Locked), Locked),
            (Locked, Some(Freerun), 500, None, Freerun),
            (Locked, Some(Locked), 5, None, Locked),
            (Locked, Some(Locked), 100, Some(Freerun), Freerun),
            (Locked, Some(Locked), -100, Some(Freerun), Freerun),
            (Locked, Some(Holdover), 5, Some(Locked), Locked),
            (Locked, Some(Holdover), 500, None, Holdover),
            (Locked, None, 99, Some(Locked), Locked),
            (Locked, None, -101, Some(Freerun), Freerun),
            (Holdover, Some(Locked), 5, Some(Holdover), Holdover),
            (Holdover, Some(Freerun), 5, Some(Holdover), Holdover),
            (Holdover, Some(Holdover), 5, None, Holdover),
            (Holdover, None, 5, Some(Holdover), Holdover),
            (Freerun, Some(Locked), 5, Some(Freerun), Freerun),
            (Freerun, Some(Freerun), 5, None, Freerun),
            (Freerun, None, 5, Some(Freerun), Freerun),
            // The fixed quirk: FREERUN after HOLDOVER is published.
            (Freerun, Some(Holdover), 5, Some(Freerun), Freerun),
        ];
        for (incoming, last, offset, publish, after) in cases {
            let mut c = at(last);
            let got = c.apply(
                incoming,
                offset,
                Cause::Own,
                &Thresholds::default(),
                Instant::now(),
            );
            assert_eq!(got, publish, "{incoming:?} after {last:?} at {offset}");
            assert_eq!(
                c.state(),
                Some(after),
                "{incoming:?} after {last:?} at {offset}"
            );
            assert_eq!(c.offset(), offset);
        }
    }

    #[test]
    fn uncertain_state_is_published_again_once() {
        let th = Thresholds::default();
        let now = Instant::now();
        let mut c = at(Some(Locked));
        assert_eq!(c.apply(Locked, 5, Cause::Own, &th, now), None);
        c.mark_uncertain();
        assert_eq!(c.apply(Locked, 5, Cause::Own, &th, now), Some(Locked));
        assert_eq!(c.apply(Locked, 5, Cause::Own, &th, now), None, "once");
        c.mark_uncertain();
        assert_eq!(c.apply(Locked, 500, Cause::Own, &th, now), Some(Freerun));
        assert_eq!(c.apply(Freerun, 500, Cause::Own, &th, now), None);
        c.mark_uncertain();
        assert_eq!(c.force(Freerun, 0), Some(Freerun));
        assert_eq!(c.force(Freerun, 0), None);
        // Nothing known yet: nothing to assert.
        let mut fresh = clock();
        fresh.mark_uncertain();
        assert_eq!(fresh.force(Locked, 0), Some(Locked));
    }

    /// `TestPTPEventManager_GenPTPEvent` uses max 500 / min 10: in range is
    /// 10 < offset < 500, so a small or negative offset is out of range.
    #[test]
    fn gen_ptp_event_with_max_500_min_10() {
        let th = Thresholds {
            max_offset: 500,
            min_offset: 10,
            holdover: Duration::from_secs(5),
        };
        let now = Instant::now();
        let cases = [
            (None, Locked, 100, Some(Locked)),
            (None, Locked, 5, Some(Freerun)),
            (Some(Locked), Locked, 499, None),
            (Some(Locked), Locked, 500, Some(Freerun)),
            (Some(Locked), Locked, -5, Some(Freerun)),
            (Some(Freerun), Locked, 11, Some(Locked)),
            (Some(Freerun), Locked, 10, None),
            (Some(Holdover), Locked, 200, Some(Locked)),
            (Some(Holdover), Locked, 0, None),
            (Some(Locked), Holdover, 200, Some(Holdover)),
        ];
        for (last, incoming, offset, want) in cases {
            let mut c = clock();
            if let Some(l) = last {
                c.set_quietly(l, 0);
            }
            assert_eq!(
                c.apply(incoming, offset, Cause::Derived, &th, now),
                want,
                "{incoming:?} after {last:?} at {offset}"
            );
        }
    }

    #[test]
    fn holdover_timer() {
        let th = Thresholds::default();
        let t0 = Instant::now();
        let mut c = at(Some(Locked));
        assert_eq!(c.apply(Holdover, 5, Cause::Own, &th, t0), Some(Holdover));
        assert_eq!(c.deadline(), Some(t0 + th.holdover));
        assert!(!c.expire(t0 + Duration::from_secs(4)));
        assert!(c.expire(t0 + th.holdover));
        assert_eq!(c.state(), Some(Freerun));
        assert_eq!(c.deadline(), None);

        // LOCKED in range cancels it.
        let mut c = at(Some(Locked));
        c.apply(Holdover, 5, Cause::Own, &th, t0);
        assert_eq!(c.apply(Locked, 5, Cause::Own, &th, t0), Some(Locked));
        assert_eq!(c.deadline(), None);

        // Derived HOLDOVER has no timer of its own.
        let mut c = at(Some(Locked));
        c.apply(Holdover, 5, Cause::Derived, &th, t0);
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn strict_thresholds() {
        let th = Thresholds::default();
        assert!(th.in_range(99) && th.in_range(-99) && th.in_range(0));
        assert!(!th.in_range(100) && !th.in_range(-100));
        assert!(!th.in_range(i64::MAX) && !th.in_range(i64::MIN));
    }
}
