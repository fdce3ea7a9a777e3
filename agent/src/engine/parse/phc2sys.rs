//! phc2sys lines: `CLOCK_REALTIME phc offset ...` / `sys offset` give
//! the OS clock state; `CLOCK_REALTIME rms ...` is a summary; per-port lines
//! (`ens5f0 phc offset ...`, a PHC following another) are ignored.

use super::ptp4l::{Malformed, Offset, Rms, offset_fields, rms_fields};
use super::tokens;

/// Which comparison phc2sys made: the `from` label of the metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum From {
    Phc,
    Sys,
}

impl From {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Phc => "phc",
            Self::Sys => "sys",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    Offset(From, Offset),
    Rms(Rms),
}

const BAD: Malformed = Malformed { family: "phc2sys" };

/// `Ok(None)`: not a CLOCK_REALTIME servo line (or an ignored servo token).
///
/// # Errors
/// A CLOCK_REALTIME servo line whose numbers do not parse.
pub(crate) fn parse(message: &[u8]) -> Result<Option<Line>, Malformed> {
    let mut t = tokens(message).peekable();
    match t.peek() {
        Some(&b"CLOCK_REALTIME") => {
            t.next();
        }
        // phc2sys without -a prints no clock name; its target is the
        // system clock.
        Some(&(b"phc" | b"sys")) => {}
        _ => return Ok(None),
    }
    let from = match t.next() {
        Some(b"phc") => From::Phc,
        Some(b"sys") => From::Sys,
        Some(b"rms") => return rms_fields(t, BAD).map(|r| Some(Line::Rms(r))),
        _ => return Ok(None),
    };
    if t.next() != Some(b"offset") {
        return Ok(None);
    }
    offset_fields(t, BAD).map(|o| o.map(|o| Line::Offset(from, o)))
}

#[cfg(test)]
mod tests {
    use super::super::Servo;
    use super::super::common::prefix;
    use super::*;

    fn line(l: &str) -> Result<Option<Line>, Malformed> {
        parse(prefix(l.as_bytes()).message)
    }

    fn off(from: From, offset: i64, servo: Servo, freq: i64, delay: Option<i64>) -> Line {
        Line::Offset(
            from,
            Offset {
                offset,
                servo,
                freq: Some(freq),
                delay,
            },
        )
    }

    #[test]
    fn anchor_lines() {
        assert_eq!(
            line(
                "phc2sys[4268818.286]: [ptp4l.0.config] CLOCK_REALTIME phc offset       -62 s0 freq  -78368 delay   1100"
            ),
            Ok(Some(off(
                From::Phc,
                -62,
                Servo::Unlocked,
                -78368,
                Some(1100)
            )))
        );
        assert_eq!(
            line(
                "phc2sys[10522413.392]: [ptp4l.0.config:6] CLOCK_REALTIME phc offset 8 s2 freq -6990 delay 502"
            ),
            Ok(Some(off(From::Phc, 8, Servo::Locked, -6990, Some(502))))
        );
        assert_eq!(
            line(
                "phc2sys[10522413.392]: [ptp4l.0.config:6] CLOCK_REALTIME sys offset 8 s2 freq -6990 delay 502"
            ),
            Ok(Some(off(From::Sys, 8, Servo::Locked, -6990, Some(502))))
        );
        assert_eq!(
            line(
                "phc2sys[5196804.326]: [ptp4l.0.config] CLOCK_REALTIME rms 9452637 max 9452637 freq +1196097 +/-   0 delay  1000"
            ),
            Ok(Some(Line::Rms(Rms {
                rms: 9_452_637,
                max: 9_452_637,
                freq: Some(1_196_097),
                delay: Some(1000)
            })))
        );
    }

    #[test]
    fn per_port_lines_ignored() {
        assert_eq!(
            line(
                "phc2sys[4268818.287]: [ptp4l.0.config] ens5f0 phc offset       -47 s2 freq   -2047 delay   2438"
            ),
            Ok(None)
        );
        assert_eq!(
            line(
                "phc2sys[5196755.139]: [ptp4l.0.config] ens5f0 rms 3152778 max 3152778 freq -6083928 +/-   0 delay  2791 +/-   0"
            ),
            Ok(None)
        );
        assert_eq!(
            line(
                "phc2sys[152918.606]: [phc2sys.2.config:6] port b49691.fffe.a3f27c-1 changed state"
            ),
            Ok(None)
        );
    }

    #[test]
    fn without_clock_name_and_delay() {
        assert_eq!(
            line("phc2sys[1.0]: phc offset 5 s2 freq -20217 delay 536"),
            Ok(Some(off(From::Phc, 5, Servo::Locked, -20217, Some(536))))
        );
        assert_eq!(
            line("phc2sys[1.0]: [ptp4l.0.config] CLOCK_REALTIME phc offset 5 s2 freq -20217"),
            Ok(Some(off(From::Phc, 5, Servo::Locked, -20217, None)))
        );
        assert_eq!(
            line("phc2sys[1.0]: CLOCK_REALTIME phc offset 1e9 s2"),
            Err(BAD)
        );
    }
}
