//! RFC 3339 timestamps, as providers write a run's creation time and as listings print it.
//! (Hand-written: the calendar arithmetic is a few lines, offsets other than `Z` are needed, and
//! no time crate is otherwise a dependency of core.)

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `t` in RFC 3339, UTC, to the millisecond when it has a fraction:
/// `2026-11-27T10:00:00Z`, `2026-11-27T10:00:00.250Z`. Times before 1970 print as 1970.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use wfcancel_core::format_rfc3339;
/// assert_eq!(format_rfc3339(UNIX_EPOCH + Duration::from_millis(1_764_237_600_250)), "2025-11-27T10:00:00.250Z");
/// assert_eq!(format_rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
/// ```
pub fn format_rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let ms = d.subsec_millis();
    let frac = if ms == 0 { String::new() } else { format!(".{ms:03}") };
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Parses an RFC 3339 timestamp (`2026-11-27T10:00:00Z`, `2026-11-27 10:00:00.123456+02:00`:
/// `T` or a space, any fraction, `Z` or an offset), or `None` when it is not one or is before 1970.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use wfcancel_core::parse_rfc3339;
/// let t = UNIX_EPOCH + Duration::from_millis(1_764_237_600_250);
/// assert_eq!(parse_rfc3339("2025-11-27T10:00:00.250Z"), Some(t));
/// assert_eq!(parse_rfc3339("2025-11-27T12:00:00.25+02:00"), Some(t));
/// assert_eq!(parse_rfc3339("yesterday"), None);
/// ```
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(r)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        std::str::from_utf8(part).ok()?.parse().ok()
    };
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: u32 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start).min(9)..9 {
            nanos *= 10;
        }
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), ..] if b.len() == i + 6 && b[i + 3] == b':' => {
            let (oh, om) = (num(i + 1..i + 3)?, num(i + 4..i + 6)?);
            let o = oh * 3600 + om * 60;
            if *sign == b'+' { o } else { -o }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + sec - offset;
    let secs = u64::try_from(secs).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Howard Hinnant's `days_from_civil`: (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn round_trips(ms in 0u64..253_402_300_799_000) {
            let t = UNIX_EPOCH + Duration::from_millis(ms);
            prop_assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
        }

        #[test]
        fn never_panics(s in ".{0,40}") {
            let _ = parse_rfc3339(&s);
        }
    }

    #[test]
    fn forms() {
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_rfc3339("2023-11-14T22:13:20Z"), Some(t));
        assert_eq!(parse_rfc3339("2023-11-14 22:13:20+00:00"), Some(t));
        assert_eq!(parse_rfc3339("2023-11-14T23:13:20+01:00"), Some(t));
        assert_eq!(parse_rfc3339("2023-11-14T21:13:20-01:00"), Some(t));
        assert_eq!(
            parse_rfc3339("2023-11-14T22:13:20.123456789123Z"),
            Some(t + Duration::from_nanos(123_456_789))
        );
        for bad in [
            "",
            "2023-11-14",
            "2023-13-14T22:13:20Z",
            "2023-11-14T22:13:20",
            "2023-11-14T22:13:20.Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }
}
