//! Parsing of `TIME` and `DURATION` arguments, with `jiff`.
//!
//! `DURATION` (`--timeout`, `--wait-timeout`) is a span in jiff's friendly format (`30s`, `5m`,
//! `1h30m`, `1h 30m`, `90 seconds`) or ISO 8601 (`PT30S`); a bare number is seconds (`30`, `2.5`),
//! as before jiff, so that existing scripts keep working.
//!
//! `TIME` (`--from`, `--to`) is one of:
//! - RFC 3339: `2026-11-21T10:00:00Z`, `2026-11-21T10:00:00.250+02:00` (a full date alone,
//!   `2026-11-21`, means its midnight UTC);
//! - epoch milliseconds: `1763719200000`;
//! - an age, meaning now minus that long: `90s`, `30m`, `2h`, `7d`, `1w`, `1h30m`, `2h ago`.
//!
//! Days and weeks count as 24 hours and 7 days; months and years are refused (their length
//! depends on where they start).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jiff::{SignedDuration, Span, SpanRelativeTo, Timestamp, civil::Date, tz::TimeZone};

/// The accepted forms of `TIME`, for error messages.
pub const TIME_FORMS: &str = "expected RFC 3339 (e.g. 2026-11-27T10:00:00Z or 2026-11-27T12:00:00+02:00), \
     an age meaning that long ago (e.g. 90s, 30m, 2h, 1h30m, 7d), or epoch milliseconds (e.g. 1795255200000)";

/// The accepted forms of `DURATION`, for error messages.
pub const DURATION_FORMS: &str = "expected a duration such as 30s, 5m, 1h30m or 90s, or a number of seconds (30, 2.5)";

/// The longest `DURATION` accepted.
const MAX_DURATION: Duration = Duration::from_secs(86_400 * 365);

/// The last millisecond RFC 3339 can write: 9999-12-31T23:59:59.999Z.
pub const MAX_EPOCH_MILLIS: u64 = 253_402_300_799_999;

/// Parses a `TIME` argument relative to the current time.
pub fn parse_time(s: &str) -> Result<SystemTime, String> {
    parse_time_at(s, SystemTime::now())
}

/// Parses a `TIME` argument, with ages counted back from `now`.
pub fn parse_time_at(s: &str, now: SystemTime) -> Result<SystemTime, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err(format!("empty TIME; {TIME_FORMS}"));
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return parse_epoch_millis(t);
    }
    if t.as_bytes().first().is_some_and(u8::is_ascii_digit) && t.as_bytes().get(4) == Some(&b'-') {
        return parse_rfc3339(t).map_err(|why| format!("invalid TIME {t:?}: {why}; {TIME_FORMS}"));
    }
    if t.starts_with(['-', '+']) {
        return Err(format!(
            "invalid TIME {t:?}: an age counts back from now, without a sign (e.g. 2h); {TIME_FORMS}"
        ));
    }
    let age = parse_span(t).map_err(|why| format!("invalid TIME {t:?}: {why}; {TIME_FORMS}"))?;
    // `2h ago` is jiff's negative span: the same age.
    let age = age.unsigned_abs();
    now.checked_sub(age)
        .filter(|at| *at >= UNIX_EPOCH)
        .ok_or_else(|| format!("invalid TIME {t:?}: that age reaches back before 1970-01-01; {TIME_FORMS}"))
}

/// A span in jiff's friendly or ISO 8601 format, days as 24 hours.
fn parse_span(t: &str) -> Result<SignedDuration, String> {
    // SignedDuration takes hours and smaller; Span also takes days and weeks (as 24 h and 7 days).
    if let Ok(d) = t.parse::<SignedDuration>() {
        return Ok(d);
    }
    // jiff's own message is about its parser's internals: say what the user can write instead.
    let span: Span = t.parse().map_err(|_| "not a duration".to_owned())?;
    span.to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|_| "months and years have no fixed length; write days (e.g. 30d)".to_owned())
}

fn parse_epoch_millis(t: &str) -> Result<SystemTime, String> {
    let ms: u64 = t
        .parse()
        .map_err(|_| format!("invalid TIME {t:?}: the number is too large for epoch milliseconds; {TIME_FORMS}"))?;
    if t.len() == 10 {
        // 10 digits as milliseconds is January-April 1970: almost surely epoch seconds.
        return Err(format!(
            "invalid TIME {t:?}: this looks like epoch seconds; TIME takes epoch milliseconds ({t}000)"
        ));
    }
    if ms > MAX_EPOCH_MILLIS {
        return Err(format!(
            "invalid TIME {t:?}: epoch milliseconds after 9999-12-31T23:59:59.999Z ({MAX_EPOCH_MILLIS}); {TIME_FORMS}"
        ));
    }
    UNIX_EPOCH
        .checked_add(Duration::from_millis(ms))
        .ok_or_else(|| format!("invalid TIME {t:?}: too far in the future; {TIME_FORMS}"))
}

/// RFC 3339 with an offset (`Z`, `+02:00`), or a date alone (its midnight UTC).
fn parse_rfc3339(t: &str) -> Result<SystemTime, String> {
    let ts = if t.len() == 10 {
        let date: Date = t.parse().map_err(|e: jiff::Error| e.to_string())?;
        date.to_zoned(TimeZone::UTC).map_err(|e| e.to_string())?.timestamp()
    } else {
        let ts: Timestamp = t.parse().map_err(|e: jiff::Error| {
            if t.ends_with(['Z', 'z']) || t.contains('+') || t.get(10..).is_some_and(|rest| rest.contains('-')) {
                e.to_string()
            } else {
                "missing time zone: end with Z or an offset such as +02:00".to_owned()
            }
        })?;
        ts
    };
    if ts < Timestamp::UNIX_EPOCH {
        return Err("the time is before 1970-01-01".to_owned());
    }
    Ok(SystemTime::from(ts))
}

/// Writes a time the way the user can type it back: RFC 3339 in UTC.
pub fn rfc3339(t: SystemTime) -> String {
    match Timestamp::try_from(t) {
        Ok(ts) => ts.round(jiff::Unit::Millisecond).unwrap_or(ts).to_string(),
        // Past jiff's range (the last two days of 9999): epoch milliseconds, which it parses back.
        Err(_) => t
            .duration_since(UNIX_EPOCH)
            .map_or_else(|_| "before 1970".to_owned(), |d| d.as_millis().to_string()),
    }
}

/// Parses a `DURATION` (`--timeout`, `--wait-timeout`): `30s`, `5m`, `1h30m`, or a bare number of
/// seconds (`30`, `2.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let d = if t.parse::<f64>().is_ok() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
        let v: f64 = t.parse().map_err(|_| format!("{s:?}: {DURATION_FORMS}"))?;
        if !v.is_finite() || v <= 0.0 {
            return Err(format!("{s:?} must be greater than 0; {DURATION_FORMS}"));
        }
        if v > MAX_DURATION.as_secs_f64() {
            return Err(format!("{s:?} is longer than a year; {DURATION_FORMS}"));
        }
        Duration::from_secs_f64(v)
    } else {
        let d = parse_span(t).map_err(|why| format!("{s:?}: {why}; {DURATION_FORMS}"))?;
        if d.is_negative() || d.is_zero() {
            return Err(format!("{s:?} must be greater than 0; {DURATION_FORMS}"));
        }
        d.unsigned_abs()
    };
    if d > MAX_DURATION {
        return Err(format!("{s:?} is longer than a year; {DURATION_FORMS}"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(t: SystemTime) -> u128 {
        t.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0)
    }

    #[test]
    fn rfc3339_forms() {
        assert_eq!(ms(parse_time("2026-11-21T10:00:00Z").unwrap()), 1_795_255_200_000);
        assert_eq!(ms(parse_time("2026-11-21T12:00:00+02:00").unwrap()), 1_795_255_200_000);
        assert_eq!(ms(parse_time("2026-11-21T05:30:00-04:30").unwrap()), 1_795_255_200_000);
        assert_eq!(ms(parse_time("2026-11-21t10:00:00.250z").unwrap()), 1_795_255_200_250);
        assert_eq!(ms(parse_time("2026-11-21 10:00:00Z").unwrap()), 1_795_255_200_000);
        assert_eq!(ms(parse_time("1970-01-01T00:00:00Z").unwrap()), 0);
        assert_eq!(ms(parse_time("2000-02-29T00:00:00Z").unwrap()), 951_782_400_000);
        assert_eq!(ms(parse_time("2026-11-21").unwrap()), 1_795_219_200_000);
    }

    #[test]
    fn rfc3339_errors() {
        for bad in [
            "2026-11-21T10:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-21T24:00:00Z",
            "2026-11-21T10:00:00Zjunk",
            "1969-12-31T23:59:59Z",
            "2026-11-21T10:00:00.Z",
        ] {
            let e = parse_time(bad).unwrap_err();
            assert!(e.contains("RFC 3339"), "{bad}: {e}");
        }
        assert!(
            parse_time("2026-11-21T10:00:00")
                .unwrap_err()
                .contains("missing time zone")
        );
    }

    #[test]
    fn rfc3339_round_trips() {
        let t = parse_time("2026-11-27T10:00:00Z").unwrap();
        assert_eq!(rfc3339(t), "2026-11-27T10:00:00Z");
    }

    #[test]
    fn epoch_millis() {
        assert_eq!(ms(parse_time("1795255200000").unwrap()), 1_795_255_200_000);
        assert_eq!(ms(parse_time("0").unwrap()), 0);
        assert!(parse_time("1795255200").unwrap_err().contains("epoch seconds"));
        assert!(parse_time("99999999999999999999999").is_err());
        assert_eq!(ms(parse_time("253402300799999").unwrap()), 253_402_300_799_999);
        // jiff's timestamps end at 9999-12-30T22:00:00Z (so that every offset can write them).
        assert_eq!(
            parse_time("253402128000000").unwrap(),
            parse_time("9999-12-30T00:00:00Z").unwrap()
        );
        for bad in ["253402300800000", "18446744073709551615", "999999999999999"] {
            let e = parse_time(bad).unwrap_err();
            assert!(e.contains("9999-12-31T23:59:59.999Z"), "{bad}: {e}");
        }
    }

    #[test]
    fn ages() {
        let now = UNIX_EPOCH + Duration::from_secs(10_000_000);
        let at = |s| parse_time_at(s, now).unwrap();
        assert_eq!(at("90s"), now - Duration::from_secs(90));
        assert_eq!(at("30m"), now - Duration::from_secs(1800));
        assert_eq!(at("2h"), now - Duration::from_secs(7200));
        assert_eq!(at("7d"), now - Duration::from_secs(7 * 86_400));
        assert_eq!(at("1w"), now - Duration::from_secs(7 * 86_400));
        assert_eq!(at("1h30m"), now - Duration::from_secs(5400));
        assert_eq!(at("1h 30m"), now - Duration::from_secs(5400));
        assert_eq!(at("2h ago"), now - Duration::from_secs(7200));
        assert_eq!(at("500ms"), now - Duration::from_millis(500));
        for bad in ["", "yesterday", "2x", "h", "-2h", "1 month", "100000000d"] {
            assert!(parse_time_at(bad, now).is_err(), "{bad}");
        }
        assert!(parse_time_at("soon", now).unwrap_err().contains("e.g. 90s"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2.5").unwrap(), Duration::from_millis(2500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_duration("PT1M").unwrap(), Duration::from_secs(60));
        for bad in ["0", "-1", "x", "inf", "NaN", "0s", "-5m", "5m ago", "2y", "400d", ""] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("e.g.") || e.contains("such as"), "{bad}: {e}");
        }
    }
}
