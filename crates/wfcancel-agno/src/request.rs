//! The requests the canceller sends, built without sending them (the send path and `--dry-run`
//! share this code).

use wfcancel_core::http::{HttpClient, Method, Url};
use wfcancel_core::{CancelError, Owner, OwnerKind, RunRef};

use crate::BACKEND;

/// One request the canceller would send: method and full URL (path segments percent-encoded,
/// `session_id` in the query when given). It never holds the security key, so it is safe to
/// print (the CLI's `--dry-run` shows it).
///
/// ```
/// use wfcancel_agno::AgnoCanceller;
/// use wfcancel_core::RunRef;
///
/// let c = AgnoCanceller::builder().base_url("http://localhost:7777").security_key("k").build()?;
/// let req = c.cancel_request(&RunRef::new("run 1").workflow("nightly").session("s-1"))?;
/// assert_eq!(req.to_string(), "POST http://localhost:7777/workflows/nightly/runs/run%201/cancel?session_id=s-1");
/// assert_eq!(req.path(), "/workflows/nightly/runs/run%201/cancel");
/// # Ok::<(), wfcancel_core::CancelError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedRequest {
    /// HTTP method (`POST` for a cancel, `GET` for a status read).
    pub method: Method,
    /// Full URL, query included.
    pub url: Url,
}

impl PlannedRequest {
    /// The URL path (percent-encoded).
    pub fn path(&self) -> &str {
        self.url.path()
    }

    /// The query string (e.g. `session_id=s-1`), if any.
    pub fn query(&self) -> Option<&str> {
        self.url.query()
    }
}

impl std::fmt::Display for PlannedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.url)
    }
}

/// Which request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Cancel,
    Status,
    /// `GET /sessions?type=workflow&component_id=…`: a page of a workflow's sessions.
    Sessions,
    /// `GET /workflows/{id}/runs?session_id=…`: the runs of one session.
    Runs,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Cancel => "cancel",
            Op::Status => "status",
            Op::Sessions => "list sessions",
            Op::Runs => "list runs",
        }
    }
}

/// The path collection of an owner kind: `workflows`, `agents`, `teams`.
fn collection(kind: OwnerKind) -> Result<&'static str, CancelError> {
    match kind {
        OwnerKind::Workflow => Ok("workflows"),
        OwnerKind::Agent => Ok("agents"),
        OwnerKind::Team => Ok("teams"),
        other => Err(CancelError::invalid_input(
            BACKEND,
            "owner",
            format!("Agno runs belong to a workflow, an agent or a team, not to a {other}"),
        )),
    }
}

/// The owner, or the error saying Agno needs one.
pub(crate) fn require_owner(run: &RunRef) -> Result<&Owner, CancelError> {
    run.owner().ok_or_else(|| {
        CancelError::invalid_input(
            BACKEND,
            "owner",
            format!(
                "Agno needs to know what owns run {:?}: use RunRef::new(run_id).workflow(id), .agent(id) or .team(id)",
                run.run_id()
            ),
        )
    })
}

/// Validates `run` for `op` without building anything: what [`build`] refuses, this refuses
/// (a bulk checks every run with it before sending the first request).
pub(crate) fn check(op: Op, run: &RunRef) -> Result<(), CancelError> {
    run.validate(BACKEND)?;
    let owner = require_owner(run)?;
    collection(owner.kind)?;
    for (field, segment) in [("owner_id", &*owner.id), ("run_id", run.run_id())] {
        if segment == "." || segment == ".." {
            return Err(CancelError::invalid_input(
                BACKEND,
                field,
                format!("{segment:?} cannot be sent as a URL path segment"),
            ));
        }
    }
    if op == Op::Status && run.session_id().is_none() {
        return Err(CancelError::invalid_input(
            BACKEND,
            "session_id",
            format!(
                "Agno needs the session id to read run {:?}: use .session(session_id) on the RunRef \
                 (AgentOS returns it with the run id when the run starts)",
                run.run_id()
            ),
        ));
    }
    Ok(())
}

/// Validates `run` and builds the request for `op`; nothing is sent.
pub(crate) fn build(http: &HttpClient, op: Op, run: &RunRef) -> Result<PlannedRequest, CancelError> {
    check(op, run)?;
    let owner = require_owner(run)?;
    let session = run.session_id();
    let kind = collection(owner.kind)?;
    let mut segments: Vec<(&'static str, &str)> = vec![
        ("path", kind),
        ("owner_id", &*owner.id),
        ("path", "runs"),
        ("run_id", run.run_id()),
    ];
    if op == Op::Cancel {
        segments.push(("path", "cancel"));
    }
    let mut url = http.endpoint(&segments)?;
    if let Some(session) = session {
        url.query_pairs_mut().append_pair("session_id", session);
    }
    let method = match op {
        Op::Cancel => Method::POST,
        _ => Method::GET,
    };
    Ok(PlannedRequest { method, url })
}

/// `GET /sessions?type=workflow&component_id=<workflow>&limit=…&page=…&sort_by=created_at&sort_order=asc`:
/// one page (1-based) of a workflow's sessions, oldest first.
pub(crate) fn sessions(
    http: &HttpClient,
    workflow: &str,
    limit: usize,
    page: usize,
) -> Result<PlannedRequest, CancelError> {
    let mut url = http.endpoint(&[("path", "sessions")])?;
    url.query_pairs_mut()
        .append_pair("type", "workflow")
        .append_pair("component_id", workflow)
        .append_pair("limit", &limit.to_string())
        .append_pair("page", &page.to_string())
        .append_pair("sort_by", "created_at")
        .append_pair("sort_order", "asc");
    Ok(PlannedRequest {
        method: Method::GET,
        url,
    })
}

/// `GET /workflows/{workflow}/runs?session_id=…[&status=…]`: the runs of one session.
pub(crate) fn session_runs(
    http: &HttpClient,
    workflow: &str,
    session: &str,
    status: Option<&str>,
) -> Result<PlannedRequest, CancelError> {
    for (field, segment) in [("filter.workflows", workflow)] {
        if segment == "." || segment == ".." {
            return Err(CancelError::invalid_input(
                BACKEND,
                field,
                format!("{segment:?} cannot be sent as a URL path segment"),
            ));
        }
    }
    let mut url = http.endpoint(&[("path", "workflows"), ("owner_id", workflow), ("path", "runs")])?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("session_id", session);
        if let Some(s) = status {
            q.append_pair("status", s);
        }
    }
    Ok(PlannedRequest {
        method: Method::GET,
        url,
    })
}
