//! From written bytes to log lines, in place.

/// Calls `f` for each line of `data`: split on `\n`, a trailing `\r` cut,
/// empty lines skipped. When `truncated`, the bytes after the last newline
/// are the head of a cut line and are not passed on; returns whether such
/// a partial line was dropped.
pub(super) fn for_each_line(data: &[u8], truncated: bool, mut f: impl FnMut(&[u8])) -> bool {
    let (whole, partial) = if truncated {
        match memchr::memrchr(b'\n', data) {
            Some(i) => (&data[..=i], i + 1 < data.len()),
            None => (&data[..0], !data.is_empty()),
        }
    } else {
        (data, false)
    };
    for line in whole.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.is_empty() {
            f(line);
        }
    }
    partial
}

/// Like [`for_each_line`] over `partial` + `data`: a line a daemon split
/// over two writes is passed on whole. The bytes after the last newline
/// wait in `partial` for the next write (at most `max`; a longer head is
/// dropped and reported like a cut line). Returns whether bytes were
/// dropped.
pub(super) fn stitch(
    partial: &mut Vec<u8>,
    data: &[u8],
    truncated: bool,
    max: usize,
    mut f: impl FnMut(&[u8]),
) -> bool {
    let mut dropped = false;
    let mut data = data;
    if !partial.is_empty() {
        let Some(nl) = memchr::memchr(b'\n', data) else {
            if truncated || partial.len() + data.len() > max {
                partial.clear();
                return true;
            }
            partial.extend_from_slice(data);
            return false;
        };
        partial.extend_from_slice(&data[..nl]);
        for_each_line(partial, false, &mut f);
        partial.clear();
        data = &data[nl + 1..];
    }
    if truncated || data.last().is_none_or(|&b| b == b'\n') {
        return for_each_line(data, truncated, f) || dropped;
    }
    // An unfinished last line: whole lines now, its head later.
    let tail = memchr::memrchr(b'\n', data).map_or(0, |i| i + 1);
    for_each_line(&data[..tail], false, f);
    if data.len() - tail <= max {
        partial.extend_from_slice(&data[tail..]);
    } else {
        dropped = true;
    }
    dropped
}

/// Rewrites a syslog datagram as glibc's `syslog(3)` sends it,
/// `<PRI>Mmm dd hh:mm:ss ident[pid]: [ts] message`, as linuxptp prints the
/// same message on stdout, `ident[ts]: message`, into `out`. `None` when the
/// datagram does not have that shape.
pub(super) fn syslog_to_stdout(dgram: &[u8], out: &mut Vec<u8>) -> Option<()> {
    let rest = dgram.strip_prefix(b"<")?;
    let close = memchr::memchr(b'>', rest)?;
    if close == 0 || close > 3 || !rest[..close].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let rest = &rest[close + 1..];
    // The first ": " ends `ident[pid]` (the time has colons, never ": ").
    let colon = memchr::memmem::find(rest, b": ")?;
    let head = &rest[..colon];
    let ident_start = memchr::memrchr(b' ', head).map_or(0, |i| i + 1);
    let ident = &head[ident_start..];
    let ident = match memchr::memchr(b'[', ident) {
        Some(i) => &ident[..i],
        None => ident,
    };
    if ident.is_empty() {
        return None;
    }
    let msg = &rest[colon + 2..];
    let msg = msg.strip_suffix(b"\n").unwrap_or(msg);
    out.clear();
    out.extend_from_slice(ident);
    // linuxptp's syslog messages start with `[<monotonic s.ms>] `.
    if let Some(ts_end) = msg
        .strip_prefix(b"[")
        .and_then(|m| memchr::memchr(b']', m))
        .filter(|&e| msg.get(e + 2) == Some(&b' '))
    {
        out.extend_from_slice(&msg[..ts_end + 2]);
        out.extend_from_slice(b": ");
        out.extend_from_slice(&msg[ts_end + 3..]);
    } else {
        out.extend_from_slice(b": ");
        out.extend_from_slice(msg);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8], truncated: bool) -> (Vec<String>, bool) {
        let mut v = Vec::new();
        let p = for_each_line(data, truncated, |l| {
            v.push(String::from_utf8_lossy(l).into_owned());
        });
        (v, p)
    }

    #[test]
    fn splits_lines() {
        assert_eq!(
            lines(b"ptp4l[1.0]: a\nptp4l[1.1]: b\r\n\n", false),
            (
                vec!["ptp4l[1.0]: a".to_owned(), "ptp4l[1.1]: b".to_owned()],
                false
            )
        );
        assert_eq!(
            lines(b"no newline", false),
            (vec!["no newline".to_owned()], false)
        );
        assert_eq!(lines(b"one\ncut he", true), (vec!["one".to_owned()], true));
        assert_eq!(lines(b"cut without newline", true), (vec![], true));
        assert_eq!(lines(b"whole\n", true), (vec!["whole".to_owned()], false));
        assert_eq!(lines(b"", false), (vec![], false));
    }

    #[test]
    fn split_lines_are_stitched() {
        let mut partial = Vec::new();
        let mut v = Vec::new();
        let mut go = |d: &[u8], t: bool, p: &mut Vec<u8>| {
            stitch(p, d, t, 64, |l| {
                v.push(String::from_utf8_lossy(l).into_owned());
            })
        };
        assert!(!go(b"ptp4l[1.0]: master off", false, &mut partial));
        assert!(!go(
            b"set 5 s2 freq 1 path delay 2\nptp4l[1.1]: port",
            false,
            &mut partial
        ));
        assert!(!go(b" 1: a\n", false, &mut partial));
        assert!(partial.is_empty());
        // A head longer than the bound is dropped and reported.
        assert!(go(&[b'x'; 70], false, &mut partial));
        assert!(partial.is_empty());
        // A truncated record ends an unfinished line: dropped.
        assert!(!go(b"head ", false, &mut partial));
        assert!(go(b"of a cut", true, &mut partial));
        assert!(partial.is_empty());
        assert_eq!(
            v,
            [
                "ptp4l[1.0]: master offset 5 s2 freq 1 path delay 2",
                "ptp4l[1.1]: port 1: a"
            ]
        );
    }

    #[test]
    fn syslog_datagrams() {
        let mut out = Vec::new();
        syslog_to_stdout(
            b"<30>Nov 30 06:40:00 ptp4l: [3663.671] port 1: LISTENING to UNCALIBRATED on RS_SLAVE",
            &mut out,
        )
        .unwrap();
        assert_eq!(
            out,
            b"ptp4l[3663.671]: port 1: LISTENING to UNCALIBRATED on RS_SLAVE"
        );
        syslog_to_stdout(b"<14>Nov  3 06:40:00 phc2sys[77]: no timestamp\n", &mut out).unwrap();
        assert_eq!(out, b"phc2sys: no timestamp");
        assert!(syslog_to_stdout(b"<x>bad", &mut out).is_none());
        assert!(syslog_to_stdout(b"<30>no colon space", &mut out).is_none());
        assert!(syslog_to_stdout(b"plain", &mut out).is_none());
        assert!(syslog_to_stdout(b"<1234>Nov 30 x: y", &mut out).is_none());
    }
}
