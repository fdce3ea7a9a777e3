//! Zero-copy parsers over `&[u8]`, one file per line family. Nothing here
//! allocates or keeps state; a line that does not fit returns `None`.

pub mod common;
pub mod phc2sys;
pub mod ptp4l;

pub use common::{Prefix, process_status};

use crate::event::SyncState;

/// The servo state token of an offset line (§3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Servo {
    /// `s0` unlocked, `s1` clock step: FREERUN.
    Unlocked,
    /// `s2` locked, `s3` locked stable: LOCKED.
    Locked,
}

impl Servo {
    /// `s0`..`s3`; any other token makes the line ignored.
    #[must_use]
    pub fn parse(token: &[u8]) -> Option<Self> {
        match token {
            b"s0" | b"s1" => Some(Self::Unlocked),
            b"s2" | b"s3" => Some(Self::Locked),
            _ => None,
        }
    }

    #[must_use]
    pub const fn state(self) -> SyncState {
        match self {
            Self::Unlocked => SyncState::Freerun,
            Self::Locked => SyncState::Locked,
        }
    }
}

/// Whitespace-separated tokens of `s`.
pub(crate) fn tokens(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(u8::is_ascii_whitespace).filter(|t| !t.is_empty())
}

/// A decimal integer with an optional sign (`+22451884`, `-0`); `None` on
/// anything else, including overflow.
#[must_use]
pub fn int(t: &[u8]) -> Option<i64> {
    let (neg, digits) = match t.split_first()? {
        (b'-', rest) => (true, rest),
        (b'+', rest) => (false, rest),
        _ => (false, t),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        let d = i64::from(d - b'0');
        // Accumulate negatively so i64::MIN parses too.
        v = v.checked_mul(10)?.checked_sub(d)?;
    }
    if neg { Some(v) } else { v.checked_neg() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(int(b"+22451884"), Some(22_451_884));
        assert_eq!(int(b"-0"), Some(0));
        assert_eq!(int(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(int(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(int(b"9223372036854775808"), None);
        assert_eq!(int(b"-99999999999999999999"), None);
        assert_eq!(int(b""), None);
        assert_eq!(int(b"-"), None);
        assert_eq!(int(b"12a"), None);
        assert_eq!(int(b"1.5"), None);
    }

    #[test]
    fn servo_tokens() {
        assert_eq!(Servo::parse(b"s0"), Some(Servo::Unlocked));
        assert_eq!(Servo::parse(b"s1"), Some(Servo::Unlocked));
        assert_eq!(Servo::parse(b"s2"), Some(Servo::Locked));
        assert_eq!(Servo::parse(b"s3"), Some(Servo::Locked));
        assert_eq!(Servo::parse(b"s4"), None);
        assert_eq!(Servo::parse(b"holdover"), None);
    }
}
