use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Writes `t` as Go's `time.RFC3339Nano` in UTC (what the anchor's
/// cloudevents-sdk-go writes): fractional seconds with trailing zeros
/// trimmed, none at all on a whole second, and a `Z`.
pub(crate) fn rfc3339_nano(out: &mut Vec<u8>, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let sod = secs % 86_400;
    let (y, m, dd) = civil_from_days(days);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if nanos != 0 {
        let mut digits = [0u8; 9];
        let mut n = nanos;
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + u8::try_from(n % 10).unwrap_or(0);
            n /= 10;
        }
        let mut len = 9;
        while len > 0 && digits[len - 1] == b'0' {
            len -= 1;
        }
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
    out.push(b'Z');
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn fmt(secs: u64, nanos: u32) -> String {
        let mut v = Vec::new();
        rfc3339_nano(&mut v, UNIX_EPOCH + Duration::new(secs, nanos));
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn formats_like_go_rfc3339nano() {
        assert_eq!(fmt(0, 0), "1970-01-01T00:00:00Z");
        // 2024-08-28T14:50:57.327585316Z, the anchor's example.
        assert_eq!(
            fmt(1_724_856_657, 327_585_316),
            "2024-08-28T14:50:57.327585316Z"
        );
        assert_eq!(fmt(1_724_856_657, 500_000_000), "2024-08-28T14:50:57.5Z");
        assert_eq!(
            fmt(1_614_977_940, 999_999_999),
            "2021-03-05T20:59:00.999999999Z"
        );
        assert_eq!(fmt(951_782_400, 10), "2000-02-29T00:00:00.00000001Z");
    }
}
