//! A timer for deadlines that only move later (an endpoint's idle close,
//! its delivery timeout), re-armed only when it fires early.
//!
//! A fresh `tokio::time::sleep` or `timeout` per delivery registers and
//! removes an entry in the runtime's timer wheel under its lock, and when
//! the new deadline is the earliest one it also wakes the thread parked in
//! the I/O driver: per delivery. Here the entry stays registered; when it
//! fires before the deadline asked for (the deadline moved on since it was
//! armed), it is armed again for that deadline. So the wheel sees one
//! entry per endpoint and a reset per timeout period, not two per event.

use std::pin::Pin;
use std::time::Instant;

use tokio::time::Sleep;

/// The runtime's clock (the test clock when paused).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

pub(super) struct Timer {
    sleep: Pin<Box<Sleep>>,
    /// Where the sleep is armed; `None` before the first use.
    armed: Option<Instant>,
}

impl Timer {
    pub(super) fn new() -> Self {
        // Not registered with the wheel until first polled.
        Self {
            sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            armed: None,
        }
    }

    /// Resolves once `deadline` has passed. Cancel-safe: dropping the
    /// future leaves the timer armed for the next call.
    pub(super) async fn until(&mut self, deadline: Instant) {
        if self.armed.is_none_or(|a| deadline < a) {
            self.arm(deadline);
        }
        loop {
            (&mut self.sleep).await;
            if now() >= deadline {
                return;
            }
            // Fired for an older, earlier deadline.
            self.arm(deadline);
        }
    }

    fn arm(&mut self, deadline: Instant) {
        self.sleep.as_mut().reset(deadline.into());
        self.armed = Some(deadline);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Never before its deadline; a later deadline re-arms a timer that
    /// fired early; an earlier one than the armed deadline is not missed.
    #[tokio::test]
    async fn fires_at_later_and_earlier_deadlines() {
        let ms = Duration::from_millis;
        let mut t = Timer::new();
        let first = now() + ms(20);
        t.until(first).await;
        assert!(now() >= first);
        let later = first + ms(30);
        t.until(later).await;
        assert!(now() >= later);
        let far = now() + Duration::from_secs(100);
        assert!(tokio::time::timeout(ms(10), t.until(far)).await.is_err());
        let near = now() + ms(20);
        tokio::time::timeout(Duration::from_secs(30), t.until(near))
            .await
            .expect("the earlier deadline fired");
        assert!(now() >= near);
    }
}
