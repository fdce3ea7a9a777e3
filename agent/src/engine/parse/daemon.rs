//! Lines the linuxptp-daemon writes itself: `T-GM-STATUS`,
//! `T-BC-STATUS`, `dpll`, `gnss`, `CLOCK_CLASS_CHANGE`, `chronyd` and
//! `ptp_ha_profile`. In these, `s1` means HOLDOVER.

use super::{Malformed, int, tokens};
use crate::event::SyncState;

/// The daemon's state token: `s0` FREERUN, `s1` HOLDOVER, `s2`/`s3` LOCKED.
#[must_use]
pub(crate) fn daemon_state(t: &[u8]) -> Option<SyncState> {
    match t {
        b"s0" => Some(SyncState::Freerun),
        b"s1" => Some(SyncState::Holdover),
        b"s2" | b"s3" => Some(SyncState::Locked),
        _ => None,
    }
}

/// `<iface> T-GM-STATUS sN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gm<'a> {
    pub iface: &'a [u8],
    pub state: SyncState,
}

/// `<iface> offset <ns> T-BC-STATUS sN [holdover]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tbc<'a> {
    pub iface: &'a [u8],
    pub offset: i64,
    pub state: SyncState,
}

/// `<iface> frequency_status F offset O phase_status P pps_status S sN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dpll<'a> {
    pub iface: &'a [u8],
    pub frequency_status: Option<i64>,
    pub phase_status: Option<i64>,
    pub pps_status: Option<i64>,
    pub offset: Option<i64>,
    pub state: SyncState,
}

/// `<iface> gnss_status F offset O sN`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gnss<'a> {
    pub iface: &'a [u8],
    pub status: i64,
    pub offset: i64,
    pub state: SyncState,
}

/// `<iface>` then `key value` pairs then the state token; `None` when the
/// state token is missing or unknown.
fn pairs<'a>(
    message: &'a [u8],
    bad: Malformed,
    mut each: impl FnMut(&'a [u8], &'a [u8]) -> Result<(), Malformed>,
) -> Result<Option<(&'a [u8], SyncState)>, Malformed> {
    let mut t = tokens(message);
    let iface = t.next().ok_or(bad)?;
    while let Some(k) = t.next() {
        if let Some(s) = daemon_state(k) {
            return Ok(Some((iface, s)));
        }
        let v = t.next().ok_or(bad)?;
        each(k, v)?;
    }
    Ok(None)
}

/// # Errors
/// A GM line without its state.
pub(crate) fn gm(message: &[u8]) -> Result<Option<Gm<'_>>, Malformed> {
    let mut t = tokens(message);
    let (Some(iface), Some(b"T-GM-STATUS")) = (t.next(), t.next()) else {
        return Ok(None);
    };
    let state = t
        .next()
        .and_then(daemon_state)
        .ok_or(Malformed { family: "GM" })?;
    Ok(Some(Gm { iface, state }))
}

/// # Errors
/// A T-BC line whose offset or state does not parse.
pub(crate) fn tbc(message: &[u8]) -> Result<Option<Tbc<'_>>, Malformed> {
    const BAD: Malformed = Malformed { family: "T-BC" };
    let mut t = tokens(message);
    let (Some(iface), Some(b"offset")) = (t.next(), t.next()) else {
        return Ok(None);
    };
    let offset = t.next().and_then(int).ok_or(BAD)?;
    if t.next() != Some(b"T-BC-STATUS") {
        return Ok(None);
    }
    let mut state = t.next().and_then(daemon_state).ok_or(BAD)?;
    if t.next() == Some(b"holdover") {
        state = SyncState::Holdover;
    }
    Ok(Some(Tbc {
        iface,
        offset,
        state,
    }))
}

/// # Errors
/// A dpll line whose values do not parse.
pub(crate) fn dpll(message: &[u8]) -> Result<Option<Dpll<'_>>, Malformed> {
    const BAD: Malformed = Malformed { family: "dpll" };
    let (mut f, mut p, mut s, mut o) = (None, None, None, None);
    let r = pairs(message, BAD, |k, v| {
        let slot = match k {
            b"frequency_status" => &mut f,
            b"phase_status" => &mut p,
            b"pps_status" => &mut s,
            b"offset" => &mut o,
            _ => return Ok(()),
        };
        *slot = Some(int(v).ok_or(BAD)?);
        Ok(())
    })?;
    Ok(r.map(|(iface, state)| Dpll {
        iface,
        frequency_status: f,
        phase_status: p,
        pps_status: s,
        offset: o,
        state,
    }))
}

/// # Errors
/// A gnss line whose values do not parse or miss.
pub(crate) fn gnss(message: &[u8]) -> Result<Option<Gnss<'_>>, Malformed> {
    const BAD: Malformed = Malformed { family: "gnss" };
    let (mut status, mut offset) = (None, None);
    let r = pairs(message, BAD, |k, v| {
        match k {
            b"gnss_status" => status = Some(int(v).ok_or(BAD)?),
            b"offset" => offset = Some(int(v).ok_or(BAD)?),
            _ => {}
        }
        Ok(())
    })?;
    let Some((iface, state)) = r else {
        return Ok(None);
    };
    Ok(Some(Gnss {
        iface,
        status: status.ok_or(BAD)?,
        offset: offset.unwrap_or(0),
        state,
    }))
}

/// `CLOCK_CLASS_CHANGE 248.000000` or `... 6`: the class.
///
/// # Errors
/// The value is not a clock class (0-255, no fraction).
pub(crate) fn clock_class(message: &[u8]) -> Result<Option<u8>, Malformed> {
    const BAD: Malformed = Malformed {
        family: "CLOCK_CLASS_CHANGE",
    };
    let Some(v) = message.strip_prefix(b"CLOCK_CLASS_CHANGE") else {
        return Ok(None);
    };
    let v = v.trim_ascii();
    let (whole, frac) = match memchr::memchr(b'.', v) {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    if !frac.iter().all(|c| *c == b'0') {
        return Err(BAD);
    }
    let n = int(whole).ok_or(BAD)?;
    u8::try_from(n).map(Some).map_err(|_| BAD)
}

/// chronyd: `Some(true)` on `Selected source`, `Some(false)` on `no
/// selectable sources`.
#[must_use]
pub(crate) fn chronyd(message: &[u8]) -> Option<bool> {
    if message.starts_with(b"Selected source") {
        Some(true)
    } else if memchr::memmem::find(message, b"no selectable sources").is_some() {
        Some(false)
    } else {
        None
    }
}

/// `ptp_ha_profile <profile> state <0|1>`.
///
/// # Errors
/// The state is not 0 or 1.
pub(crate) fn ha_profile(message: &[u8]) -> Result<Option<(&[u8], bool)>, Malformed> {
    let mut t = tokens(message);
    let (Some(b"ptp_ha_profile"), Some(profile), Some(b"state")) = (t.next(), t.next(), t.next())
    else {
        return Ok(None);
    };
    match t.next() {
        Some(b"0") => Ok(Some((profile, false))),
        Some(b"1") => Ok(Some((profile, true))),
        _ => Err(Malformed {
            family: "ptp_ha_profile",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::prefix;
    use super::*;
    use SyncState::{Freerun, Holdover, Locked};

    fn m(l: &str) -> &[u8] {
        prefix(l.as_bytes()).message
    }

    #[test]
    fn gm_lines() {
        let g = gm(m("GM[1689282762]:[ts2phc.0.config] ens2f1 T-GM-STATUS s0")).unwrap();
        assert_eq!(
            g,
            Some(Gm {
                iface: b"ens2f1",
                state: Freerun
            })
        );
        let g = gm(m("GM[2000000100]:[ts2phc.0.config] ens2f0 T-GM-STATUS s2")).unwrap();
        assert_eq!(g.unwrap().state, Locked);
        assert!(gm(b"ens2f0 T-GM-STATUS s9").is_err());
    }

    #[test]
    fn tbc_lines() {
        let cases = [
            (
                "T-BC[1743005894]:[ptp4l.0.config] ens2f0  offset  55 T-BC-STATUS s2",
                55,
                Locked,
            ),
            (
                "T-BC[1780430800]:[ts2phc.1.config] ens2f0 offset 0 T-BC-STATUS s2",
                0,
                Locked,
            ),
            (
                "T-BC[1743005894]:[ptp4l.0.config] ens2f0 offset 123 T-BC-STATUS s0",
                123,
                Freerun,
            ),
            (
                "T-BC[1689014436]:[ts2phc.1.config] ens7f0 offset 123 T-BC-STATUS s3 holdover",
                123,
                Holdover,
            ),
        ];
        for (l, offset, state) in cases {
            let t = tbc(m(l)).unwrap().unwrap();
            assert_eq!((t.offset, t.state), (offset, state), "{l}");
        }
    }

    #[test]
    fn dpll_lines() {
        let d = dpll(m("dpll[1700598434]:[ts2phc.0.config] ens2f0 frequency_status 3 offset 0 phase_status 3 pps_status 1 s2")).unwrap().unwrap();
        assert_eq!(
            (d.frequency_status, d.phase_status, d.pps_status, d.offset),
            (Some(3), Some(3), Some(1), Some(0))
        );
        assert_eq!(d.state, Locked);
        let d = dpll(m("dpll[1000000120]:[ts2phc.0.config] ens7f0 frequency_status 3 offset 7 phase_status 3 pps_status 0 s1")).unwrap().unwrap();
        assert_eq!((d.offset, d.state), (Some(7), Holdover));
        assert!(dpll(b"ens7f0 frequency_status x s2").is_err());
    }

    #[test]
    fn gnss_lines() {
        let g = gnss(m(
            "gnss[1689014431]:[ts2phc.0.config] ens2f1 gnss_status 5 offset 0 s2",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((g.status, g.offset, g.state), (5, 0, Locked));
        let g = gnss(m(
            "gnss[1000000500]:[ts2phc.0.config] ens2f1 gnss_status 3 offset 5 s2",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((g.status, g.offset), (3, 5));
        assert!(gnss(b"ens2f1 offset 5 s2").is_err());
    }

    #[test]
    fn clock_classes() {
        let c = |l: &str| clock_class(m(l));
        assert_eq!(
            c("ptp4l[1000000600]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 248.000000"),
            Ok(Some(248))
        );
        assert_eq!(
            c("ptp4l[1646672953]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 165.000000"),
            Ok(Some(165))
        );
        assert_eq!(
            c("ptp4l[1780430800]:[ptp4l.0.config] CLOCK_CLASS_CHANGE 6"),
            Ok(Some(6))
        );
        assert!(clock_class(b"CLOCK_CLASS_CHANGE 256").is_err());
        assert!(clock_class(b"CLOCK_CLASS_CHANGE 6.5").is_err());
        assert!(clock_class(b"CLOCK_CLASS_CHANGE -1").is_err());
        assert!(clock_class(b"CLOCK_CLASS_CHANGE").is_err());
        assert_eq!(clock_class(b"master offset"), Ok(None));
    }

    #[test]
    fn chronyd_and_ha() {
        assert_eq!(
            chronyd(m(
                "chronyd[1000000800]: [chronyd.0.config] Selected source 192.168.1.1"
            )),
            Some(true)
        );
        assert_eq!(
            chronyd(m(
                "chronyd[1000000820]: [chronyd.0.config] no selectable sources"
            )),
            Some(false)
        );
        assert_eq!(chronyd(b"System clock wrong by 1.2 seconds"), None);
        assert_eq!(
            ha_profile(m(
                "phc2sys[1710435400]:[phc2sys.2.config] ptp_ha_profile profile1 state 1"
            )),
            Ok(Some((&b"profile1"[..], true)))
        );
        assert!(ha_profile(b"ptp_ha_profile p state 2").is_err());
    }
}
