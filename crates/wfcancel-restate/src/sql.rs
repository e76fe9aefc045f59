//! SQL over Restate's `sys_invocation` table (DataFusion's dialect): every value the caller gives
//! is written as one string literal, so that no value can change a query's structure.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wfcancel_core::{CancelError, RunFilter, RunState};

use crate::BACKEND;

/// The columns a status read selects.
pub(crate) const STATUS_COLUMNS: &str = "id, status, completion_result, completion_failure";

/// The custom filter field ([`RunFilter::custom_field`]) naming the target handler.
pub const FIELD_HANDLER: &str = "handler";

/// The custom filter field ([`RunFilter::custom_field`]) naming the target key (a virtual
/// object's or workflow's key).
pub const FIELD_KEY: &str = "key";

/// `value` as a SQL string literal: in single quotes, each `'` written `''`, every other
/// character as is. In DataFusion's standard string literals `''` is the only escape (a
/// backslash is an ordinary character: seen on the server, where `'a\'b'` is an unterminated
/// literal), so the literal ends at the closing quote this function writes and nowhere before:
/// quotes, backslashes, `;`, `--`, `/*`, newlines or any other character in a value never
/// change the query around it.
///
/// ```
/// use wfcancel_restate::quote;
/// assert_eq!(quote("Orders"), "'Orders'");
/// assert_eq!(quote("x' OR '1'='1"), "'x'' OR ''1''=''1'");
/// assert_eq!(quote(r"back\slash"), r"'back\slash'");
/// ```
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// `t` as a timestamp literal in UTC with milliseconds (`'2026-11-27T10:00:00.123Z'`), the
/// precision of `sys_invocation.created_at`. `round_up` rounds a time between two milliseconds
/// up, otherwise down: `created_at >= t` is `created_at >= ceil(t)` and `created_at <= t` is
/// `created_at <= floor(t)` for a column that holds whole milliseconds (the server truncates a
/// finer literal, which would let `from` match a run created just before it).
pub fn timestamp(t: SystemTime, round_up: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let mut ms = d.as_millis();
    if round_up && d.subsec_nanos() % 1_000_000 != 0 {
        ms += 1;
    }
    let d = Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX));
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    quote(&format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    ))
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 → (year, month, day). (Hand-written:
/// a few lines, and no time crate is otherwise needed.)
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

/// The `sys_invocation.status` values of a state a filter may target: only invocations that are
/// not completed can be cancelled.
fn statuses(state: &RunState) -> Result<&'static [&'static str], CancelError> {
    match state {
        RunState::Pending => Ok(&["pending", "scheduled", "ready"]),
        RunState::Running => Ok(&["running", "backing-off"]),
        RunState::Paused => Ok(&["suspended", "paused"]),
        RunState::Cancelling => Err(CancelError::invalid_input(
            BACKEND,
            "filter.states",
            "Restate does not show whether an invocation's cancel was requested; target running invocations \
             (RunState::Running)",
        )),
        other => Err(CancelError::invalid_input(
            BACKEND,
            "filter.states",
            format!("only invocations that are not completed can be cancelled, not {other} ones"),
        )),
    }
}

/// The clause that keeps a query to invocations that can still be cancelled.
pub(crate) const ACTIVE: &str = "status != 'completed'";

/// The `WHERE` conditions of a filter, joined with `AND`, every value quoted with [`quote`]:
/// the services (any of: `target_service_name`), the handler and key (custom fields
/// [`FIELD_HANDLER`], [`FIELD_KEY`]), the creation-time range (inclusive: `created_at`), and the
/// states (any of; without them, every invocation that is not completed).
///
/// ```
/// use wfcancel_core::{RunFilter, RunState};
/// use wfcancel_restate::filter_conditions;
/// let f = RunFilter::new().workflow("Orders").custom_field("handler", "process").state(RunState::Running);
/// assert_eq!(
///     filter_conditions(&f)?,
///     "target_service_name IN ('Orders') AND target_handler_name = 'process' AND status IN ('running', 'backing-off')"
/// );
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
pub fn filter_conditions(f: &RunFilter) -> Result<String, CancelError> {
    let mut clauses = scope_clauses(f)?;
    let narrowed = !clauses.is_empty();
    match &f.states {
        Some(states) => {
            let mut list: Vec<String> = Vec::new();
            for s in states {
                for status in statuses(s)? {
                    let q = quote(status);
                    if !list.contains(&q) {
                        list.push(q);
                    }
                }
            }
            clauses.push(format!("status IN ({})", list.join(", ")));
        }
        None => clauses.push(ACTIVE.to_owned()),
    }
    if !narrowed {
        return Err(CancelError::invalid_input(
            BACKEND,
            "filter",
            "this filter narrows by state only, which matches every invocation in that state; name the service \
             (RunFilter::workflow), or cancel everything with Selector::cancel_all_runs()",
        ));
    }
    Ok(clauses.join(" AND "))
}

/// The conditions of the services (any of), the handler and key (custom fields), and the
/// creation-time range, every value quoted with [`quote`].
fn scope_clauses(f: &RunFilter) -> Result<Vec<String>, CancelError> {
    let mut clauses: Vec<String> = Vec::new();
    if let Some(services) = &f.workflows {
        let list: Vec<String> = services.iter().map(|s| quote(s)).collect();
        clauses.push(format!("target_service_name IN ({})", list.join(", ")));
    }
    if let Some(custom) = &f.custom {
        for (name, value) in custom {
            let column = match name.as_str() {
                FIELD_HANDLER => "target_handler_name",
                FIELD_KEY => "target_service_key",
                _ => {
                    return Err(CancelError::unsupported(
                        BACKEND,
                        format!("filtering on filter.custom.{name}: Restate filters take \"handler\" and \"key\""),
                    ));
                }
            };
            clauses.push(format!("{column} = {}", quote(value)));
        }
    }
    if let Some(from) = f.from {
        clauses.push(format!("created_at >= {}", timestamp(from, true)));
    }
    if let Some(to) = f.to {
        clauses.push(format!("created_at <= {}", timestamp(to, false)));
    }
    Ok(clauses)
}

/// The failure texts of a cancelled (`[409] Cancelled`) and of a killed (`[409] killed`)
/// invocation, in the spellings the state mapping reads as such.
const CANCELLED_FAILURES: &str = "'[409] Cancelled', '[409] cancelled', '[409] Canceled', '[409] canceled'";
const KILLED_FAILURES: &str = "'[409] killed', '[409] Killed'";

/// The condition of one state a listing may ask for: every state the state mapping names.
fn listed_state(state: &RunState) -> Result<String, CancelError> {
    Ok(match state {
        RunState::Pending | RunState::Running | RunState::Paused => {
            let list: Vec<String> = statuses(state)?.iter().map(|s| quote(s)).collect();
            format!("status IN ({})", list.join(", "))
        }
        RunState::Completed => "(status = 'completed' AND completion_result = 'success')".to_owned(),
        RunState::Cancelled => format!(
            "(status = 'completed' AND completion_result = 'failure' AND completion_failure IN ({CANCELLED_FAILURES}))"
        ),
        RunState::Terminated => format!(
            "(status = 'completed' AND completion_result = 'failure' AND completion_failure IN ({KILLED_FAILURES}))"
        ),
        RunState::Failed => format!(
            "(status = 'completed' AND completion_result = 'failure' AND (completion_failure IS NULL OR \
             completion_failure NOT IN ({CANCELLED_FAILURES}, {KILLED_FAILURES})))"
        ),
        other => {
            return Err(CancelError::invalid_input(
                BACKEND,
                "filter.states",
                format!(
                    "Restate cannot list {other} invocations: it shows pending, running, paused, completed, failed, \
                     cancelled and killed (terminated) ones"
                ),
            ));
        }
    })
}

/// The `WHERE` conditions of a listing or count, joined with `AND`, every value quoted with
/// [`quote`]: the fields of [`filter_conditions`], but the states (any of) may be finished ones
/// too, and without them every invocation matches, completed ones included. An empty filter is
/// the empty condition (every invocation).
///
/// ```
/// use wfcancel_core::{RunFilter, RunState};
/// use wfcancel_restate::list_conditions;
/// assert_eq!(list_conditions(&RunFilter::new())?, "");
/// assert_eq!(
///     list_conditions(&RunFilter::new().workflow("Orders").state(RunState::Completed))?,
///     "target_service_name IN ('Orders') AND ((status = 'completed' AND completion_result = 'success'))"
/// );
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
pub fn list_conditions(f: &RunFilter) -> Result<String, CancelError> {
    let mut clauses = scope_clauses(f)?;
    if let Some(states) = &f.states {
        let mut list: Vec<String> = Vec::new();
        for s in states {
            let c = listed_state(s)?;
            if !list.contains(&c) {
                list.push(c);
            }
        }
        clauses.push(format!("({})", list.join(" OR ")));
    }
    Ok(clauses.join(" AND "))
}

/// The columns a listing selects.
pub(crate) const LIST_COLUMNS: &str =
    "id, target_service_name, status, completion_result, completion_failure, created_at";

/// One page of a listing: the invocations matching `conditions` (empty: all) after `after`, in
/// id order, `limit` of them plus one (to know whether another page follows).
pub(crate) fn list_query(conditions: &str, after: Option<&str>, limit: usize) -> String {
    let mut clauses: Vec<String> = Vec::new();
    if !conditions.is_empty() {
        clauses.push(conditions.to_owned());
    }
    if let Some(last) = after {
        clauses.push(format!("id > {}", quote(last)));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    format!(
        "SELECT {LIST_COLUMNS} FROM sys_invocation{filter} ORDER BY id LIMIT {}",
        limit.saturating_add(1)
    )
}

/// The count of the invocations matching `conditions` (empty: all).
pub(crate) fn count_query(conditions: &str) -> String {
    if conditions.is_empty() {
        "SELECT count(*) AS count FROM sys_invocation".to_owned()
    } else {
        format!("SELECT count(*) AS count FROM sys_invocation WHERE {conditions}")
    }
}

/// One page of a keyset scan: the ids matching `conditions` after `after` (none: from the
/// start), in id order, at most `limit`.
pub(crate) fn page_query(conditions: &str, after: Option<&str>, limit: usize) -> String {
    match after {
        Some(last) => format!(
            "SELECT id FROM sys_invocation WHERE {conditions} AND id > {} ORDER BY id LIMIT {limit}",
            quote(last)
        ),
        None => format!("SELECT id FROM sys_invocation WHERE {conditions} ORDER BY id LIMIT {limit}"),
    }
}

/// The status read of one invocation.
pub(crate) fn status_query(id: &str) -> String {
    format!("SELECT {STATUS_COLUMNS} FROM sys_invocation WHERE id = {}", quote(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(timestamp(UNIX_EPOCH, false), "'1970-01-01T00:00:00.000Z'");
        let t = UNIX_EPOCH + Duration::new(1_795_773_600, 123_456_789);
        assert_eq!(timestamp(t, false), "'2026-11-27T10:00:00.123Z'");
        assert_eq!(timestamp(t, true), "'2026-11-27T10:00:00.124Z'");
        let whole = UNIX_EPOCH + Duration::new(1_795_773_600, 123_000_000);
        assert_eq!(timestamp(whole, true), "'2026-11-27T10:00:00.123Z'");
        let edge = UNIX_EPOCH + Duration::new(1_795_773_599, 999_999_999);
        assert_eq!(timestamp(edge, true), "'2026-11-27T10:00:00.000Z'");
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400), false),
            "'2000-02-29T00:00:00.000Z'"
        );
    }

    #[test]
    fn filters() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_773_600);
        let f = RunFilter::new()
            .workflow("A")
            .workflow("B'x")
            .custom_field("key", "k'1")
            .from(t)
            .to(t);
        assert_eq!(
            filter_conditions(&f).unwrap(),
            "target_service_name IN ('A', 'B''x') AND target_service_key = 'k''1' AND created_at >= \
             '2026-11-27T10:00:00.000Z' AND created_at <= '2026-11-27T10:00:00.000Z' AND status != 'completed'"
        );
        let f = RunFilter::new()
            .workflow("A")
            .state(RunState::Pending)
            .state(RunState::Paused)
            .state(RunState::Pending);
        assert_eq!(
            filter_conditions(&f).unwrap(),
            "target_service_name IN ('A') AND status IN ('pending', 'scheduled', 'ready', 'suspended', 'paused')"
        );
        for s in [RunState::Cancelling, RunState::Completed, RunState::Terminated] {
            let e = filter_conditions(&RunFilter::new().workflow("A").state(s)).unwrap_err();
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
        let e = filter_conditions(&RunFilter::new().state(RunState::Running)).unwrap_err();
        assert!(matches!(e, CancelError::InvalidInput { field: "filter", .. }), "{e:?}");
        let e = filter_conditions(&RunFilter::new().workflow("A").custom_field("label", "x")).unwrap_err();
        assert!(matches!(e, CancelError::Unsupported { .. }), "{e:?}");
    }

    #[test]
    fn listings() {
        assert_eq!(
            list_query("", None, 2),
            "SELECT id, target_service_name, status, completion_result, completion_failure, created_at FROM \
             sys_invocation ORDER BY id LIMIT 3"
        );
        assert_eq!(
            list_query("status IN ('running')", Some("inv_1'a"), 2),
            "SELECT id, target_service_name, status, completion_result, completion_failure, created_at FROM \
             sys_invocation WHERE status IN ('running') AND id > 'inv_1''a' ORDER BY id LIMIT 3"
        );
        assert_eq!(count_query(""), "SELECT count(*) AS count FROM sys_invocation");
        let f = RunFilter::new()
            .state(RunState::Running)
            .state(RunState::Cancelled)
            .state(RunState::Running);
        assert_eq!(
            list_conditions(&f).unwrap(),
            "(status IN ('running', 'backing-off') OR (status = 'completed' AND completion_result = 'failure' AND \
             completion_failure IN ('[409] Cancelled', '[409] cancelled', '[409] Canceled', '[409] canceled')))"
        );
        let e = list_conditions(&RunFilter::new().state(RunState::Cancelling)).unwrap_err();
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
        assert!(list_conditions(&RunFilter::new().state(RunState::Failed)).is_ok());
    }

    #[test]
    fn queries() {
        assert_eq!(
            page_query("status != 'completed'", None, 100),
            "SELECT id FROM sys_invocation WHERE status != 'completed' ORDER BY id LIMIT 100"
        );
        assert_eq!(
            page_query("status != 'completed'", Some("inv_1a"), 3),
            "SELECT id FROM sys_invocation WHERE status != 'completed' AND id > 'inv_1a' ORDER BY id LIMIT 3"
        );
        assert_eq!(
            status_query("inv_1a"),
            "SELECT id, status, completion_result, completion_failure FROM sys_invocation WHERE id = 'inv_1a'"
        );
    }
}
