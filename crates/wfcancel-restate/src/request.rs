//! The requests the canceller sends, built without sending them.

use serde_json::{Value, json};
use wfcancel_core::http::{HttpClient, Method, Url};
use wfcancel_core::{CancelError, RunRef};

use crate::BACKEND;

/// The prefix of every invocation id.
pub const INVOCATION_ID_PREFIX: &str = "inv_";

/// One request the canceller would send: method, full URL (path segments percent-encoded) and
/// JSON body. It never holds the token (that travels in the `Authorization` header only), so it
/// is safe to print.
///
/// ```
/// use wfcancel_core::{CancelOptions, RunRef};
/// use wfcancel_restate::RestateCanceller;
///
/// let c = RestateCanceller::builder().admin_url("http://localhost:9070").build()?;
/// let run = RunRef::new("inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O");
/// assert_eq!(
///     c.cancel_request(&run, &CancelOptions::forced())?.to_string(),
///     "PATCH http://localhost:9070/invocations/inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O/kill"
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

/// Which request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `PATCH /invocations/{id}/cancel`.
    Cancel,
    /// `PATCH /invocations/{id}/kill`.
    Kill,
    /// `POST /query`: one invocation's state.
    Status,
    /// `POST /query`: a page of matching ids.
    Page,
    /// `POST /query`: a page of a listing.
    List,
    /// `POST /query`: a count.
    Count,
}

impl Op {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Op::Cancel => "cancel",
            Op::Kill => "kill",
            Op::Status => "status",
            Op::Page => "query",
            Op::List => "list",
            Op::Count => "count",
        }
    }
}

/// Checks a Restate run address before anything is built: an invocation id (`inv_` and then
/// base62 letters and digits only) and nothing else (no owner, session, scope or second id,
/// which Restate has no use for). A malformed id is refused here, before any request, naming
/// `run_id`; the server judges the rest (its codec version and length: a `400` is
/// [`CancelError::InvalidInput`] too).
pub(crate) fn check(run: &RunRef) -> Result<(), CancelError> {
    run.validate(BACKEND)?;
    let refuse = |field: &'static str, what: &str| {
        Err(CancelError::invalid_input(
            BACKEND,
            field,
            format!("a Restate run is an invocation id (inv_…) and nothing else; it has no {what}"),
        ))
    };
    if let Some(owner) = run.owner() {
        return refuse("owner", &format!("{} owner", owner.kind));
    }
    if run.session_id().is_some() {
        return refuse("session_id", "session");
    }
    if run.scope_id().is_some() {
        return refuse("scope", "scope");
    }
    if run.sub_id_str().is_some() {
        return refuse("sub_id", "second id");
    }
    check_invocation_id(run.run_id())
}

/// `inv_` followed by one or more ASCII letters and digits (the base62 alphabet of Restate's
/// ids), e.g. `inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O`.
pub(crate) fn check_invocation_id(id: &str) -> Result<(), CancelError> {
    let body = id.strip_prefix(INVOCATION_ID_PREFIX).unwrap_or_default();
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(CancelError::invalid_input(
            BACKEND,
            "run_id",
            format!(
                "{id:?} is not a Restate invocation id (inv_ followed by letters and digits, e.g. \
                 inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O)"
            ),
        ));
    }
    Ok(())
}

/// `PATCH /invocations/{id}/cancel` or `/kill` (never the deprecated `DELETE …?mode=`, which
/// answers 202 even for a completed invocation).
pub(crate) fn stop(http: &HttpClient, run: &RunRef, op: Op) -> Result<PlannedRequest, CancelError> {
    check(run)?;
    let action = match op {
        Op::Kill => "kill",
        _ => "cancel",
    };
    let url = http.endpoint(&[("path", "invocations"), ("run_id", run.run_id()), ("path", action)])?;
    Ok(PlannedRequest {
        method: Method::PATCH,
        url,
        body: None,
    })
}

/// `POST /query {"query": …}`.
pub(crate) fn query(http: &HttpClient, sql: &str) -> Result<PlannedRequest, CancelError> {
    Ok(PlannedRequest {
        method: Method::POST,
        url: http.endpoint(&[("path", "query")])?,
        body: Some(json!({ "query": sql })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocation_ids() {
        for good in ["inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O", "inv_abc"] {
            assert!(check(&RunRef::new(good)).is_ok(), "{good}");
        }
        for bad in [
            "inv_",
            "inv",
            "1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O",
            "INV_1gthr",
            "inv_1gthr'",
            "inv_1g-x",
            "inv_1g/x",
            "inv_ü",
            "inv_1 2",
            "inv_1';--",
        ] {
            let e = check(&RunRef::new(bad)).unwrap_err();
            assert!(
                matches!(&e, CancelError::InvalidInput { field: "run_id", message, .. } if message.contains(&format!("{bad:?}"))),
                "{bad}: {e:?}"
            );
        }
        let id = "inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O";
        for (run, field) in [
            (RunRef::new(id).workflow("w"), "owner"),
            (RunRef::new(id).session("s"), "session_id"),
            (RunRef::new(id).scope("ns"), "scope"),
            (RunRef::new(id).sub_id("r"), "sub_id"),
        ] {
            let e = check(&run).unwrap_err();
            assert!(
                matches!(e, CancelError::InvalidInput { field: f, .. } if f == field),
                "{field}: {e:?}"
            );
        }
    }
}
