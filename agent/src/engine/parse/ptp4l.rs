//! ptp4l's servo lines: `master offset <ns> sN freq <ppb> path delay
//! <ns>` and the summary `rms <ns> max <ns> freq <ppb> +/- <n> [delay <ns>
//! +/- <n>]` printed instead when `summary_interval` is above the sync rate.

pub(crate) use super::Malformed;
use super::{Servo, int, tokens};

/// One `offset` line (ptp4l `master offset`, phc2sys `phc offset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset {
    pub offset: i64,
    pub servo: Servo,
    pub freq: Option<i64>,
    /// Missing means the process has no path delay: out of sync.
    pub delay: Option<i64>,
}

/// One summary line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rms {
    pub rms: i64,
    pub max: i64,
    pub freq: Option<i64>,
    pub delay: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    Offset(Offset),
    Rms(Rms),
}

const BAD: Malformed = Malformed { family: "ptp4l" };

/// `Ok(None)`: not a servo line, or a servo token this engine ignores.
///
/// # Errors
/// A servo line whose numbers do not parse (or overflow).
pub(crate) fn parse(message: &[u8]) -> Result<Option<Line>, Malformed> {
    let mut t = tokens(message);
    match t.next() {
        Some(b"master") if t.next() == Some(b"offset") => {
            offset_fields(t, BAD).map(|o| o.map(Line::Offset))
        }
        Some(b"rms") => rms_fields(t, BAD).map(|r| Some(Line::Rms(r))),
        _ => Ok(None),
    }
}

/// `<off> sN [freq <f>] [path] [delay <d>]`, after the word `offset`.
pub(super) fn offset_fields<'a>(
    mut t: impl Iterator<Item = &'a [u8]>,
    bad: Malformed,
) -> Result<Option<Offset>, Malformed> {
    let offset = t.next().and_then(int).ok_or(bad)?;
    let Some(servo) = t.next().map(Servo::parse).ok_or(bad)? else {
        return Ok(None);
    };
    let (mut freq, mut delay) = (None, None);
    while let Some(word) = t.next() {
        match word {
            b"freq" => freq = Some(t.next().and_then(int).ok_or(bad)?),
            b"delay" => delay = Some(t.next().and_then(int).ok_or(bad)?),
            _ => {}
        }
    }
    Ok(Some(Offset {
        offset,
        servo,
        freq,
        delay,
    }))
}

/// `<rms> max <max> [freq <f> +/- <n>] [delay <d> +/- <n>]`, after `rms`.
pub(super) fn rms_fields<'a>(
    mut t: impl Iterator<Item = &'a [u8]>,
    bad: Malformed,
) -> Result<Rms, Malformed> {
    let rms = t.next().and_then(int).ok_or(bad)?;
    if t.next() != Some(b"max") {
        return Err(bad);
    }
    let max = t.next().and_then(int).ok_or(bad)?;
    let (mut freq, mut delay) = (None, None);
    while let Some(word) = t.next() {
        match word {
            b"freq" => freq = Some(t.next().and_then(int).ok_or(bad)?),
            b"delay" => delay = Some(t.next().and_then(int).ok_or(bad)?),
            _ => {}
        }
    }
    Ok(Rms {
        rms,
        max,
        freq,
        delay,
    })
}

#[cfg(test)]
mod tests {
    use super::super::common::prefix;
    use super::*;

    fn line(l: &str) -> Result<Option<Line>, Malformed> {
        parse(prefix(l.as_bytes()).message)
    }

    fn off(offset: i64, servo: Servo, freq: i64, delay: Option<i64>) -> Line {
        Line::Offset(Offset {
            offset,
            servo,
            freq: Some(freq),
            delay,
        })
    }

    #[test]
    fn anchor_offset_lines() {
        use Servo::Locked;
        let cases = [
            (
                "ptp4l[5196819.100]: [ptp4l.0.config] master offset   -2162130 s2 freq +22451884 path delay    374976",
                off(-2_162_130, Locked, 22_451_884, Some(374_976)),
            ),
            (
                "ptp4l[365195.391]: [ptp4l.0.config] master offset         -1 s2 freq   -3972 path delay        89",
                off(-1, Locked, -3972, Some(89)),
            ),
            (
                "ptp4l[5196819.100]: [ptp4l.0.config] master offset -5 s2 freq +500 path delay 89",
                off(-5, Locked, 500, Some(89)),
            ),
            (
                "ptp4l[11.000]: [ptp4l.1.config] master offset 3 s2 freq -998 path delay 99",
                off(3, Locked, -998, Some(99)),
            ),
        ];
        for (l, want) in cases {
            assert_eq!(line(l), Ok(Some(want)), "{l}");
        }
    }

    #[test]
    fn recorded_plain_lines() {
        assert_eq!(
            line("ptp4l[3664.048]: master offset       -398 s2 freq   -3035 path delay      2157"),
            Ok(Some(off(-398, Servo::Locked, -3035, Some(2157))))
        );
        assert_eq!(
            line("ptp4l[4077.960]: master offset       -818 s0 freq      +0 path delay      2287"),
            Ok(Some(off(-818, Servo::Unlocked, 0, Some(2287))))
        );
        assert_eq!(
            line("ptp4l[4078.085]: failed to adjust the clock: Operation not permitted"),
            Ok(None)
        );
        assert_eq!(
            line("ptp4l[4078.085]: port 1: UNCALIBRATED to SLAVE on MASTER_CLOCK_SELECTED"),
            Ok(None)
        );
    }

    #[test]
    fn recorded_file_parses() {
        let text = include_str!("../../../../tests/data/ptp4l-slave-sw-ts.log");
        let offsets = text
            .lines()
            .filter(|l| matches!(line(l), Ok(Some(Line::Offset(_)))))
            .count();
        let with_word = text.lines().filter(|l| l.contains("master offset")).count();
        assert!(offsets > 100);
        assert_eq!(offsets, with_word);
    }

    #[test]
    fn missing_delay_and_odd_servo() {
        assert_eq!(
            line("ptp4l[1.0]: [ptp4l.0.config] master offset 3 s2 freq -998"),
            Ok(Some(off(3, Servo::Locked, -998, None)))
        );
        assert_eq!(
            line("ptp4l[1.0]: master offset 3 s5 freq -998 path delay 9"),
            Ok(None)
        );
    }

    #[test]
    fn rms_line() {
        assert_eq!(
            line(
                "ptp4l[74737.942]: [ptp4l.0.config] rms   53 max   74 freq -16642 +/-  40 delay  1089 +/-  20"
            ),
            Ok(Some(Line::Rms(Rms {
                rms: 53,
                max: 74,
                freq: Some(-16642),
                delay: Some(1089)
            })))
        );
        assert_eq!(
            line("ptp4l[1.0]: rms 5 max 7 freq -1 +/- 2"),
            Ok(Some(Line::Rms(Rms {
                rms: 5,
                max: 7,
                freq: Some(-1),
                delay: None
            })))
        );
    }

    #[test]
    fn bad_numbers_are_malformed() {
        for l in [
            "ptp4l[1.0]: master offset 99999999999999999999 s2 freq 1 path delay 2",
            "ptp4l[1.0]: master offset abc s2 freq 1 path delay 2",
            "ptp4l[1.0]: master offset",
            "ptp4l[1.0]: master offset 5",
            "ptp4l[1.0]: master offset 5 s2 freq x path delay 2",
            "ptp4l[1.0]: master offset 5 s2 freq 1 path delay",
            "ptp4l[1.0]: rms 5",
            "ptp4l[1.0]: rms 5 max",
            "ptp4l[1.0]: rms x max 5",
        ] {
            assert_eq!(line(l), Err(BAD), "{l}");
        }
    }
}
