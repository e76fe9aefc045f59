//! The requests the canceller sends, built without sending them.

use serde_json::{Value, json};
use wfcancel_core::http::{HttpClient, Method, Url};
use wfcancel_core::{CancelError, RunRef};

use crate::BACKEND;

/// One request the canceller would send: method, full URL (path segments percent-encoded) and
/// JSON body. It never holds the API key (that travels in the `Authorization` header only), so
/// it is safe to print.
///
/// ```
/// use wfcancel_temporal::TemporalCanceller;
/// use wfcancel_core::RunRef;
///
/// let c = TemporalCanceller::builder().base_url("http://localhost:7243").build()?;
/// let req = c.describe_request(&RunRef::new("order 42").sub_id("0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e"))?;
/// assert_eq!(
///     req.to_string(),
///     "GET http://localhost:7243/api/v1/namespaces/default/workflows/order%2042?execution.runId=0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e"
/// );
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PlannedRequest {
    /// HTTP method.
    pub method: Method,
    /// Full URL, query included.
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

/// Which request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// A describe before a cancel.
    Describe,
    /// A describe for `status`.
    Status,
    Cancel,
    Terminate,
    BatchStart,
    BatchDescribe,
    /// A visibility list of one workflow id's executions, before a cancel.
    List,
    /// A visibility list for `status`.
    ListStatus,
    /// A visibility list of which of many workflow ids are running, before a bulk cancels them.
    ListRunning,
    /// A page of a listing (`list_runs`).
    ListRuns,
    /// A visibility count (`count_runs`).
    Count,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Describe => "describe",
            Op::Status => "status",
            Op::Cancel => "cancel",
            Op::Terminate => "terminate",
            Op::BatchStart => "batch start",
            Op::BatchDescribe => "batch describe",
            Op::List | Op::ListStatus | Op::ListRunning => "list",
            Op::ListRuns => "list runs",
            Op::Count => "count",
        }
    }
}

/// A random version-4 UUID (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`). A request or job id only
/// has to be unique, not secret: 122 random bits from `fastrand` (seeded per thread from the
/// OS) do, without a UUID crate.
pub(crate) fn uuid_v4() -> String {
    let hi = fastrand::u64(..);
    let lo = fastrand::u64(..);
    let hi = (hi & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
    let lo = (lo & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        hi >> 32,
        (hi >> 16) & 0xffff,
        hi & 0xffff,
        lo >> 48,
        lo & 0xffff_ffff_ffff
    )
}

/// Checks what a Temporal run address may hold, before anything is built: a workflow id (the
/// run id of the [`RunRef`]), a namespace (its scope) and a run id (its second id); no owner
/// and no session, which Temporal has no use for.
pub(crate) fn check(run: &RunRef) -> Result<(), CancelError> {
    run.validate(BACKEND)?;
    if let Some(owner) = run.owner() {
        return Err(CancelError::invalid_input(
            BACKEND,
            "owner",
            format!(
                "a Temporal run is a workflow id in a namespace (with an optional run id); it has no {} owner",
                owner.kind
            ),
        ));
    }
    if run.session_id().is_some() {
        return Err(CancelError::invalid_input(
            BACKEND,
            "session_id",
            "a Temporal run is a workflow id in a namespace (with an optional run id); it has no session",
        ));
    }
    if let Some(sub) = run.sub_id_str() {
        if !is_run_id(sub) {
            return Err(CancelError::invalid_input(
                BACKEND,
                "sub_id",
                format!(
                    "run id {sub:?} is not a UUID (Temporal's run ids are, e.g. 0193c4d2-6a7e-7b1c-9f3e-2d4a5b6c7d8e)"
                ),
            ));
        }
    }
    if needs_visibility(run) && run.run_id().contains(['"', '\\']) {
        // Such an id is reached through a visibility query, and visibility values holding `"` or
        // `\` match nothing on the dev server (SQLite): saying "no such run" would be a guess.
        return Err(CancelError::unsupported(
            BACKEND,
            format!(
                "workflow id {:?} holds '/' (which Temporal's HTTP API cannot put in a path) and a quote or \
                 backslash (which its visibility queries do not match): it cannot be reached over HTTP",
                run.run_id()
            ),
        ));
    }
    Ok(())
}

/// Whether `s` is a UUID as the server parses run ids (Go's `uuid.Parse`): 8-4-4-4-12 hex with
/// hyphens, 32 bare hex digits, either in braces, or after `urn:uuid:`. Anything else the server
/// refuses with `400 Invalid RunId.`: refused here before a request.
fn is_run_id(s: &str) -> bool {
    let inner = s
        .strip_prefix("urn:uuid:")
        .or_else(|| s.strip_prefix('{').and_then(|x| x.strip_suffix('}')))
        .unwrap_or(s);
    let b = inner.as_bytes();
    match b.len() {
        32 => b.iter().all(u8::is_ascii_hexdigit),
        36 => b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        }),
        _ => false,
    }
}

/// Whether `run` is reached through visibility and batch operations instead of
/// `…/workflows/{id}`: its workflow id holds `/`, which the HTTP gateway decodes from `%2F`
/// before it routes, so no path can name it (seen: a bare 404).
pub(crate) fn needs_visibility(run: &RunRef) -> bool {
    run.run_id().contains('/')
}

/// `GET …/workflows?query=WorkflowId = "…"[ AND RunId = "…"]`: the executions of one workflow
/// id, through visibility (for ids that no path can name).
pub(crate) fn list_executions(http: &HttpClient, ns: &str, run: &RunRef) -> Result<PlannedRequest, CancelError> {
    check(run)?;
    let mut url = http.endpoint(&[
        ("path", "api"),
        ("path", "v1"),
        ("path", "namespaces"),
        ("namespace", ns),
        ("path", "workflows"),
    ])?;
    let mut query = format!("WorkflowId = {}", crate::quote(run.run_id()));
    if let Some(rid) = run.sub_id_str() {
        query.push_str(&format!(" AND RunId = {}", crate::quote(rid)));
    }
    url.query_pairs_mut().append_pair("query", &query);
    Ok(PlannedRequest {
        method: Method::GET,
        url,
        body: None,
    })
}

/// `GET …/namespaces/{ns}/workflows?query=…&pageSize=…&nextPageToken=…`: one page of a listing
/// (no `query` for the empty query: every workflow).
pub(crate) fn list_page(
    http: &HttpClient,
    ns: &str,
    query: &str,
    page_size: usize,
    token: Option<&str>,
) -> Result<PlannedRequest, CancelError> {
    let mut url = http.endpoint(&[
        ("path", "api"),
        ("path", "v1"),
        ("path", "namespaces"),
        ("namespace", ns),
        ("path", "workflows"),
    ])?;
    {
        let mut q = url.query_pairs_mut();
        if !query.is_empty() {
            q.append_pair("query", query);
        }
        q.append_pair("pageSize", &page_size.to_string());
        if let Some(token) = token {
            q.append_pair("nextPageToken", token);
        }
    }
    Ok(PlannedRequest {
        method: Method::GET,
        url,
        body: None,
    })
}

/// `GET …/namespaces/{ns}/workflow-count?query=…` (no `query` for the empty query).
pub(crate) fn count(http: &HttpClient, ns: &str, query: &str) -> Result<PlannedRequest, CancelError> {
    let mut url = http.endpoint(&[
        ("path", "api"),
        ("path", "v1"),
        ("path", "namespaces"),
        ("namespace", ns),
        ("path", "workflow-count"),
    ])?;
    if !query.is_empty() {
        url.query_pairs_mut().append_pair("query", query);
    }
    Ok(PlannedRequest {
        method: Method::GET,
        url,
        body: None,
    })
}

/// `GET …/workflows?query=WorkflowId IN ("a", "b", …) AND ExecutionStatus = "Running"&pageSize=N`:
/// which of these workflow ids have an open execution, and its run id, in one request (a bulk
/// by ids reads its running workflows this way instead of one describe each). Every id quoted
/// with [`crate::quote`]; a workflow id has at most one open execution, so one page of
/// `ids.len()` holds them all.
pub(crate) fn list_running(http: &HttpClient, ns: &str, ids: &[&str]) -> Result<PlannedRequest, CancelError> {
    let quoted: Vec<String> = ids.iter().map(|id| crate::quote(id)).collect();
    let query = format!("WorkflowId IN ({}) AND {}", quoted.join(", "), crate::query::RUNNING);
    list_page(http, ns, &query, ids.len().max(1), None)
}

/// `…/api/v1/namespaces/{ns}/workflows/{id}[/{action}]`.
fn workflow_url(http: &HttpClient, ns: &str, run: &RunRef, action: Option<&'static str>) -> Result<Url, CancelError> {
    let mut segments: Vec<(&'static str, &str)> = vec![
        ("path", "api"),
        ("path", "v1"),
        ("path", "namespaces"),
        ("namespace", ns),
        ("path", "workflows"),
        ("run_id", run.run_id()),
    ];
    if let Some(action) = action {
        segments.push(("path", action));
    }
    http.endpoint(&segments)
}

/// `GET …/workflows/{id}[?execution.runId=…]`.
pub(crate) fn describe(http: &HttpClient, ns: &str, run: &RunRef) -> Result<PlannedRequest, CancelError> {
    check(run)?;
    let mut url = workflow_url(http, ns, run, None)?;
    if let Some(rid) = run.sub_id_str() {
        url.query_pairs_mut().append_pair("execution.runId", rid);
    }
    Ok(PlannedRequest {
        method: Method::GET,
        url,
        body: None,
    })
}

/// `POST …/workflows/{id}/cancel` or `/terminate`, with the reason, identity, the request id (a
/// cancel only: terminate has none) and the run id when known.
#[allow(clippy::too_many_arguments)] // the parts of one request body, named at each call
pub(crate) fn stop(
    http: &HttpClient,
    ns: &str,
    run: &RunRef,
    run_id: Option<&str>,
    op: Op,
    reason: Option<&str>,
    identity: &str,
    request_id: &str,
) -> Result<PlannedRequest, CancelError> {
    check(run)?;
    let action = match op {
        Op::Terminate => "terminate",
        _ => "cancel",
    };
    let url = workflow_url(http, ns, run, Some(action))?;
    let mut body = json!({ "identity": identity });
    if op == Op::Cancel {
        body["requestId"] = json!(request_id);
    }
    if let Some(reason) = reason {
        body["reason"] = json!(reason);
    }
    if let Some(rid) = run_id.or(run.sub_id_str()) {
        body["workflowExecution"] = json!({ "workflowId": run.run_id(), "runId": rid });
    }
    Ok(PlannedRequest {
        method: Method::POST,
        url,
        body: Some(body),
    })
}

/// `…/api/v1/namespaces/{ns}/batch-operations/{jobId}`.
fn batch_url(http: &HttpClient, ns: &str, job_id: &str) -> Result<Url, CancelError> {
    http.endpoint(&[
        ("path", "api"),
        ("path", "v1"),
        ("path", "namespaces"),
        ("namespace", ns),
        ("path", "batch-operations"),
        ("action_id", job_id),
    ])
}

/// `POST …/batch-operations/{jobId}` over a visibility query, cancelling or terminating.
pub(crate) fn batch_start(
    http: &HttpClient,
    ns: &str,
    job_id: &str,
    query: &str,
    forced: bool,
    reason: &str,
    identity: &str,
) -> Result<PlannedRequest, CancelError> {
    let url = batch_url(http, ns, job_id)?;
    let op = if forced {
        "terminationOperation"
    } else {
        "cancellationOperation"
    };
    let mut body = json!({ "jobId": job_id, "visibilityQuery": query, "reason": reason });
    body[op] = json!({ "identity": identity });
    Ok(PlannedRequest {
        method: Method::POST,
        url,
        body: Some(body),
    })
}

/// `POST …/batch-operations/{jobId}` over one execution named in the body (a workflow id that no
/// path can name), cancelling or terminating it.
#[allow(clippy::too_many_arguments)] // the parts of one request body, named at each call
pub(crate) fn batch_start_execution(
    http: &HttpClient,
    ns: &str,
    job_id: &str,
    workflow_id: &str,
    run_id: Option<&str>,
    forced: bool,
    reason: &str,
    identity: &str,
) -> Result<PlannedRequest, CancelError> {
    let url = batch_url(http, ns, job_id)?;
    let op = if forced {
        "terminationOperation"
    } else {
        "cancellationOperation"
    };
    let mut execution = json!({ "workflowId": workflow_id });
    if let Some(rid) = run_id {
        execution["runId"] = json!(rid);
    }
    let mut body = json!({ "jobId": job_id, "executions": [execution], "reason": reason });
    body[op] = json!({ "identity": identity });
    Ok(PlannedRequest {
        method: Method::POST,
        url,
        body: Some(body),
    })
}

/// `GET …/batch-operations/{jobId}`.
pub(crate) fn batch_describe(http: &HttpClient, ns: &str, job_id: &str) -> Result<PlannedRequest, CancelError> {
    Ok(PlannedRequest {
        method: Method::GET,
        url: batch_url(http, ns, job_id)?,
        body: None,
    })
}

#[cfg(test)]
mod tests {
    use super::uuid_v4;

    #[test]
    fn uuids_are_v4_and_differ() {
        let a = uuid_v4();
        let b = uuid_v4();
        assert_ne!(a, b);
        for u in [a, b] {
            assert_eq!(u.len(), 36, "{u}");
            let parts: Vec<&str> = u.split('-').collect();
            assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
            assert!(parts[2].starts_with('4'), "{u}");
            assert!(matches!(&parts[3][..1], "8" | "9" | "a" | "b"), "{u}");
        }
    }
}
