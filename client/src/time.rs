//! RFC 3339 UTC times as CloudEvents carry them (`...Z`, up to nine
//! fractional digits), without a calendar crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses an RFC 3339 time such as `2024-08-28T14:50:57.327585316Z` or
/// `2024-08-28T16:50:57.3+02:00` (up to nine fractional digits, `Z`, `z` or
/// a `±hh:mm` offset); `None` for anything else, fields out of range (a
/// month 13, an hour 24) included. The one RFC 3339 parser of the workspace.
#[must_use]
pub fn parse_rfc3339(t: &str) -> Option<SystemTime> {
    let b = t.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse::<i64>().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let rest = t.get(19..)?;
    let (nanos, zone): (u32, &str) = match rest.strip_prefix('.') {
        Some(f) => {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 || n > 9 {
                return None;
            }
            (format!("{:0<9}", &f[..n]).parse().ok()?, &f[n..])
        }
        None => (0, rest),
    };
    let offset = match zone.as_bytes() {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (oh, om) = (num(t.len() - 5..t.len() - 3)?, num(t.len() - 2..t.len())?);
            if oh > 23 || om > 59 {
                return None;
            }
            let o = oh * 3600 + om * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + h * 3600 + mi * 60 + s - offset).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Formats like Go's `time.RFC3339Nano` in UTC (what the publishers
/// write): trailing zeros of the fraction trimmed.
#[must_use]
pub fn format_rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let sod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dd = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let mut out = format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let f = format!("{nanos:09}");
        out.push('.');
        out.push_str(f.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trips_like_go() {
        for s in [
            "2024-08-28T14:50:57.327585316Z",
            "1970-01-01T00:00:00Z",
            "2000-02-29T00:00:00.00000001Z",
            "2021-03-05T20:59:00.5Z",
        ] {
            assert_eq!(format_rfc3339(parse_rfc3339(s).unwrap()), s);
        }
        for bad in [
            "",
            "2024-08-28T14:50:57",
            "2024-13-01T00:00:00Z",
            "2024-00-01T00:00:00Z",
            "2024-08-28T24:00:00Z",
            "2024-08-28T14:60:00Z",
            "2024-08-28T14:50:57+24:00",
            "2024-08-28T14:50:57+01",
            "2024-08-28T14:50:57.Z",
            "2024-08-28T14:50:57.1234567890Z",
            "+024-08-28T14:50:57Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn offsets_other_than_z() {
        let z = parse_rfc3339("2024-08-28T14:50:57.5Z").unwrap();
        assert_eq!(parse_rfc3339("2024-08-28T16:50:57.5+02:00"), Some(z));
        assert_eq!(parse_rfc3339("2024-08-28T09:20:57.5-05:30"), Some(z));
        assert_eq!(parse_rfc3339("2024-08-28t14:50:57.5z"), Some(z));
    }
}
