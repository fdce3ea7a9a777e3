//! The `proc[ts]: [cfg:level] ` prefix every line carries, with
//! or without the daemon's tag, and the synthetic `PTP_PROCESS_STATUS:N`.

/// The parts of a line before its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix<'a> {
    /// `ptp4l`, `phc2sys`, ... (empty when the line has no `proc[..]:`).
    pub process: &'a [u8],
    /// `ptp4l.0.config`, the `:level` suffix removed; `None` when untagged.
    pub config: Option<&'a [u8]>,
    /// The message, leading blanks removed.
    pub message: &'a [u8],
}

fn skip_blanks(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|c| **c == b' ' || **c == b'\t').count();
    &s[n..]
}

/// Splits `line` into process, tag and message. Lines without a
/// `proc[ts]` head (e.g. `ptp4l -q` to a terminal) are all message.
#[must_use]
pub fn prefix(line: &[u8]) -> Prefix<'_> {
    let bare = Prefix {
        process: b"",
        config: None,
        message: skip_blanks(line),
    };
    let Some(open) = memchr::memchr(b'[', line) else {
        return bare;
    };
    let process = &line[..open];
    if process.is_empty() || process.iter().any(u8::is_ascii_whitespace) {
        return bare;
    }
    let Some(close) = memchr::memchr(b']', &line[open..]).map(|i| open + i) else {
        return bare;
    };
    // `ptp4l[12.3]: ` and `chronyd[12][chronyd.0.config]: ` (no colon).
    let mut rest = &line[close + 1..];
    if let Some(r) = rest.strip_prefix(b":") {
        rest = r;
    }
    rest = skip_blanks(rest);
    let mut config = None;
    if let Some(tagged) = rest.strip_prefix(b"[")
        && let Some(end) = memchr::memchr(b']', tagged)
    {
        let tag = &tagged[..end];
        // `[ptp4l.0.config:6]`: the level is not part of the name.
        let name = match memchr::memrchr(b':', tag) {
            Some(i) => &tag[..i],
            None => tag,
        };
        if !name.is_empty() && !name.iter().any(u8::is_ascii_whitespace) {
            config = Some(name);
            rest = &tagged[end + 1..];
            if let Some(r) = rest.strip_prefix(b":") {
                rest = r;
            }
            rest = skip_blanks(rest);
        }
    }
    Prefix {
        process,
        config,
        message: rest,
    }
}

/// Sets `origin`'s config and process from `line`'s tag, when it has one
/// (allocates only when they differ from the last ones).
pub(crate) fn learn(origin: &mut crate::engine::Origin, line: &[u8]) {
    let p = prefix(line);
    let (Some(cfg), Ok(process)) = (p.config, std::str::from_utf8(p.process)) else {
        return;
    };
    let Ok(cfg) = std::str::from_utf8(cfg) else {
        return;
    };
    if origin.config.as_deref() != Some(cfg) {
        origin.config = Some(cfg.into());
    }
    if !process.is_empty() && origin.process.as_deref() != Some(process) {
        origin.process = Some(process.into());
    }
}

/// `PTP_PROCESS_STATUS:N` (the daemon's process up/down line): `Some(up)`.
#[must_use]
pub(crate) fn process_status(message: &[u8]) -> Option<bool> {
    let v = message.strip_prefix(b"PTP_PROCESS_STATUS:")?;
    match v.trim_ascii() {
        b"0" => Some(false),
        b"1" => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(line: &str) -> (String, Option<String>, String) {
        let p = prefix(line.as_bytes());
        let s = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
        (s(p.process), p.config.map(s), s(p.message))
    }

    #[test]
    fn tagged_with_space() {
        assert_eq!(
            p("ptp4l[365195.391]: [ptp4l.0.config] master offset         -1 s2"),
            (
                "ptp4l".into(),
                Some("ptp4l.0.config".into()),
                "master offset         -1 s2".into()
            )
        );
    }

    #[test]
    fn tagged_with_level_and_without_space() {
        assert_eq!(
            p("phc2sys[10522413.392]: [ptp4l.0.config:6] CLOCK_REALTIME phc offset 8 s2"),
            (
                "phc2sys".into(),
                Some("ptp4l.0.config".into()),
                "CLOCK_REALTIME phc offset 8 s2".into()
            )
        );
        assert_eq!(
            p("ptp4l[1780430740]:[ptp4l.1.config] PTP_PROCESS_STATUS:0"),
            (
                "ptp4l".into(),
                Some("ptp4l.1.config".into()),
                "PTP_PROCESS_STATUS:0".into()
            )
        );
        assert_eq!(
            p("chronyd[1000000800][chronyd.0.config]: Selected source 192.168.1.1").1,
            Some("chronyd.0.config".into())
        );
    }

    #[test]
    fn untagged_plain_ptp4l() {
        assert_eq!(
            p("ptp4l[3664.048]: master offset       -398 s2 freq   -3035 path delay      2157"),
            (
                "ptp4l".into(),
                None,
                "master offset       -398 s2 freq   -3035 path delay      2157".into()
            )
        );
        assert_eq!(
            p("ptp4l[4072.156]: port 1: INITIALIZING to LISTENING on INIT_COMPLETE").2,
            "port 1: INITIALIZING to LISTENING on INIT_COMPLETE"
        );
    }

    #[test]
    fn odd_heads() {
        assert_eq!(p("master offset 5 s2").0, "");
        assert_eq!(p("master offset 5 s2").2, "master offset 5 s2");
        assert_eq!(p("ptp4l[12").2, "ptp4l[12");
        assert_eq!(p("").2, "");
        assert_eq!(p("x[1]: [").1, None);
        assert_eq!(p("x[1]: []").1, None);
        assert_eq!(p("a b[1]: m").0, "");
    }

    #[test]
    fn status() {
        assert_eq!(process_status(b"PTP_PROCESS_STATUS:1"), Some(true));
        assert_eq!(process_status(b"PTP_PROCESS_STATUS:0"), Some(false));
        assert_eq!(process_status(b"PTP_PROCESS_STATUS:7"), None);
        assert_eq!(process_status(b"PTP_PROCESS_STATUS:"), None);
        assert_eq!(process_status(b"master offset"), None);
    }
}
