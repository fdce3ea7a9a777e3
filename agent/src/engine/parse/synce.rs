//! synce4l lines as the daemon formats them: `<iface>` then sorted
//! `key value` pairs (`clock_quality`, `device`, `eec_state`, `ext_ql`,
//! `network_option`, `ql`) then the state token.

use super::daemon::daemon_state;
use super::{Malformed, int, tokens};
use crate::event::SyncState;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Synce<'a> {
    pub iface: &'a [u8],
    pub device: &'a [u8],
    /// `eec_state` present: a lock-state line.
    pub eec_state: Option<&'a [u8]>,
    /// `clock_quality` present: a clock-quality line.
    pub clock_quality: Option<&'a [u8]>,
    pub network_option: Option<i64>,
    pub ql: Option<u8>,
    pub ext_ql: Option<u8>,
    pub state: SyncState,
}

/// A `0x20` or `32` byte.
fn byte(v: &[u8]) -> Option<u8> {
    match v.strip_prefix(b"0x").or_else(|| v.strip_prefix(b"0X")) {
        Some(hex) => u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok(),
        None => u8::try_from(int(v)?).ok(),
    }
}

/// # Errors
/// A synce line whose values do not parse, or without a device.
pub(crate) fn parse(message: &[u8]) -> Result<Option<Synce<'_>>, Malformed> {
    const BAD: Malformed = Malformed { family: "synce4l" };
    let mut t = tokens(message);
    let iface = t.next().ok_or(BAD)?;
    let mut s = Synce {
        iface,
        device: b"",
        eec_state: None,
        clock_quality: None,
        network_option: None,
        ql: None,
        ext_ql: None,
        state: SyncState::Freerun,
    };
    while let Some(k) = t.next() {
        if let Some(state) = daemon_state(k) {
            s.state = state;
            if s.device.is_empty() {
                return Err(BAD);
            }
            return Ok(Some(s));
        }
        let v = t.next().ok_or(BAD)?;
        match k {
            b"device" => s.device = v,
            b"eec_state" => s.eec_state = Some(v),
            b"clock_quality" => s.clock_quality = Some(v),
            b"network_option" => s.network_option = Some(int(v).ok_or(BAD)?),
            b"ql" => s.ql = Some(byte(v).ok_or(BAD)?),
            b"ext_ql" => s.ext_ql = Some(byte(v).ok_or(BAD)?),
            _ => {}
        }
    }
    // No state token: not a line the daemon formatted.
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::super::common::prefix;
    use super::*;

    #[test]
    fn anchor_lines() {
        let l = "synce4l[1722456110]:[synce4l.0.config] ens7f0 device synce1 eec_state EEC_HOLDOVER network_option 2 s1";
        let s = parse(prefix(l.as_bytes()).message).unwrap().unwrap();
        assert_eq!(s.iface, b"ens7f0");
        assert_eq!(s.device, b"synce1");
        assert_eq!(s.eec_state, Some(&b"EEC_HOLDOVER"[..]));
        assert_eq!((s.network_option, s.state), (Some(2), SyncState::Holdover));

        // The anchor's tests show them after its `[`/`]`/`:` replacer.
        let l = "synce4l 1722458091 synce4l.0.config ens7f0 clock_quality PRTC device synce1 ext_ql 0x20 network_option 2 ql 0x1 s2";
        let msg = l.splitn(4, ' ').nth(3).unwrap();
        let s = parse(msg.as_bytes()).unwrap().unwrap();
        assert_eq!((s.ql, s.ext_ql), (Some(1), Some(0x20)));
        assert_eq!(s.clock_quality, Some(&b"PRTC"[..]));
        assert_eq!(s.state, SyncState::Locked);
        let l = "ens5f1 clock_quality PRTC device synce2 network_option 2 ql 0x1 s2";
        let s = parse(l.as_bytes()).unwrap().unwrap();
        assert_eq!((s.device, s.ext_ql), (&b"synce2"[..], None));
    }

    #[test]
    fn bad() {
        assert!(parse(b"ens7f0 device synce1 ql 0xZZ s2").is_err());
        assert!(parse(b"ens7f0 eec_state X s2").is_err());
        assert!(parse(b"ens7f0 device").is_err());
        assert_eq!(parse(b"ens7f0 device d"), Ok(None));
    }
}
