//! Building requests: query encoding, chunking of id lists, and the public plan.
//!
//! Everything sent goes through the functions here, and [`crate::UpstashCanceller::plan`] shows
//! exactly what they build, so a dry run cannot drift from a real one.

use std::borrow::Cow;
use std::ops::Range;

use url::form_urlencoded::byte_serialize;
use wfcancel_core::http::{Method, Url};
use wfcancel_core::{BulkOptions, CancelError, RunFilter, RunRef, Selector, UrlMatch, epoch_millis, unique_runs};

use crate::BACKEND;

/// The query key of one run id in a bulk cancel by ids.
pub(crate) const RUN_IDS_KEY: &str = "workflowRunIds";

/// One request a bulk or single cancel would send, without sending it (see
/// [`crate::UpstashCanceller::plan`]). Never holds the token: it travels in a header, and the
/// header is not part of a plan.
///
/// ```
/// use wfcancel_core::{BulkOptions, RunFilter, Selector};
/// use wfcancel_upstash::UpstashCanceller;
/// let c = UpstashCanceller::builder().token("t").build().unwrap();
/// let plan = c.plan(&Selector::filter(RunFilter::new().label("nightly")), &BulkOptions::new().drain(true)).unwrap();
/// assert_eq!(plan[0].to_string(), "DELETE /v2/workflows/runs?label=nightly&count=100");
/// assert_eq!(plan[0].max_sends, 10_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PlannedRequest {
    /// HTTP method.
    pub method: Method,
    /// The full URL: base URL, path and query.
    pub url: Url,
    /// How many run ids the request carries (0 for filtered, cancel-all and status requests).
    pub run_ids: usize,
    /// How many times it may be sent: 1, or the drain's round limit when it is repeated until
    /// a state read confirms nothing is left (see [Draining](crate#draining)).
    pub max_sends: u32,
}

impl PlannedRequest {
    pub(crate) fn once(method: Method, url: Url, run_ids: usize) -> Self {
        PlannedRequest {
            method,
            url,
            run_ids,
            max_sends: 1,
        }
    }

    /// The path, e.g. `/v2/workflows/runs`.
    pub fn path(&self) -> &str {
        self.url.path()
    }

    /// The raw (encoded) query, if any.
    pub fn query(&self) -> Option<&str> {
        self.url.query()
    }

    /// The decoded query pairs, in order (repeated keys repeated).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// `METHOD /path?query` (no scheme, host or token).
impl std::fmt::Display for PlannedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.url.path())?;
        if let Some(q) = self.url.query() {
            write!(f, "?{q}")?;
        }
        Ok(())
    }
}

/// How a bulk cancel is carried out (the inside of a plan).
#[derive(Debug, Clone)]
pub(crate) enum BulkPlan<'a> {
    /// Bulk by ids: the ids (repeats dropped) split into these ranges, one request each.
    Chunks {
        runs: Cow<'a, [RunRef]>,
        ranges: Vec<Range<usize>>,
        duplicates: u64,
    },
    /// Filter or all: one URL, sent once or repeated (drain).
    Rounds {
        url: Url,
        filter: Option<&'a RunFilter>,
        drain: bool,
        max_rounds: u32,
    },
}

/// Length of `s` once form-urlencoded, as `Url::query_pairs_mut` writes it.
pub(crate) fn encoded_len(s: &str) -> usize {
    byte_serialize(s.as_bytes()).map(str::len).sum()
}

/// The bulk endpoint with the ids of `runs` as repeated `workflowRunIds`.
pub(crate) fn ids_url(runs_url: &Url, runs: &[RunRef]) -> Url {
    let mut url = runs_url.clone();
    {
        let mut q = url.query_pairs_mut();
        for run in runs {
            q.append_pair(RUN_IDS_KEY, run.run_id());
        }
    }
    url
}

/// Splits `runs` into ranges whose bulk-cancel URL is at most `max_url_bytes` long.
///
/// Linear: the URL length is measured incrementally (`workflowRunIds=<encoded id>` plus one
/// `&` per extra pair), never by building URLs. An id whose URL alone exceeds the limit makes
/// the whole call fail with `InvalidInput` before anything is sent.
pub(crate) fn chunk_ranges(
    runs_url: &Url,
    runs: &[RunRef],
    max_url_bytes: usize,
) -> Result<Vec<Range<usize>>, CancelError> {
    let base = runs_url.as_str().len() + 1; // the '?'
    let key = RUN_IDS_KEY.len() + 1; // "workflowRunIds="
    let mut chunks = Vec::new();
    let mut start = 0;
    let mut len = base;
    for (i, run) in runs.iter().enumerate() {
        let pair = key + encoded_len(run.run_id());
        if base + pair > max_url_bytes {
            return Err(CancelError::invalid_input(
                BACKEND,
                "ids",
                format!(
                    "run id #{i} ({}) is {} bytes once URL-encoded; the request URL for it alone would be {} bytes, over \
                     max_url_bytes ({max_url_bytes})",
                    preview(run.run_id()),
                    pair - key,
                    base + pair
                ),
            ));
        }
        if i == start {
            len = base + pair;
        } else if len + 1 + pair > max_url_bytes {
            chunks.push(start..i);
            start = i;
            len = base + pair;
        } else {
            len += 1 + pair;
        }
    }
    if start < runs.len() {
        chunks.push(start..runs.len());
    }
    Ok(chunks)
}

fn preview(id: &str) -> String {
    let mut p: String = id.chars().take(32).collect();
    if p.len() < id.len() {
        p.push('…');
    }
    format!("{p:?}")
}

/// The query of a filtered (or, with `filter == None`, cancel-all) bulk cancel, encoded as the
/// official SDK encodes it: `label`, `fromDate`, `toDate` (epoch ms), `callerIp`,
/// `flowControlKey`, `host`, `path` (multi-valued fields as repeated keys), then `workflowUrl` (+
/// `workflowUrlExactMatch=true` for an exact match), then `count`. The order is the SDK's for a
/// filter object written in that order (it follows the caller's object order, then the URL keys,
/// then `count`; recorded in `tools/upstash-sdk/OBSERVED.md`).
///
/// A background action (`background`) sends `async=true` in place of `count`: the action is to
/// cancel every match, and `total` in its status counts every match.
pub(crate) fn filter_url(runs_url: &Url, filter: Option<&RunFilter>, count: usize, background: bool) -> Url {
    let mut url = runs_url.clone();
    {
        let mut q = url.query_pairs_mut();
        if let Some(f) = filter {
            for label in f.labels.iter().flatten() {
                q.append_pair("label", label);
            }
            if let Some(from) = f.from {
                q.append_pair("fromDate", &epoch_millis(from).to_string());
            }
            if let Some(to) = f.to {
                q.append_pair("toDate", &epoch_millis(to).to_string());
            }
            for ip in f.caller_ips.iter().flatten() {
                q.append_pair("callerIp", ip);
            }
            for key in f.flow_control_keys.iter().flatten() {
                q.append_pair("flowControlKey", key);
            }
            for host in f.hosts.iter().flatten() {
                q.append_pair("host", host);
            }
            for path in f.paths.iter().flatten() {
                q.append_pair("path", path);
            }
            match &f.url {
                Some(UrlMatch::Exact(u)) => {
                    q.append_pair("workflowUrl", u);
                    q.append_pair("workflowUrlExactMatch", "true");
                }
                Some(UrlMatch::Prefix(p)) => {
                    q.append_pair("workflowUrl", p);
                }
                // Other kinds are refused by `bulk_plan` before any URL is built.
                Some(_) | None => {}
            }
        }
        if background {
            q.append_pair("async", "true");
        } else {
            q.append_pair("count", &count.to_string());
        }
    }
    url
}

/// Whether `id` can be sent as one path segment (`DELETE /v2/workflows/runs/{id}`): anything
/// but `.` and `..` (which no encoding keeps one segment); the empty id and control characters
/// are refused earlier.
pub(crate) fn fits_path(id: &str) -> bool {
    id != "." && id != ".."
}

/// Validates one run for a single cancel or a status read (and their plans): the contract's
/// checks, then no comma in the run id.
pub(crate) fn validate_run(run: &RunRef) -> Result<(), CancelError> {
    run.validate(BACKEND)?;
    if run.run_id().contains(',') {
        return Err(comma_error("run_id", format!("run id {}", preview(run.run_id()))));
    }
    Ok(())
}

/// The Upstash checks on a selector beyond the contract's: no comma in any value the server
/// splits on commas (run ids, labels, caller IPs, flow-control keys), or may (hosts, paths: not
/// confirmed, refused to be safe). Workflow URLs are not split, and may hold commas.
fn refuse_commas(selector: &Selector) -> Result<(), CancelError> {
    match selector {
        Selector::Ids(runs) => {
            if let Some((i, run)) = runs.iter().enumerate().find(|(_, r)| r.run_id().contains(',')) {
                return Err(comma_error("ids", format!("run id #{i} ({})", preview(run.run_id()))));
            }
        }
        Selector::Filter(f) => {
            for (field, what, values) in [
                ("filter.labels", "label", &f.labels),
                ("filter.caller_ips", "caller IP", &f.caller_ips),
                ("filter.flow_control_keys", "flow-control key", &f.flow_control_keys),
                ("filter.hosts", "host", &f.hosts),
                ("filter.paths", "path", &f.paths),
            ] {
                if let Some(v) = values.iter().flatten().find(|v| v.contains(',')) {
                    return Err(comma_error(field, format!("{what} {}", preview(v))));
                }
            }
        }
        // Cancel-all carries no values; other kinds are refused by `bulk_plan`.
        _ => {}
    }
    Ok(())
}

fn comma_error(field: &'static str, subject: String) -> CancelError {
    let hint = if field.starts_with("filter.") {
        "; give each value on its own"
    } else {
        ""
    };
    CancelError::invalid_input(
        BACKEND,
        field,
        format!(
            "{subject} must not contain a comma: Upstash splits values on commas, so it would cancel other runs{hint}"
        ),
    )
}

/// Validates a bulk cancel and decides how it is carried out. Nothing is sent.
///
/// The one place a bulk is validated: [`crate::UpstashCanceller::plan`], `plan_async`,
/// `cancel_many` and `cancel_many_async` all come through here.
pub(crate) fn bulk_plan<'a>(
    runs_url: &Url,
    selector: &'a Selector,
    opts: &BulkOptions,
    max_url_bytes: usize,
    background: bool,
) -> Result<BulkPlan<'a>, CancelError> {
    opts.validate(BACKEND)?;
    selector.validate(BACKEND)?;
    refuse_commas(selector)?;
    // Bulk actions are filter-based: ids and cancel-all never run in the background.
    let (filter, background) = match selector {
        Selector::Ids(runs) => {
            let (runs, duplicates) = unique_runs(runs);
            let ranges = chunk_ranges(runs_url, &runs, max_url_bytes)?;
            return Ok(BulkPlan::Chunks {
                runs,
                ranges,
                duplicates,
            });
        }
        Selector::Filter(f) => {
            if let Some(u) = &f.url {
                if !matches!(u, UrlMatch::Exact(_) | UrlMatch::Prefix(_)) {
                    return Err(CancelError::unsupported(BACKEND, "this kind of workflow URL match"));
                }
            }
            (Some(f), background)
        }
        Selector::All(_) => (None, false),
        _ => return Err(CancelError::unsupported(BACKEND, "this kind of selector")),
    };
    let url = filter_url(runs_url, filter, opts.page_size, background);
    if url.as_str().len() > max_url_bytes {
        return Err(CancelError::invalid_input(
            BACKEND,
            "filter",
            format!(
                "the request URL would be {} bytes, over max_url_bytes ({max_url_bytes})",
                url.as_str().len()
            ),
        ));
    }
    // A background call normally answers an action id, which ends the rounds; a server that
    // ignores `async` answers a count, and then the drain goes on as usual.
    Ok(BulkPlan::Rounds {
        url,
        filter,
        drain: opts.drain,
        max_rounds: opts.max_rounds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs_url() -> Url {
        Url::parse("http://127.0.0.1:1/v2/workflows/runs").unwrap()
    }

    #[test]
    fn encoded_len_matches_what_the_url_serializer_writes() {
        for id in ["plain", "a b", "ü/?#%&=+", "..", "wfr_\u{1F600}"] {
            let url = ids_url(&runs_url(), &[RunRef::new(id)]);
            let query = url.query().unwrap();
            assert_eq!(
                query.len(),
                RUN_IDS_KEY.len() + 1 + encoded_len(id),
                "{id:?} -> {query}"
            );
        }
    }

    #[test]
    fn chunks_are_as_full_as_the_limit_allows() {
        let runs: Vec<RunRef> = (0..1000).map(|i| RunRef::new(format!("wfr_{i:05}"))).collect();
        for max in [80, 200, 1000, 4096] {
            let chunks = chunk_ranges(&runs_url(), &runs, max).unwrap();
            let mut next = 0;
            for (n, c) in chunks.iter().enumerate() {
                assert_eq!(c.start, next);
                next = c.end;
                let len = ids_url(&runs_url(), &runs[c.clone()]).as_str().len();
                assert!(len <= max, "chunk {n} is {len} > {max}");
                if c.end < runs.len() {
                    let one_more = ids_url(&runs_url(), &runs[c.start..c.end + 1]).as_str().len();
                    assert!(one_more > max, "chunk {n} could hold one more id");
                }
            }
            assert_eq!(next, runs.len());
        }
    }

    #[test]
    fn commas_are_refused_where_the_server_splits_on_them() {
        let field = |r: Result<(), CancelError>| match r {
            Err(CancelError::InvalidInput { field, message, .. }) => {
                assert!(message.contains("splits values on commas"), "{message}");
                assert!(message.contains("cancel other runs"), "{message}");
                field
            }
            other => panic!("expected InvalidInput, got {other:?}"),
        };
        assert_eq!(field(validate_run(&RunRef::new("a,victim"))), "run_id");
        let ids = Selector::ids(["ok", "a,victim"]);
        assert_eq!(field(refuse_commas(&ids)), "ids");
        assert!(
            bulk_plan(&runs_url(), &ids, &BulkOptions::new(), 4096, false)
                .is_err_and(|e| e.to_string().contains("run id #1"))
        );
        for (f, want) in [
            (RunFilter::new().label("x").label("nightly,prod"), "filter.labels"),
            (RunFilter::new().caller_ip("1.2.3.4,5.6.7.8"), "filter.caller_ips"),
            (RunFilter::new().flow_control_key(","), "filter.flow_control_keys"),
            (RunFilter::new().host("a.example,b.example"), "filter.hosts"),
            (RunFilter::new().host("e.x").path("/a,b"), "filter.paths"),
        ] {
            assert_eq!(field(refuse_commas(&Selector::filter(f))), want);
        }
        // Not split by the server: allowed.
        validate_run(&RunRef::new("a;b").session("s,t")).unwrap();
        for f in [
            RunFilter::new().url_exact("https://e.x/w?a=1,2"),
            RunFilter::new().url_prefix("https://e.x/a,b"),
        ] {
            let s = Selector::filter(f);
            refuse_commas(&s).unwrap();
            bulk_plan(&runs_url(), &s, &BulkOptions::new(), 4096, false).unwrap();
        }
    }

    #[test]
    fn an_id_too_long_for_any_url_is_refused() {
        let runs = vec![RunRef::new("ok"), RunRef::new("x".repeat(200))];
        let err = chunk_ranges(&runs_url(), &runs, 120).unwrap_err();
        assert!(matches!(err, CancelError::InvalidInput { field: "ids", .. }), "{err}");
        assert!(err.to_string().contains("run id #1"), "{err}");
    }
}
