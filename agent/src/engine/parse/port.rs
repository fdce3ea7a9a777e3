//! ptp4l port-state lines: `port 1 (ens1f0): SLAVE to FAULTY
//! on FAULT_DETECTED (FT_UNSPECIFIED)`, or `port 1: ...` from a ptp4l the
//! daemon does not wrap. The port number is the 1-based index of the
//! interface section in the config.

use super::{Malformed, tokens};

/// A port state as ptp4l names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortState {
    Initializing,
    Faulty,
    Disabled,
    Listening,
    PreMaster,
    Master,
    Passive,
    Uncalibrated,
    Slave,
    GrandMaster,
}

impl PortState {
    fn parse(t: &[u8]) -> Option<Self> {
        Some(match t {
            b"INITIALIZING" => Self::Initializing,
            b"FAULTY" => Self::Faulty,
            b"DISABLED" => Self::Disabled,
            b"LISTENING" => Self::Listening,
            b"PRE_MASTER" => Self::PreMaster,
            b"MASTER" => Self::Master,
            b"PASSIVE" => Self::Passive,
            b"UNCALIBRATED" => Self::Uncalibrated,
            b"SLAVE" => Self::Slave,
            b"GRAND_MASTER" => Self::GrandMaster,
            _ => return None,
        })
    }
}

/// The `openshift_ptp_interface_role` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Passive = 0,
    Slave = 1,
    Master = 2,
    Faulty = 3,
    Unknown = 4,
    Listening = 5,
}

impl Role {
    #[must_use]
    pub(crate) const fn metric(self) -> i64 {
        self as i64
    }
}

/// One transition of one port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortLine<'a> {
    pub port: u16,
    /// The name in parentheses, when the daemon's ptp4l prints it.
    pub iface: Option<&'a [u8]>,
    pub from: PortState,
    pub to: PortState,
    /// `FAULT_DETECTED`, `RS_SLAVE`, ...
    pub event: &'a [u8],
}

/// What a transition means for the port's role and its clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Transition {
    /// `None`: the role is not changed (start-up steps).
    pub role: Option<Role>,
    /// The port stopped being the clock's time source: HOLDOVER.
    pub lost_slave: bool,
}

/// `Ok(None)`: not a port-state line (or a non-numeric port, e.g. phc2sys's
/// `port b49691.fffe.a3f27c-1 changed state`).
///
/// # Errors
/// `port N` followed by something that is not a transition.
pub(crate) fn parse(message: &[u8]) -> Result<Option<PortLine<'_>>, Malformed> {
    const BAD: Malformed = Malformed { family: "port" };
    let Some(rest) = message.strip_prefix(b"port ") else {
        return Ok(None);
    };
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return Ok(None);
    }
    let port = std::str::from_utf8(&rest[..digits])
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(BAD)?;
    let mut rest = &rest[digits..];
    let mut iface = None;
    if let Some(r) = rest.strip_prefix(b" (") {
        let end = memchr::memchr(b')', r).ok_or(BAD)?;
        iface = Some(&r[..end]);
        rest = &r[end + 1..];
    }
    let Some(rest) = rest.strip_prefix(b":") else {
        return Ok(None);
    };
    let mut t = tokens(rest);
    let from = t.next().and_then(PortState::parse);
    let to_word = t.next();
    let to = t.next().and_then(PortState::parse);
    let (Some(from), Some(b"to"), Some(to)) = (from, to_word, to) else {
        // `port 1: new foreign master ...`, `port 1: link down`: not states.
        return Ok(None);
    };
    let event = match (t.next(), t.next()) {
        (Some(b"on"), Some(e)) => e,
        _ => b"",
    };
    Ok(Some(PortLine {
        port,
        iface,
        from,
        to,
        event,
    }))
}

/// The role and clock consequence of a transition. Unlike the anchor's
/// substring table, this reads the states: `LISTENING to
/// UNCALIBRATED on RS_SLAVE` (a normal start) is not a fault, `FAULTY to
/// SLAVE` makes the port SLAVE, and only a port that *was* SLAVE (as the
/// line itself says) takes its clock into HOLDOVER.
#[must_use]
pub(crate) fn classify(l: &PortLine<'_>) -> Transition {
    use PortState as S;
    let was_slave = l.from == S::Slave;
    let (role, lost) = match l.to {
        S::Faulty => (Some(Role::Faulty), true),
        _ if l.event == b"FAULT_DETECTED" || l.event == b"SYNCHRONIZATION_FAULT" => {
            (Some(Role::Faulty), true)
        }
        // On its way to SLAVE: keeps its role until it gets there.
        S::Uncalibrated if !was_slave => (None, false),
        S::Uncalibrated => (Some(Role::Faulty), true),
        S::Slave => (Some(Role::Slave), false),
        S::Passive => (Some(Role::Passive), false),
        S::Master | S::GrandMaster | S::PreMaster => (Some(Role::Master), true),
        S::Listening => (Some(Role::Listening), true),
        S::Disabled => (Some(Role::Unknown), true),
        S::Initializing => (None, false),
    };
    Transition {
        role,
        lost_slave: lost && was_slave,
    }
}

#[cfg(test)]
mod tests {
    use super::super::common::prefix;
    use super::*;

    fn line(l: &str) -> Option<PortLine<'_>> {
        parse(prefix(l.as_bytes()).message).unwrap()
    }

    #[test]
    fn parses_tagged_and_plain() {
        let l = line("ptp4l[72444.514]: [ptp4l.0.config:5] port 1 (ens1f0): SLAVE to FAULTY on FAULT_DETECTED (FT_UNSPECIFIED)").unwrap();
        assert_eq!(l.port, 1);
        assert_eq!(l.iface, Some(&b"ens1f0"[..]));
        assert_eq!((l.from, l.to), (PortState::Slave, PortState::Faulty));
        assert_eq!(l.event, b"FAULT_DETECTED");
        let l =
            line("ptp4l[3673.028]: port 1: SLAVE to LISTENING on ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES")
                .unwrap();
        assert_eq!((l.port, l.iface), (1, None));
        assert_eq!(l.to, PortState::Listening);
        let l = line("ptp4l[412707.219]: [ptp4l.0.config:5] port 11 (ens8f2): LISTENING to MASTER on ANNOUNCE_RECEIPT_TIMEOUT_EXPIRES").unwrap();
        assert_eq!((l.port, l.to), (11, PortState::Master));
    }

    #[test]
    fn not_port_states() {
        for l in [
            "phc2sys[152918.606]: [phc2sys.2.config:6] port b49691.fffe.a3f27c-1 changed state",
            "ptp4l[4075.708]: port 1: new foreign master 72aaf9.fffe.3c0974-1",
            "ptp4l[4075.708]: port 1: link down",
            "ptp4l[4075.708]: master offset 1 s2 freq 1 path delay 1",
            "ptp4l[4075.708]: port 1 SLAVE",
        ] {
            assert_eq!(line(l), None, "{l}");
        }
        assert!(parse(b"port 99999999: A to B").is_err());
        assert!(parse(b"port 1 (ens1f0: SLAVE to FAULTY").is_err());
    }
}
