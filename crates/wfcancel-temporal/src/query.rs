//! Visibility queries: the portable filter written in Temporal's query language, every value
//! quoted and escaped so that no value can change the query's structure.

use std::time::{SystemTime, UNIX_EPOCH};

use wfcancel_core::{CancelError, RunFilter, RunState};

use crate::BACKEND;

/// `value` as a string literal of a visibility query: in double quotes, with `\` written `\\`
/// and `"` written `\"`, every other character as is. Inside a double-quoted literal the server
/// reads exactly these two escapes, so the literal ends at the closing quote this function
/// writes and nowhere before: quotes, backslashes, `AND`, `OR`, parentheses or newlines in a
/// value never change the query around it.
///
/// ```
/// use wfcancel_temporal::quote;
/// assert_eq!(quote("Nightly"), r#""Nightly""#);
/// assert_eq!(quote(r#"a" OR WorkflowType = "b"#), r#""a\" OR WorkflowType = \"b""#);
/// assert_eq!(quote(r"back\slash"), r#""back\\slash""#);
/// ```
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `t` as RFC 3339 in UTC with nanoseconds, e.g. `2026-11-27T10:00:00.000000001Z`, the form
/// Temporal's `StartTime` compares with. (Hand-written: the days-to-date conversion is a few
/// lines, and no time crate is otherwise needed.)
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
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

/// The `ExecutionStatus` value of a state a filter may target: only running workflows can be
/// cancelled, so `Running` is the one state a Temporal filter takes.
fn execution_status(state: &RunState) -> Result<&'static str, CancelError> {
    match state {
        RunState::Running => Ok("Running"),
        RunState::Cancelling => Err(CancelError::invalid_input(
            BACKEND,
            "filter.states",
            "Temporal's visibility cannot tell a workflow whose cancel was requested from a running one; \
             target running workflows (RunState::Running)",
        )),
        other => Err(CancelError::invalid_input(
            BACKEND,
            "filter.states",
            format!("Temporal workflows are running or closed: a cancel can only target running ones, not {other}"),
        )),
    }
}

/// The clause that keeps a query to running workflows.
pub(crate) const RUNNING: &str = r#"ExecutionStatus = "Running""#;

/// The visibility query of a filter: the workflow types (any of), the start-time range
/// (inclusive) and the running state, joined with `AND`, every value quoted with [`quote`].
/// A filter that sets only `states` (which can only say "running") matches every running
/// workflow: that is [`Selector::cancel_all_runs`](wfcancel_core::Selector::cancel_all_runs),
/// refused here as core refuses other filters that match every run.
pub fn filter_query(f: &RunFilter) -> Result<String, CancelError> {
    let mut clauses = scope_clauses(f);
    if let Some(states) = &f.states {
        for s in states {
            execution_status(s)?;
        }
    }
    if clauses.is_empty() {
        return Err(CancelError::invalid_input(
            BACKEND,
            "filter",
            "this filter matches every running workflow; to cancel everything, say so with Selector::cancel_all_runs()",
        ));
    }
    clauses.push(RUNNING.to_owned());
    Ok(clauses.join(" AND "))
}

/// The `ExecutionStatus` value of a state a listing may ask for. Visibility has no
/// "cancel requested" (a workflow asked to cancel lists as running) and no pending state.
fn listed_status(state: &RunState) -> Result<&'static str, CancelError> {
    Ok(match state {
        RunState::Running => "Running",
        RunState::Completed => "Completed",
        RunState::Failed => "Failed",
        RunState::Cancelled => "Canceled",
        RunState::Terminated => "Terminated",
        RunState::TimedOut => "TimedOut",
        other => {
            return Err(CancelError::invalid_input(
                BACKEND,
                "filter.states",
                format!(
                    "Temporal's visibility cannot list {other} workflows: it knows running, completed, failed, \
                     cancelled, terminated and timed-out ones"
                ),
            ));
        }
    })
}

/// The visibility query a listing or count runs: the workflow types (any of), the start-time
/// range (inclusive) and the states (any of), joined with `AND`, every value quoted with
/// [`quote`]; an empty filter is the empty query (every workflow, in every state). Unlike
/// [`filter_query`], it does not keep to running workflows unless the filter says so.
///
/// ```
/// use wfcancel_core::{RunFilter, RunState};
/// use wfcancel_temporal::list_query;
/// assert_eq!(list_query(&RunFilter::new())?, "");
/// assert_eq!(
///     list_query(&RunFilter::new().workflow(r#"a" OR "1"="1"#).state(RunState::Running).state(RunState::Failed))?,
///     r#"WorkflowType IN ("a\" OR \"1\"=\"1") AND ExecutionStatus IN ("Running", "Failed")"#
/// );
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
pub fn list_query(f: &RunFilter) -> Result<String, CancelError> {
    let mut clauses = scope_clauses(f);
    if let Some(states) = &f.states {
        let mut list: Vec<String> = Vec::new();
        for s in states {
            let q = quote(listed_status(s)?);
            if !list.contains(&q) {
                list.push(q);
            }
        }
        clauses.push(format!("ExecutionStatus IN ({})", list.join(", ")));
    }
    Ok(clauses.join(" AND "))
}

/// The clauses of the workflow types and the start-time range, every value quoted.
fn scope_clauses(f: &RunFilter) -> Vec<String> {
    let mut clauses: Vec<String> = Vec::new();
    if let Some(types) = &f.workflows {
        let list: Vec<String> = types.iter().map(|t| quote(t)).collect();
        clauses.push(format!("WorkflowType IN ({})", list.join(", ")));
    }
    if let Some(from) = f.from {
        clauses.push(format!("StartTime >= {}", quote(&rfc3339(from))));
    }
    if let Some(to) = f.to {
        clauses.push(format!("StartTime <= {}", quote(&rfc3339(to))));
    }
    clauses
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let t = UNIX_EPOCH + Duration::new(1_795_773_600, 123_456_789);
        assert_eq!(rfc3339(t), "2026-11-27T10:00:00.123456789Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(253_402_300_799)),
            "9999-12-31T23:59:59.000000000Z"
        );
    }

    #[test]
    fn filters() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_773_600);
        let f = RunFilter::new().workflow("A").workflow("B\"x").from(t).to(t);
        assert_eq!(
            filter_query(&f).unwrap(),
            r#"WorkflowType IN ("A", "B\"x") AND StartTime >= "2026-11-27T10:00:00.000000000Z" AND StartTime <= "2026-11-27T10:00:00.000000000Z" AND ExecutionStatus = "Running""#
        );
        let f = RunFilter::new().workflow("A").state(RunState::Running);
        assert_eq!(
            filter_query(&f).unwrap(),
            r#"WorkflowType IN ("A") AND ExecutionStatus = "Running""#
        );
        for s in [RunState::Cancelling, RunState::Completed, RunState::Paused] {
            let e = filter_query(&RunFilter::new().workflow("A").state(s)).unwrap_err();
            assert!(
                matches!(
                    e,
                    CancelError::InvalidInput {
                        field: "filter.states",
                        ..
                    }
                ),
                "{e:?}"
            );
        }
        let e = filter_query(&RunFilter::new().state(RunState::Running)).unwrap_err();
        assert!(matches!(e, CancelError::InvalidInput { field: "filter", .. }), "{e:?}");
    }
}
