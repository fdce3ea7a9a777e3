//! Zero-copy parsers over `&[u8]`, one file per line family. Nothing here
//! allocates or keeps state; a line that does not fit returns `None`.

pub(crate) mod common;
pub(crate) mod daemon;
pub(crate) mod phc2sys;
pub(crate) mod port;
pub(crate) mod ptp4l;
pub(crate) mod synce;
pub(crate) mod ts2phc;

pub(crate) use common::{Prefix, process_status};

use crate::event::SyncState;

/// A line of a known family whose fields do not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed {family} line")]
pub struct Malformed {
    pub family: &'static str,
}

/// Every message form of, borrowed from the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Msg<'a> {
    ProcessStatus(bool),
    ClockClass(u8),
    Ptp4l(ptp4l::Line),
    Port(port::PortLine<'a>),
    Phc2sys(phc2sys::Line),
    HaProfile(&'a [u8], bool),
    Ts2phc(ts2phc::Line<'a>),
    Gm(daemon::Gm<'a>),
    Tbc(daemon::Tbc<'a>),
    Dpll(daemon::Dpll<'a>),
    Gnss(daemon::Gnss<'a>),
    Synce(synce::Synce<'a>),
    Chronyd(bool),
    /// Well formed, of no use to the engine.
    Other,
}

/// The message of `process` (`ptp4l`, `GM`, ...; empty when unknown).
///
/// # Errors
/// A known line family whose fields do not parse.
pub fn message<'a>(process: &[u8], m: &'a [u8]) -> Result<Msg<'a>, Malformed> {
    if let Some(up) = process_status(m) {
        return Ok(Msg::ProcessStatus(up));
    }
    if let Some(c) = daemon::clock_class(m)? {
        return Ok(Msg::ClockClass(c));
    }
    let msg = match process {
        b"ptp4l" => ptp4l_msg(m)?,
        b"phc2sys" => match daemon::ha_profile(m)? {
            Some((p, up)) => Msg::HaProfile(p, up),
            None => phc2sys::parse(m)?.map_or(Msg::Other, Msg::Phc2sys),
        },
        b"ts2phc" => ts2phc::parse(m)?.map_or(Msg::Other, Msg::Ts2phc),
        b"GM" => daemon::gm(m)?.map_or(Msg::Other, Msg::Gm),
        b"T-BC" => daemon::tbc(m)?.map_or(Msg::Other, Msg::Tbc),
        b"dpll" => daemon::dpll(m)?.map_or(Msg::Other, Msg::Dpll),
        b"gnss" => daemon::gnss(m)?.map_or(Msg::Other, Msg::Gnss),
        b"synce4l" => synce::parse(m)?.map_or(Msg::Other, Msg::Synce),
        b"chronyd" => daemon::chronyd(m).map_or(Msg::Other, Msg::Chronyd),
        // Unknown writer: bare servo and port lines are still recognisable.
        b"" => match ptp4l_msg(m)? {
            Msg::Other => phc2sys::parse(m)?.map_or(Msg::Other, Msg::Phc2sys),
            other => other,
        },
        _ => Msg::Other,
    };
    Ok(msg)
}

fn ptp4l_msg(m: &[u8]) -> Result<Msg<'_>, Malformed> {
    if let Some(l) = ptp4l::parse(m)? {
        return Ok(Msg::Ptp4l(l));
    }
    Ok(port::parse(m)?.map_or(Msg::Other, Msg::Port))
}

/// The servo state token of an offset line.
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
pub(crate) fn int(t: &[u8]) -> Option<i64> {
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
