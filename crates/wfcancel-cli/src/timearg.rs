//! Parsing of `TIME` and `SECS` arguments.
//!
//! `TIME` is one of:
//! - RFC 3339: `2026-11-21T10:00:00Z`, `2026-11-21T10:00:00.250+02:00` (a full date alone,
//!   `2026-11-21`, means its midnight UTC);
//! - epoch milliseconds: `1763719200000`;
//! - an age, meaning now minus that long: `90s`, `30m`, `2h`, `7d`, `1w`, or combined `1h30m`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The accepted forms, for error messages.
pub const TIME_FORMS: &str = "expected RFC 3339 (e.g. 2026-11-21T10:00:00Z or 2026-11-21T12:00:00+02:00), \
     epoch milliseconds (e.g. 1763719200000), or an age meaning that long ago (e.g. 90s, 30m, 2h, 7d)";

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
    match parse_age(t) {
        Some(age) => now
            .checked_sub(age)
            .filter(|at| *at >= UNIX_EPOCH)
            .ok_or_else(|| format!("invalid TIME {t:?}: that age reaches back before 1970-01-01; {TIME_FORMS}")),
        None => Err(format!("invalid TIME {t:?}; {TIME_FORMS}")),
    }
}

/// The last millisecond RFC 3339 can write: 9999-12-31T23:59:59.999Z.
pub const MAX_EPOCH_MILLIS: u64 = 253_402_300_799_999;

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

/// `90s`, `30m`, `2h`, `7d`, `1w`, `500ms`, or several such parts run together (`1h30m`).
fn parse_age(t: &str) -> Option<Duration> {
    let mut rest = t;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs_per: u64 = match unit {
            "ms" => {
                total = total.checked_add(Duration::from_millis(n))?;
                continue;
            }
            "s" | "sec" | "secs" => 1,
            "m" | "min" | "mins" => 60,
            "h" | "hr" | "hrs" => 3600,
            "d" | "day" | "days" => 86_400,
            "w" | "week" | "weeks" => 7 * 86_400,
            _ => return None,
        };
        total = total.checked_add(Duration::from_secs(n.checked_mul(secs_per)?))?;
    }
    Some(total)
}

struct Cursor<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize, what: &str) -> Result<u32, String> {
        let end = self.pos + n;
        let part = self.s.get(self.pos..end).filter(|p| p.iter().all(u8::is_ascii_digit));
        let Some(part) = part else {
            return Err(format!("expected {n} digits for the {what}"));
        };
        self.pos = end;
        Ok(part.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), String> {
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected {:?} {what}", char::from(c)))
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
}

/// Days from 1970-01-01 to the given civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: u32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn parse_rfc3339(t: &str) -> Result<SystemTime, String> {
    let mut c = Cursor {
        s: t.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4, "year")?;
    c.expect(b'-', "after the year")?;
    let month = c.digits(2, "month")?;
    c.expect(b'-', "after the month")?;
    let day = c.digits(2, "day")?;
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is not 01-12"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(format!("day {day} does not exist in {year:04}-{month:02}"));
    }
    let (mut hour, mut minute, mut second, mut nanos, mut offset_secs) = (0u32, 0u32, 0u32, 0u32, 0i64);
    if c.peek().is_some() {
        match c.peek() {
            Some(b'T' | b't' | b' ') => c.pos += 1,
            _ => return Err("expected 'T' between the date and the time".to_owned()),
        }
        hour = c.digits(2, "hour")?;
        c.expect(b':', "after the hour")?;
        minute = c.digits(2, "minute")?;
        c.expect(b':', "after the minutes")?;
        second = c.digits(2, "second")?;
        if hour > 23 || minute > 59 || second > 60 {
            return Err(format!("time {hour:02}:{minute:02}:{second:02} is out of range"));
        }
        if c.peek() == Some(b'.') {
            c.pos += 1;
            let start = c.pos;
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                c.pos += 1;
            }
            let frac = &c.s[start..c.pos];
            if frac.is_empty() {
                return Err("expected digits after the decimal point".to_owned());
            }
            nanos = frac.iter().take(9).fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
                * 10u32.pow(9 - frac.len().min(9) as u32);
        }
        match c.peek() {
            Some(b'Z' | b'z') => c.pos += 1,
            Some(sign @ (b'+' | b'-')) => {
                c.pos += 1;
                let oh = c.digits(2, "offset hours")?;
                c.expect(b':', "in the offset")?;
                let om = c.digits(2, "offset minutes")?;
                if oh > 23 || om > 59 {
                    return Err(format!("offset {oh:02}:{om:02} is out of range"));
                }
                let off = i64::from(oh * 3600 + om * 60);
                offset_secs = if sign == b'+' { off } else { -off };
            }
            _ => return Err("missing time zone: end with Z or an offset such as +02:00".to_owned()),
        }
    }
    if c.pos != c.s.len() {
        return Err("unexpected characters at the end".to_owned());
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_secs;
    let secs = u64::try_from(secs).map_err(|_| "the time is before 1970-01-01".to_owned())?;
    Ok(UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Parses a number of seconds (`30`, `2.5`), for `--timeout` and `--wait-timeout`.
pub fn parse_secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid number of seconds {s:?}; expected e.g. 30 or 2.5"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("invalid number of seconds {s:?}; it must be greater than 0"));
    }
    if v > 86_400.0 * 365.0 {
        return Err(format!("invalid number of seconds {s:?}; at most one year"));
    }
    Ok(Duration::from_secs_f64(v))
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
            "2026-11-21T10:00Z",
            "2026-11-21T10:00:00+0200",
            "2026-11-21T10:00:00Zjunk",
            "1969-12-31T23:59:59Z",
            "2026-11-21T10:00:00.Z",
        ] {
            let e = parse_time(bad).unwrap_err();
            assert!(e.contains("RFC 3339"), "{bad}: {e}");
        }
    }

    #[test]
    fn epoch_millis() {
        assert_eq!(ms(parse_time("1795255200000").unwrap()), 1_795_255_200_000);
        assert_eq!(ms(parse_time("0").unwrap()), 0);
        assert!(parse_time("1795255200").unwrap_err().contains("epoch seconds"));
        assert!(parse_time("99999999999999999999999").is_err());
        assert_eq!(ms(parse_time("253402300799999").unwrap()), 253_402_300_799_999);
        assert_eq!(
            parse_time("253402300799999").unwrap(),
            parse_time("9999-12-31T23:59:59.999Z").unwrap()
        );
        for bad in ["253402300800000", "18446744073709551615", "999999999999999"] {
            let e = parse_time(bad).unwrap_err();
            assert!(e.contains("9999-12-31T23:59:59.999Z"), "{bad}: {e}");
        }
    }

    #[test]
    fn ages() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let at = |s| parse_time_at(s, now).unwrap();
        assert_eq!(at("90s"), now - Duration::from_secs(90));
        assert_eq!(at("30m"), now - Duration::from_secs(1800));
        assert_eq!(at("2h"), now - Duration::from_secs(7200));
        assert_eq!(at("7d"), now - Duration::from_secs(7 * 86_400));
        assert_eq!(at("1w"), now - Duration::from_secs(7 * 86_400));
        assert_eq!(at("1h30m"), now - Duration::from_secs(5400));
        assert_eq!(at("500ms"), now - Duration::from_millis(500));
        for bad in ["", "yesterday", "2x", "h", "-2h", "30 m", "100000000d"] {
            assert!(parse_time_at(bad, now).is_err(), "{bad}");
        }
        assert!(parse_time_at("soon", now).unwrap_err().contains("epoch milliseconds"));
    }

    #[test]
    fn secs() {
        assert_eq!(parse_secs("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_secs("2.5").unwrap(), Duration::from_millis(2500));
        for bad in ["0", "-1", "x", "inf", "NaN"] {
            assert!(parse_secs(bad).is_err(), "{bad}");
        }
    }
}
