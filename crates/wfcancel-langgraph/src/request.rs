//! What a LangGraph run address must hold, and the requests the canceller sends.

use serde_json::{Value, json};
use wfcancel_core::http::{HttpClient, Method, Url};
use wfcancel_core::{CancelError, OwnerKind, RunRef};

use crate::BACKEND;

/// Which request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `POST /threads/{t}/runs/{r}/cancel?wait=false&action=interrupt`.
    Cancel,
    /// `GET /threads/{t}/runs/{r}` to refine a cancel's answer (before a bulk, after a 404).
    Read,
    /// `GET /threads/{t}/runs/{r}` for `status`.
    Status,
    /// `POST /runs/cancel?action=interrupt {thread_id, run_ids}`.
    CancelThreadRuns,
    /// `POST /runs/cancel?action=interrupt {status}`.
    CancelByStatus,
    /// `POST /threads/search`.
    SearchThreads,
    /// `GET /threads/{t}/runs?status=…`.
    ListRuns,
    /// `GET /threads/{t}/runs?status=…` for a page of `list_runs`.
    ListPage,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Cancel => "cancel",
            Op::Read => "read run",
            Op::Status => "status",
            Op::CancelThreadRuns => "cancel thread runs",
            Op::CancelByStatus => "cancel by status",
            Op::SearchThreads => "search threads",
            Op::ListRuns | Op::ListPage => "list runs",
        }
    }

    /// Whether a 404 of this request means "nothing to cancel".
    pub(crate) fn is_cancel(self) -> bool {
        matches!(self, Op::Cancel | Op::CancelThreadRuns | Op::CancelByStatus)
    }
}

/// Whether `s` is written as a UUID: 32 hex digits, either bare or as 8-4-4-4-12 with hyphens
/// (the forms LangGraph's ids take). The server answers 422 to anything its UUID parser refuses;
/// this refuses it before a request, and also refuses the exotic spellings Python's parser
/// accepts (`{…}`, `urn:uuid:…`), which LangGraph never hands out.
pub fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        32 => b.iter().all(u8::is_ascii_hexdigit),
        // The dashes, then the five groups of hex digits (no per-byte position test: every
        // cancel checks two ids).
        36 => {
            b[8] == b'-'
                && b[13] == b'-'
                && b[18] == b'-'
                && b[23] == b'-'
                && [&b[..8], &b[9..13], &b[14..18], &b[19..23], &b[24..]]
                    .iter()
                    .all(|group| group.iter().all(u8::is_ascii_hexdigit))
        }
        _ => false,
    }
}

/// Checks a LangGraph run address before anything is built: a run id and a thread owner, both
/// UUIDs; no scope, session or second id. Returns `(thread_id, run_id)`.
pub(crate) fn check(run: &RunRef) -> Result<(&str, &str), CancelError> {
    run.validate(BACKEND)?;
    let thread = match run.owner() {
        Some(o) if o.kind == OwnerKind::Thread => &*o.id,
        Some(o) => {
            return Err(CancelError::invalid_input(
                BACKEND,
                "owner",
                format!(
                    "a LangGraph run belongs to a thread (RunRef::new(run).thread(thread_id)), not to a {}",
                    o.kind
                ),
            ));
        }
        None => {
            return Err(CancelError::invalid_input(
                BACKEND,
                "owner",
                "a LangGraph run is a thread id plus a run id: RunRef::new(run_id).thread(thread_id)",
            ));
        }
    };
    for (field, present) in [
        ("session_id", run.session_id().is_some()),
        ("scope", run.scope_id().is_some()),
        ("sub_id", run.sub_id_str().is_some()),
    ] {
        if present {
            return Err(CancelError::invalid_input(
                BACKEND,
                field,
                format!("a LangGraph run is a thread id plus a run id; it has no {field}"),
            ));
        }
    }
    if !is_uuid(thread) {
        return Err(CancelError::invalid_input(
            BACKEND,
            "owner_id",
            format!("thread id {thread:?} is not a UUID (LangGraph answers 422 to it)"),
        ));
    }
    if !is_uuid(run.run_id()) {
        return Err(CancelError::invalid_input(
            BACKEND,
            "run_id",
            format!("run id {:?} is not a UUID (LangGraph answers 422 to it)", run.run_id()),
        ));
    }
    Ok((thread, run.run_id()))
}

/// One request the canceller would send: method, full URL (path segments percent-encoded) and
/// JSON body. It never holds the API key (that travels in the `x-api-key` header only), so it is
/// safe to print.
///
/// ```
/// use wfcancel_core::RunRef;
/// use wfcancel_langgraph::LangGraphCanceller;
///
/// let c = LangGraphCanceller::builder().base_url("http://127.0.0.1:2024").build()?;
/// let run = RunRef::new("1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b").thread("1ef4a9b0-0000-6000-8000-000000000001");
/// assert_eq!(
///     c.cancel_request(&run)?.to_string(),
///     "POST http://127.0.0.1:2024/threads/1ef4a9b0-0000-6000-8000-000000000001/runs/\
///      1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b/cancel?wait=false&action=interrupt"
/// );
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlannedRequest {
    /// HTTP method.
    pub method: Method,
    /// Full URL.
    pub url: Url,
    /// The JSON body, if any.
    pub body: Option<Value>,
}

impl PlannedRequest {
    /// The URL path (percent-encoded).
    pub fn path(&self) -> &str {
        self.url.path()
    }
}

impl std::fmt::Display for PlannedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.url)?;
        if let Some(body) = &self.body {
            write!(f, " {body}")?;
        }
        Ok(())
    }
}

pub(crate) type Planned = PlannedRequest;

fn run_url(http: &HttpClient, thread: &str, run: &str, tail: Option<&'static str>) -> Result<Url, CancelError> {
    let mut segments = vec![
        ("path", "threads"),
        ("owner_id", thread),
        ("path", "runs"),
        ("run_id", run),
    ];
    if let Some(tail) = tail {
        segments.push(("path", tail));
    }
    http.endpoint(&segments)
}

/// `POST /threads/{t}/runs/{r}/cancel?wait=false&action=interrupt` (no body).
pub(crate) fn cancel(http: &HttpClient, thread: &str, run: &str) -> Result<Planned, CancelError> {
    let mut url = run_url(http, thread, run, Some("cancel"))?;
    // A constant query: set as is (what `query_pairs_mut` would write, without its serializer).
    url.set_query(Some("wait=false&action=interrupt"));
    Ok(Planned {
        method: Method::POST,
        url,
        body: None,
    })
}

/// `GET /threads/{t}/runs/{r}`.
pub(crate) fn read(http: &HttpClient, thread: &str, run: &str) -> Result<Planned, CancelError> {
    Ok(Planned {
        method: Method::GET,
        url: run_url(http, thread, run, None)?,
        body: None,
    })
}

fn runs_cancel_url(http: &HttpClient) -> Result<Url, CancelError> {
    let mut url = http.endpoint(&[("path", "runs"), ("path", "cancel")])?;
    url.query_pairs_mut().append_pair("action", "interrupt");
    Ok(url)
}

/// `POST /runs/cancel?action=interrupt {"thread_id": t, "run_ids": [...]}`.
pub(crate) fn cancel_thread_runs(http: &HttpClient, thread: &str, runs: &[&str]) -> Result<Planned, CancelError> {
    Ok(Planned {
        method: Method::POST,
        url: runs_cancel_url(http)?,
        body: Some(json!({ "thread_id": thread, "run_ids": runs })),
    })
}

/// `POST /runs/cancel?action=interrupt {"status": "pending" | "running" | "all"}`.
pub(crate) fn cancel_by_status(http: &HttpClient, status: &str) -> Result<Planned, CancelError> {
    Ok(Planned {
        method: Method::POST,
        url: runs_cancel_url(http)?,
        body: Some(json!({ "status": status })),
    })
}

/// `POST /threads/search {"limit": …, "offset": …}`: every thread, not only `busy` ones (seen:
/// a thread with a running run reads `idle` once another run of it was interrupted).
pub(crate) fn search_threads(http: &HttpClient, limit: usize, offset: usize) -> Result<Planned, CancelError> {
    Ok(Planned {
        method: Method::POST,
        url: http.endpoint(&[("path", "threads"), ("path", "search")])?,
        body: Some(json!({ "limit": limit, "offset": offset })),
    })
}

/// `POST /threads/search {"limit": …, "offset": …, "sort_by": "created_at", "sort_order": "asc"}`:
/// every thread, oldest first, so that a thread created while a listing pages on comes after
/// the threads it already passed.
pub(crate) fn search_threads_oldest_first(
    http: &HttpClient,
    limit: usize,
    offset: usize,
) -> Result<Planned, CancelError> {
    Ok(Planned {
        method: Method::POST,
        url: http.endpoint(&[("path", "threads"), ("path", "search")])?,
        body: Some(json!({ "limit": limit, "offset": offset, "sort_by": "created_at", "sort_order": "asc" })),
    })
}

/// `GET /threads/{t}/runs?limit=…[&status=…]`.
pub(crate) fn list_runs(
    http: &HttpClient,
    thread: &str,
    status: Option<&str>,
    limit: usize,
    offset: usize,
) -> Result<Planned, CancelError> {
    let mut url = http.endpoint(&[("path", "threads"), ("owner_id", thread), ("path", "runs")])?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("limit", &limit.to_string())
            .append_pair("offset", &offset.to_string());
        if let Some(s) = status {
            q.append_pair("status", s);
        }
    }
    Ok(Planned {
        method: Method::GET,
        url,
        body: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids() {
        assert!(is_uuid("1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b"));
        assert!(is_uuid("1EF4A9B87C2D6E3F8A1B2C3D4E5F6A7B"));
        for bad in [
            "",
            "run-1",
            "1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7",
            "1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7bb",
            "{1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b}",
            "1ef4a9b87-c2d-6e3f-8a1b-2c3d4e5f6a7b",
            "1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7g",
        ] {
            assert!(!is_uuid(bad), "{bad}");
        }
    }
}
