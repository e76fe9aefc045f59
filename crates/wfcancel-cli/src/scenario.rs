//! `emulate proxy --scenario SPEC`: a canned misbehaviour for the requests a rule matches.
//!
//! `SPEC` is `NAME[=ARG][,method=METHOD][,path=SUFFIX][,prefix=PREFIX][,times=N]`; see
//! [`SCENARIO_NAMES`] and [`parse_scenario`]. Parsed here (without the emulator, so that the
//! flag's grammar is checked the same in every build); turned into the emulator's
//! `ScenarioRule` by `emulate`.

use std::time::Duration;

use crate::timearg::parse_duration;

/// The scenario names, as the usage errors list them.
pub const SCENARIO_NAMES: &str = "hang, drop, drop-after, trickle[=INTERVAL], huge[=BYTES], not-json, html[=STATUS], redirect[=URL], \
     echo-token[=STATUS]";

/// `trickle`'s default interval between bytes.
pub const DEFAULT_TRICKLE: Duration = Duration::from_millis(100);
/// `huge`'s default body size (10 MiB).
pub const DEFAULT_HUGE: usize = 10 * 1024 * 1024;
/// `huge`'s smallest body: `{"cancelled":0,"padding":""}`, the frame the emulator pads.
const MIN_HUGE: usize = 28;
/// `huge`'s largest body (1 GiB).
const MAX_HUGE: usize = 1024 * 1024 * 1024;
/// `html`'s default status.
pub const DEFAULT_HTML_STATUS: u16 = 502;
/// `redirect`'s default location.
pub const DEFAULT_REDIRECT: &str = "http://elsewhere.invalid/";
/// `echo-token`'s default status.
pub const DEFAULT_ECHO_STATUS: u16 = 401;

/// What a matching request gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioKind {
    /// Never answered.
    Hang,
    /// Connection closed before forwarding.
    Drop,
    /// Forwarded (the upstream acts), then the answer is lost with the connection.
    DropAfter,
    /// Forwarded, the answer sent one byte per interval.
    Trickle(Duration),
    /// `200` with a JSON body of this many bytes.
    Huge(usize),
    /// `200` whose body is not JSON.
    NotJson,
    /// An HTML error page with this status.
    Html(u16),
    /// `302` to this location.
    Redirect(String),
    /// This status, with the request's credential echoed in several spellings.
    EchoToken(u16),
}

/// One `--scenario`: what, for which requests, how many times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioSpec {
    /// The spec as given (for the startup line and the JSON record).
    pub text: String,
    pub kind: ScenarioKind,
    /// Only requests with this method (upper case).
    pub method: Option<String>,
    /// Only requests whose path ends with this.
    pub path: Option<String>,
    /// Only requests whose path starts with this.
    pub prefix: Option<String>,
    /// Only the first N matching requests.
    pub times: Option<u64>,
}

fn status(name: &str, arg: &str) -> Result<u16, String> {
    match arg.trim().parse::<u16>() {
        // A 1xx is not a final answer: hyper would send it as one.
        Ok(s) if (200..=599).contains(&s) => Ok(s),
        _ => Err(format!("{name}={arg:?}: expected an HTTP status from 200 to 599")),
    }
}

/// `1048576`, `512KiB`, `10MiB`, `1GiB`, `500KB`, `10MB`, `1GB` (`B` alone too).
fn bytes(arg: &str) -> Result<usize, String> {
    let t = arg.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let bad = || format!("huge={arg:?}: expected a size in bytes such as 1048576, 512KiB, 10MiB, 500KB or 10MB");
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => return Err(bad()),
    };
    let total = n
        .checked_mul(mult)
        .and_then(|v| usize::try_from(v).ok())
        .filter(|v| *v <= MAX_HUGE)
        .ok_or_else(|| format!("huge={arg:?}: at most 1GiB"))?;
    if total < MIN_HUGE {
        return Err(format!(
            "huge={arg:?}: at least {MIN_HUGE} bytes (the JSON frame around the padding)"
        ));
    }
    Ok(total)
}

/// Parses one `--scenario` spec: `NAME[=ARG][,method=METHOD][,path=SUFFIX][,prefix=PREFIX][,times=N]`.
pub fn parse_scenario(spec: &str) -> Result<ScenarioSpec, String> {
    if spec.chars().any(char::is_control) {
        return Err(format!("{spec:?}: control characters are not allowed"));
    }
    let mut parts = spec.split(',');
    let head = parts.next().unwrap_or_default().trim();
    let (name, arg) = match head.split_once('=') {
        Some((n, a)) => (n.trim(), Some(a.trim())),
        None => (head, None),
    };
    let no_arg = |kind: ScenarioKind| match arg {
        None => Ok(kind),
        Some(a) => Err(format!("{name} takes no argument (got {name}={a:?})")),
    };
    let kind = match name.to_ascii_lowercase().as_str() {
        "hang" => no_arg(ScenarioKind::Hang)?,
        "drop" => no_arg(ScenarioKind::Drop)?,
        "drop-after" => no_arg(ScenarioKind::DropAfter)?,
        "not-json" => no_arg(ScenarioKind::NotJson)?,
        "trickle" => ScenarioKind::Trickle(match arg {
            None => DEFAULT_TRICKLE,
            Some(a) => parse_duration(a).map_err(|e| format!("trickle={a:?}: {e}"))?,
        }),
        "huge" => ScenarioKind::Huge(arg.map_or(Ok(DEFAULT_HUGE), bytes)?),
        "html" => ScenarioKind::Html(arg.map_or(Ok(DEFAULT_HTML_STATUS), |a| status("html", a))?),
        "echo-token" => ScenarioKind::EchoToken(arg.map_or(Ok(DEFAULT_ECHO_STATUS), |a| status("echo-token", a))?),
        "redirect" => ScenarioKind::Redirect(match arg {
            None => DEFAULT_REDIRECT.to_owned(),
            Some("") => return Err("redirect=: expected a URL (or no =, for http://elsewhere.invalid/)".into()),
            // Sent as the `Location` header: it must be a valid header value (ASCII).
            Some(a) if !a.bytes().all(|b| (0x20..0x7f).contains(&b)) => {
                return Err(format!(
                    "redirect={a:?}: not a valid Location header value (use an ASCII URL, percent-encoded)"
                ));
            }
            Some(a) => a.to_owned(),
        }),
        "" => return Err(format!("{spec:?}: expected a scenario name first: {SCENARIO_NAMES}")),
        other => return Err(format!("unknown scenario {other:?}: expected one of {SCENARIO_NAMES}")),
    };
    let mut out = ScenarioSpec {
        text: spec.trim().to_owned(),
        kind,
        method: None,
        path: None,
        prefix: None,
        times: None,
    };
    for part in parts {
        let part = part.trim();
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!(
                "{part:?}: expected KEY=VALUE after the scenario name (method=, path=, prefix=, times=)"
            ));
        };
        let (key, value) = (key.trim(), value.trim());
        let slot_taken = |taken: bool| {
            if taken {
                Err(format!("{key}= is given twice"))
            } else {
                Ok(())
            }
        };
        match key.to_ascii_lowercase().as_str() {
            "method" => {
                slot_taken(out.method.is_some())?;
                if value.is_empty() || !value.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(format!(
                        "method={value:?}: expected an HTTP method such as GET, POST or DELETE"
                    ));
                }
                out.method = Some(value.to_ascii_uppercase());
            }
            "path" => {
                slot_taken(out.path.is_some())?;
                if value.is_empty() {
                    return Err("path=: expected the end of a path, e.g. path=/cancel".into());
                }
                out.path = Some(value.to_owned());
            }
            "prefix" => {
                slot_taken(out.prefix.is_some())?;
                if !value.starts_with('/') {
                    return Err(format!(
                        "prefix={value:?}: expected the start of a path, e.g. prefix=/v2/"
                    ));
                }
                out.prefix = Some(value.to_owned());
            }
            "times" => {
                slot_taken(out.times.is_some())?;
                match value.parse::<u64>() {
                    Ok(n) if n > 0 => out.times = Some(n),
                    _ => return Err(format!("times={value:?}: expected a whole number of at least 1")),
                }
            }
            _ => {
                return Err(format!(
                    "unknown key {key:?} in {spec:?}: expected method=, path=, prefix= or times="
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grammar() {
        let s = parse_scenario("not-json,path=/v2/workflows/runs").unwrap();
        assert_eq!(s.kind, ScenarioKind::NotJson);
        assert_eq!(s.path.as_deref(), Some("/v2/workflows/runs"));
        let s = parse_scenario("html=503,times=1,method=delete,prefix=/v2/").unwrap();
        assert_eq!(
            (s.kind, s.times, s.method.as_deref(), s.prefix.as_deref()),
            (ScenarioKind::Html(503), Some(1), Some("DELETE"), Some("/v2/"))
        );
        assert_eq!(parse_scenario("html").unwrap().kind, ScenarioKind::Html(502));
        assert_eq!(parse_scenario("echo-token").unwrap().kind, ScenarioKind::EchoToken(401));
        assert_eq!(
            parse_scenario("echo-token=403").unwrap().kind,
            ScenarioKind::EchoToken(403)
        );
        assert_eq!(
            parse_scenario("redirect").unwrap().kind,
            ScenarioKind::Redirect(DEFAULT_REDIRECT.into())
        );
        assert_eq!(
            parse_scenario("redirect=http://x.invalid/a?b=c").unwrap().kind,
            ScenarioKind::Redirect("http://x.invalid/a?b=c".into())
        );
        assert_eq!(
            parse_scenario("trickle").unwrap().kind,
            ScenarioKind::Trickle(DEFAULT_TRICKLE)
        );
        assert_eq!(
            parse_scenario("trickle=20ms").unwrap().kind,
            ScenarioKind::Trickle(Duration::from_millis(20))
        );
        assert_eq!(parse_scenario("huge").unwrap().kind, ScenarioKind::Huge(DEFAULT_HUGE));
        assert_eq!(parse_scenario("huge=2MiB").unwrap().kind, ScenarioKind::Huge(2 << 20));
        assert_eq!(parse_scenario("huge=5KB").unwrap().kind, ScenarioKind::Huge(5000));
        assert_eq!(parse_scenario("huge=1234").unwrap().kind, ScenarioKind::Huge(1234));
        for (bad, needle) in [
            ("nope", "unknown scenario \"nope\": expected one of hang, drop"),
            ("", "expected a scenario name"),
            ("html=700", "from 200 to 599"),
            ("echo-token=abc", "from 200 to 599"),
            ("hang=3", "takes no argument"),
            ("huge=10XB", "expected a size"),
            ("huge=0", "at least 28 bytes"),
            ("huge=27", "at least 28 bytes"),
            ("html=101", "from 200 to 599"),
            ("redirect=http://é.invalid/", "not a valid Location"),
            ("huge=2GiB", "at most 1GiB"),
            ("trickle=fast", "trickle=\"fast\""),
            ("drop,times=0", "at least 1"),
            ("drop,colour=red", "unknown key \"colour\""),
            ("drop,path", "expected KEY=VALUE"),
            ("drop,times=1,times=2", "given twice"),
            ("drop,prefix=v2", "start of a path"),
            ("drop,method=GE T", "HTTP method"),
        ] {
            let err = parse_scenario(bad).expect_err(bad);
            assert!(err.contains(needle), "{bad:?}: {err}");
        }
    }
}
