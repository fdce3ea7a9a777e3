//! The PTP management messages `pmc` exchanges with ptp4l over its Unix
//! socket (linuxptp 3.1.1 `msg.h`, `tlv.h`, `pmc_common.c`): a 34-byte PTP
//! header, the 14-byte management fields, one management TLV.

use crate::engine::parse::port::PortState;

/// messageType MANAGEMENT.
const MANAGEMENT: u8 = 0x0d;
const PTP_VERSION: u8 = 2;
/// `control` of management messages.
const CTL_MANAGEMENT: u8 = 4;
const TLV_MANAGEMENT: u16 = 0x0001;
const HEADER: usize = 34;
/// Header plus management fields: where the TLV starts.
const TLV_AT: usize = HEADER + 14;

pub(crate) const PARENT_DATA_SET: u16 = 0x2002;
pub(crate) const TIME_STATUS_NP: u16 = 0xc000;
pub(crate) const PORT_DATA_SET: u16 = 0x2004;
pub(crate) const SUBSCRIBE_EVENTS_NP: u16 = 0xc003;
/// linuxptp 3.1.1 knows only this notification.
pub(crate) const NOTIFY_PORT_STATE: usize = 0;
/// linuxptp 4.0 and later; 3.1.1 stores the bit and never uses it.
pub(crate) const NOTIFY_PARENT_DATA_SET: usize = 2;
const EVENT_BITMASK_CNT: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Get = 0,
    Set = 1,
    /// What ptp4l answers with; the agent only reads it.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "a wire value the agent only receives")
    )]
    Response = 2,
}

/// A management request to every port of the clock (wildcard target).
#[must_use]
pub(crate) fn request(action: Action, id: u16, seq: u16, data: &[u8]) -> Vec<u8> {
    let tlv_len = 2 + data.len();
    let total = TLV_AT + 4 + tlv_len;
    let mut m = vec![0u8; total];
    m[0] = MANAGEMENT;
    m[1] = PTP_VERSION;
    m[2..4].copy_from_slice(&u16::try_from(total).unwrap_or(u16::MAX).to_be_bytes());
    // sourcePortIdentity: pmc's is its own (clock id zero, port = pid);
    // ptp4l answers to the socket address, not to this.
    m[28..30].copy_from_slice(&(std::process::id() as u16).to_be_bytes());
    m[30..32].copy_from_slice(&seq.to_be_bytes());
    m[32] = CTL_MANAGEMENT;
    m[33] = 0x7f;
    // targetPortIdentity: all clocks, all ports.
    m[34..44].fill(0xff);
    // No boundary hops (`pmc -b 0`, as the linuxptp-daemon runs it): with
    // one, ptp4l forwards the request to the clocks on its ports and hands
    // their answers back to us as if they were its own.
    m[44] = 0; // startingBoundaryHops
    m[45] = 0; // boundaryHops
    m[46] = action as u8;
    m[TLV_AT..TLV_AT + 2].copy_from_slice(&TLV_MANAGEMENT.to_be_bytes());
    m[TLV_AT + 2..TLV_AT + 4].copy_from_slice(&u16::try_from(tlv_len).unwrap_or(0).to_be_bytes());
    m[TLV_AT + 4..TLV_AT + 6].copy_from_slice(&id.to_be_bytes());
    m[TLV_AT + 6..].copy_from_slice(data);
    m
}

/// `SET SUBSCRIBE_EVENTS_NP` for `events`, valid for `duration` seconds.
#[must_use]
pub(crate) fn subscribe(seq: u16, duration: u16, events: &[usize]) -> Vec<u8> {
    let mut data = [0u8; 2 + EVENT_BITMASK_CNT];
    data[..2].copy_from_slice(&duration.to_be_bytes());
    for &e in events {
        data[2 + e / 8] |= 1 << (e % 8);
    }
    request(Action::Set, SUBSCRIBE_EVENTS_NP, seq, &data)
}

/// One management TLV received from ptp4l.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reply<'a> {
    pub action: u8,
    /// The answering port (0: the clock).
    pub port: u16,
    pub id: u16,
    pub data: &'a [u8],
}

/// Parses a management message; `None` for anything else (errors,
/// truncated or foreign datagrams).
#[must_use]
pub(crate) fn parse(m: &[u8]) -> Option<Reply<'_>> {
    if m.len() < TLV_AT + 6 || m[0] & 0x0f != MANAGEMENT || m[1] & 0x0f != PTP_VERSION {
        return None;
    }
    let be = |i: usize| u16::from_be_bytes([m[i], m[i + 1]]);
    if be(TLV_AT) != TLV_MANAGEMENT {
        return None;
    }
    let len = usize::from(be(TLV_AT + 2));
    let data = m.get(TLV_AT + 6..TLV_AT + 4 + len)?;
    Some(Reply {
        action: m[46] & 0x0f,
        port: be(28),
        id: be(TLV_AT + 4),
        data,
    })
}

/// `portDS.portState` of a PORT_DATA_SET (after the 10-byte identity),
/// with the port number from the identity.
#[must_use]
pub(crate) fn port_state(data: &[u8]) -> Option<(u16, PortState)> {
    let port = u16::from_be_bytes([*data.get(8)?, *data.get(9)?]);
    let state = match data.get(10)? {
        1 => PortState::Initializing,
        2 => PortState::Faulty,
        3 => PortState::Disabled,
        4 => PortState::Listening,
        5 => PortState::PreMaster,
        6 => PortState::Master,
        7 => PortState::Passive,
        8 => PortState::Uncalibrated,
        9 => PortState::Slave,
        10 => PortState::GrandMaster,
        _ => return None,
    };
    Some((port, state))
}

/// `TIME_STATUS_NP`: the master offset (ns) and `gmPresent`. Layout
/// (linuxptp `struct time_status_np`): master_offset i64, ingress_time
/// i64, cumulativeScaledRateOffset i32, scaledLastGmPhaseChange i32,
/// gmTimeBaseIndicator u16, lastGmPhaseChange 12 bytes, gmPresent i32,
/// gmIdentity 8 bytes.
#[must_use]
pub(crate) fn time_status(data: &[u8]) -> Option<(i64, bool)> {
    let offset = i64::from_be_bytes(data.get(..8)?.try_into().ok()?);
    let gm = i32::from_be_bytes(data.get(38..42)?.try_into().ok()?);
    Some((offset, gm != 0))
}

/// `parentDS.grandmasterClockQuality.clockClass`.
#[must_use]
pub(crate) fn gm_clock_class(data: &[u8]) -> Option<u8> {
    // parentPortIdentity 10, parentStats 1, reserved 1, variance 2,
    // phase change rate 4, grandmasterPriority1 1, then clockClass.
    data.get(19).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn get_layout_matches_pmc() {
        let m = request(Action::Get, PARENT_DATA_SET, 7, &[]);
        assert_eq!(m.len(), 54);
        assert_eq!(&m[..4], &[0x0d, 0x02, 0x00, 54]);
        assert_eq!(&m[30..34], &[0, 7, 4, 0x7f]);
        assert_eq!(
            &m[34..46],
            &[0xff; 10].iter().copied().chain([0, 0]).collect::<Vec<_>>()[..]
        );
        assert_eq!(m[46], 0);
        assert_eq!(&m[48..54], &[0, 1, 0, 2, 0x20, 0x02]);
    }

    #[test]
    fn subscribe_layout() {
        let m = subscribe(1, 180, &[NOTIFY_PORT_STATE]);
        assert_eq!(m.len(), 48 + 4 + 2 + 66);
        assert_eq!(m[46], 1);
        assert_eq!(&m[48..56], &[0, 1, 0, 68, 0xc0, 0x03, 0, 180]);
        assert_eq!(m[56], 1);
    }

    #[test]
    fn parses_a_reply_and_rejects_junk() {
        let mut m = request(Action::Get, PORT_DATA_SET, 1, &[0; 26]);
        m[46] = Action::Response as u8;
        m[28..30].copy_from_slice(&1u16.to_be_bytes());
        m[54 + 8..54 + 10].copy_from_slice(&1u16.to_be_bytes());
        m[54 + 10] = 9;
        let r = parse(&m).unwrap();
        assert_eq!((r.action, r.port, r.id), (2, 1, PORT_DATA_SET));
        assert_eq!(port_state(r.data), Some((1, PortState::Slave)));
        assert_eq!(parse(&m[..40]), None);
        assert_eq!(parse(b""), None);
        let mut bad = m.clone();
        bad[50..52].copy_from_slice(&0xffffu16.to_be_bytes());
        assert_eq!(parse(&bad), None);
        let mut pds = [0u8; 32];
        pds[19] = 248;
        assert_eq!(gm_clock_class(&pds), Some(248));
        assert_eq!(gm_clock_class(&[0; 5]), None);
        let mut ts = [0u8; 50];
        ts[..8].copy_from_slice(&(-42i64).to_be_bytes());
        ts[38..42].copy_from_slice(&1i32.to_be_bytes());
        assert_eq!(time_status(&ts), Some((-42, true)));
        assert_eq!(time_status(&ts[..40]), None);
    }
}
