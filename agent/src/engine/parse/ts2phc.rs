//! ts2phc lines: `<iface> master offset <ns> sN freq <ppb>`, the
//! daemon's `<iface> offset <ns> sN freq <ppb> holdover`, and
//! `<iface> nmea_status <0|1> offset <ns> sN`. The other ts2phc lines
//! (`nmea delay:`, `extts index`, `source ts not valid`) are ignored.

use super::{Malformed, int, tokens};
use crate::event::SyncState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Offset {
        iface: &'a [u8],
        offset: i64,
        /// `s0`/`s1` FREERUN, `s2`/`s3` LOCKED, trailing `holdover` HOLDOVER.
        state: SyncState,
        freq: Option<i64>,
    },
    Nmea {
        iface: &'a [u8],
        available: bool,
    },
}

const BAD: Malformed = Malformed { family: "ts2phc" };

/// # Errors
/// An offset or nmea line whose numbers do not parse.
pub(crate) fn parse(message: &[u8]) -> Result<Option<Line<'_>>, Malformed> {
    let mut t = tokens(message);
    let Some(iface) = t.next() else {
        return Ok(None);
    };
    match t.next() {
        Some(b"master") if t.next() == Some(b"offset") => {}
        Some(b"offset") => {}
        Some(b"nmea_status") => {
            let available = match t.next() {
                Some(b"0") => false,
                Some(b"1") => true,
                _ => return Err(BAD),
            };
            return Ok(Some(Line::Nmea { iface, available }));
        }
        _ => return Ok(None),
    }
    let offset = t.next().and_then(int).ok_or(BAD)?;
    let mut state = match t.next().ok_or(BAD)? {
        b"s0" | b"s1" => SyncState::Freerun,
        b"s2" | b"s3" => SyncState::Locked,
        _ => return Ok(None),
    };
    let mut freq = None;
    while let Some(w) = t.next() {
        match w {
            b"freq" => freq = Some(t.next().and_then(int).ok_or(BAD)?),
            b"holdover" => state = SyncState::Holdover,
            _ => {}
        }
    }
    Ok(Some(Line::Offset {
        iface,
        offset,
        state,
        freq,
    }))
}

#[cfg(test)]
mod tests {
    use super::super::common::prefix;
    use super::*;

    fn line(l: &str) -> Result<Option<Line<'_>>, Malformed> {
        parse(prefix(l.as_bytes()).message)
    }

    fn off(iface: &str, offset: i64, state: SyncState, freq: i64) -> Line<'_> {
        Line::Offset {
            iface: iface.as_bytes(),
            offset,
            state,
            freq: Some(freq),
        }
    }

    #[test]
    fn anchor_lines() {
        use SyncState::{Freerun, Holdover, Locked};
        let cases = [
            (
                "ts2phc[82674.465]: [ts2phc.0.config] ens2f1 master offset          0 s2 freq      -0",
                Some(off("ens2f1", 0, Locked, 0)),
            ),
            (
                "ts2phc[1000000310]: [ts2phc.0.config] ens7f0 master offset 999 s0 freq      -0",
                Some(off("ens7f0", 999, Freerun, 0)),
            ),
            (
                "ts2phc[521734.693]: [ts2phc.0.config:6] ens2f2 offset      -1 s2 freq      -3972 holdover",
                Some(off("ens2f2", -1, Holdover, -3972)),
            ),
            (
                "ts2phc[1896327.319]: [ts2phc.0.config] ens2f0 master offset         3 s0 freq      4",
                Some(off("ens2f0", 3, Freerun, 4)),
            ),
            (
                "ts2phc[1699929121]:[ts2phc.0.config] ens2f0 nmea_status 0 offset 999999 s0",
                Some(Line::Nmea {
                    iface: b"ens2f0",
                    available: false,
                }),
            ),
            (
                "ts2phc[1726600506]:[ts2phc.0.config] ens7f0 nmea_status 1 offset 0 s2",
                Some(Line::Nmea {
                    iface: b"ens7f0",
                    available: true,
                }),
            ),
            (
                "ts2phc[82674.465]: [ts2phc.0.config] nmea delay: 88403525 ns",
                None,
            ),
            (
                "ts2phc[82674.465]: [ts2phc.0.config] ens2f1 extts index 0 at 1673031129.000000000 corr 0 src 1673031129.911642976 diff 0",
                None,
            ),
            (
                "ts2phc[20748687.391]: [ts2phc.0.config:3] source ts not valid",
                None,
            ),
        ];
        for (l, want) in cases {
            assert_eq!(line(l), Ok(want), "{l}");
        }
    }

    #[test]
    fn bad_numbers() {
        assert!(line("ts2phc[1]: ens2f1 master offset x s2").is_err());
        assert!(line("ts2phc[1]: ens2f1 master offset 5").is_err());
        assert!(line("ts2phc[1]: ens2f1 nmea_status 7").is_err());
        assert!(line("ts2phc[1]: ens2f1 master offset 5 s2 freq").is_err());
    }
}
