//! Exact requests and every answer mapping, against a mockito server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mockito::{Matcher, Server, ServerGuard};
use wfcancel_core::http::{HttpConfig, USER_AGENT_VALUE};
use wfcancel_core::{
    BulkOptions, CancelError, CancelOutcome, NotFoundKind, RateLimitKind, RetryPolicy, RunFilter, RunRef, RunState,
    Selector, WaitOptions, WorkflowCanceller, from_epoch_millis,
};
use wfcancel_upstash::{BulkActionState, UpstashCanceller};

const TOKEN: &str = "tok-123-SECRET";
const RUNS: &str = "/v2/workflows/runs";

fn canceller(server: &ServerGuard) -> UpstashCanceller {
    UpstashCanceller::builder()
        .token(TOKEN)
        .base_url(server.url())
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

/// A DELETE on the bulk endpoint with the exact raw query, the token, our User-Agent and no body.
fn bulk_mock(server: &mut ServerGuard, raw_query: &str) -> mockito::Mock {
    server
        .mock("DELETE", RUNS)
        .match_query(Matcher::Exact(raw_query.to_owned()))
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("user-agent", USER_AGENT_VALUE)
        .match_header("content-type", Matcher::Missing)
        .match_body("")
}

/// A DELETE on one run's path (`/v2/workflows/runs/{id}`), with the token, our User-Agent and no
/// body: what a single cancel sends.
fn path_mock(server: &mut ServerGuard, encoded_id: &str) -> mockito::Mock {
    server
        .mock("DELETE", format!("{RUNS}/{encoded_id}").as_str())
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("user-agent", USER_AGENT_VALUE)
        .match_header("content-type", Matcher::Missing)
        .match_body("")
}

/// The logs answer a drain's state read gets: these runs `RUN_STARTED` (labels as given).
fn active_logs(server: &mut ServerGuard, labels: &[&str]) -> mockito::Mock {
    let runs: Vec<String> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            format!(r#"{{"workflowRunId":"wfr_a{i}","workflowUrl":"https://x/wf","workflowState":"RUN_STARTED","workflowRunCreatedAt":1,"label":"{l}"}}"#)
        })
        .collect();
    server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::UrlEncoded("state".into(), "RUN_STARTED".into()))
        .with_body(format!(r#"{{"cursor":"","runs":[{}]}}"#, runs.join(",")))
}

/// A request matcher: the path is the bulk endpoint and the decoded query pairs are exactly
/// `want`, as a multiset.
fn query_is(want: &[(&str, &str)]) -> impl Fn(&mockito::Request) -> bool + Send + Sync + 'static {
    let mut want: Vec<(String, String)> = want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    want.sort();
    move |req| {
        let pq = req.path_and_query();
        let (path, query) = pq.split_once('?').unwrap_or((pq, ""));
        let mut got = decoded(query);
        got.sort();
        path == RUNS && got == want
    }
}

fn decoded(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn cancel_uses_the_run_path() {
    let mut server = Server::new_async().await;
    let m = path_mock(&mut server, "wfr_1")
        .with_status(200)
        .with_header("content-type", "text/plain")
        .with_body("OK")
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    assert_eq!(c.cancel(&RunRef::new("wfr_1")).await.unwrap(), CancelOutcome::Cancelled);
    m.assert_async().await;
}

/// The run path answers about that run alone: its 404 ("no such active run") is `NotActive`,
/// on the server's word, in one request.
#[tokio::test]
async fn cancel_of_an_inactive_run_is_not_active_on_the_servers_404() {
    let mut server = Server::new_async().await;
    let m = path_mock(&mut server, "wfr_done")
        .with_status(404)
        .with_body(r#"{"error":"workflowRun not found"}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    assert_eq!(
        c.cancel(&RunRef::new("wfr_done")).await.unwrap(),
        CancelOutcome::NotActive(wfcancel_core::Inactive::Unspecified)
    );
    m.assert_async().await;
}

#[tokio::test]
async fn cancel_ignores_owner_and_session() {
    let mut server = Server::new_async().await;
    let m = path_mock(&mut server, "wfr_1")
        .with_body("OK")
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    let run = RunRef::new("wfr_1").workflow("wf").session("s");
    assert_eq!(c.cancel(&run).await.unwrap(), CancelOutcome::Cancelled);
    m.assert_async().await;
}

const HOSTILE: &[&str] = &[
    "a/b",
    "a?b=c",
    "a#frag",
    "100%",
    "a&workflowRunIds=evil",
    "x=y",
    "a+b",
    "with space",
    "ünï©ødé",
    "..",
    ".",
    "/",
    "../v2/workflows/runs",
    "%2F",
    "a;b",
    "tab\u{00a0}nbsp",
];

/// A single cancel puts the id in one path segment (`.` and `..`, which cannot be one, go to the
/// bulk endpoint as one query value); a bulk puts each id in one query value.
#[tokio::test]
async fn hostile_ids_stay_one_path_segment_or_query_value() {
    let mut server = Server::new_async().await;
    let seen: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let seen2 = seen.clone();
    let m = server
        .mock("DELETE", Matcher::Regex(format!("^{RUNS}")))
        .with_body_from_request(move |req| {
            let pq = req.path_and_query();
            let (path, query) = pq.split_once('?').unwrap_or((pq, ""));
            seen2.lock().unwrap().push((path.to_owned(), query.to_owned()));
            if path == RUNS {
                // Every id sent was running.
                format!(r#"{{"cancelled":{}}}"#, decoded(query).len()).into_bytes()
            } else {
                b"OK".to_vec()
            }
        })
        .expect(HOSTILE.len() + 1)
        .create_async()
        .await;
    let c = canceller(&server);
    for id in HOSTILE {
        assert_eq!(
            c.cancel(&RunRef::new(*id)).await.unwrap(),
            CancelOutcome::Cancelled,
            "{id:?}"
        );
    }
    let report = c
        .cancel_many(&Selector::ids(HOSTILE.iter().copied()), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!(report.requests_sent, 1);
    m.assert_async().await;

    let seen = seen.lock().unwrap();
    for ((path, query), id) in seen.iter().zip(HOSTILE) {
        if *id == "." || *id == ".." {
            assert_eq!(path, RUNS, "{id:?}");
            assert_eq!(
                decoded(query),
                vec![("workflowRunIds".to_owned(), id.to_string())],
                "{id:?}"
            );
        } else {
            let segment = path
                .strip_prefix(&format!("{RUNS}/"))
                .unwrap_or_else(|| panic!("{id:?}: {path}"));
            assert!(!segment.contains('/'), "{id:?}: one segment: {segment}");
            assert_eq!(
                percent_encoding::percent_decode_str(segment).decode_utf8().unwrap(),
                *id,
                "{id:?}"
            );
            assert_eq!(query, "", "{id:?}");
        }
    }
    let (path, query) = seen.last().unwrap();
    assert_eq!(path, RUNS);
    let want: Vec<(String, String)> = HOSTILE
        .iter()
        .map(|id| ("workflowRunIds".to_owned(), id.to_string()))
        .collect();
    assert_eq!(decoded(query), want);
}

#[tokio::test]
async fn hostile_filter_values_stay_one_query_value() {
    let mut server = Server::new_async().await;
    let filter = RunFilter::new()
        .url_exact("https://e.x/w?count=1&workflowRunIds=x#f")
        .label("a&count=999")
        .label("b=c d")
        .caller_ip("::1")
        .flow_control_key("k/../%2F")
        .host("h.example&count=1")
        .path("/a b/ü?x=1#f");
    let m = server
        .mock("DELETE", RUNS)
        .match_query(Matcher::Any)
        // mockito's UrlEncoded matcher collapses repeated keys, so compare the decoded pairs as a
        // multiset: keys, values and multiplicity, not order.
        .match_request(query_is(&[
            ("workflowUrl", "https://e.x/w?count=1&workflowRunIds=x#f"),
            ("workflowUrlExactMatch", "true"),
            ("label", "a&count=999"),
            ("label", "b=c d"),
            ("callerIp", "::1"),
            ("flowControlKey", "k/../%2F"),
            ("host", "h.example&count=1"),
            ("path", "/a b/ü?x=1#f"),
            ("count", "100"),
        ]))
        .with_body(r#"{"cancelled":2}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    let plan = c.plan(&Selector::filter(filter.clone()), &BulkOptions::new()).unwrap();
    // Multiplicity and nothing else: the decoded pairs are exactly these.
    assert_eq!(
        plan[0].query_pairs(),
        vec![
            ("label".into(), "a&count=999".into()),
            ("label".into(), "b=c d".into()),
            ("callerIp".into(), "::1".into()),
            ("flowControlKey".into(), "k/../%2F".into()),
            ("host".into(), "h.example&count=1".into()),
            ("path".into(), "/a b/ü?x=1#f".into()),
            ("workflowUrl".into(), "https://e.x/w?count=1&workflowRunIds=x#f".into()),
            ("workflowUrlExactMatch".into(), "true".into()),
            ("count".into(), "100".into()),
        ]
    );
    assert_eq!(plan[0].path(), RUNS);
    let report = c
        .cancel_many(&Selector::filter(filter), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!(report.cancelled, 2);
    m.assert_async().await;
}

/// Raw queries exactly as the official SDK sent them (tools/upstash-sdk/OBSERVED.md).
#[test]
fn plans_match_the_sdk_byte_for_byte() {
    let c = UpstashCanceller::builder()
        .token("t")
        .base_url("http://127.0.0.1:1")
        .build()
        .unwrap();
    let o = BulkOptions::new();
    let q = |s: Selector, o: &BulkOptions| {
        let plan = c.plan(&s, o).unwrap();
        assert_eq!(plan.len(), 1);
        assert_eq!(plan[0].method.as_str(), "DELETE");
        assert_eq!(plan[0].path(), RUNS);
        plan[0].query().unwrap().to_owned()
    };
    let cases: Vec<(Selector, BulkOptions, &str)> = vec![
        (
            Selector::ids(["wfr_a", "wfr_b", "wfr_c"]),
            o.clone(),
            "workflowRunIds=wfr_a&workflowRunIds=wfr_b&workflowRunIds=wfr_c",
        ),
        (
            Selector::ids(["wfr/slash", "wfr?q", "wfr#h", "wfr%20", "wfr ü"]),
            o.clone(),
            "workflowRunIds=wfr%2Fslash&workflowRunIds=wfr%3Fq&workflowRunIds=wfr%23h&workflowRunIds=wfr%2520&workflowRunIds=wfr+%C3%BC",
        ),
        (
            Selector::filter(RunFilter::new().url_exact("https://example.com/api/wf?x=1&y=2")),
            o.clone(),
            "workflowUrl=https%3A%2F%2Fexample.com%2Fapi%2Fwf%3Fx%3D1%26y%3D2&workflowUrlExactMatch=true&count=100",
        ),
        (
            Selector::filter(RunFilter::new().url_prefix("https://example.com/api")),
            o.clone(),
            "workflowUrl=https%3A%2F%2Fexample.com%2Fapi&count=100",
        ),
        (
            Selector::filter(RunFilter::new().label("x")),
            o.clone(),
            "label=x&count=100",
        ),
        (
            // (The SDK would also send `a,b` as `a%2Cb`, which the server splits into two labels;
            // we refuse commas: see `commas_are_refused_before_sending`.)
            Selector::filter(RunFilter::new().label("x").label("y z").label("a;b")),
            o.clone(),
            "label=x&label=y+z&label=a%3Bb&count=100",
        ),
        (
            Selector::filter(RunFilter::new().from(from_epoch_millis(1_700_000_000_000))),
            o.clone(),
            "fromDate=1700000000000&count=100",
        ),
        (
            Selector::filter(RunFilter::new().to(from_epoch_millis(1_700_000_000_123))),
            o.clone(),
            "toDate=1700000000123&count=100",
        ),
        (
            Selector::filter(RunFilter::new().caller_ip("1.2.3.4")),
            o.clone(),
            "callerIp=1.2.3.4&count=100",
        ),
        (
            Selector::filter(RunFilter::new().caller_ip("1.2.3.4").caller_ip("::1")),
            o.clone(),
            "callerIp=1.2.3.4&callerIp=%3A%3A1&count=100",
        ),
        (
            Selector::filter(RunFilter::new().flow_control_key("fk-1")),
            o.clone(),
            "flowControlKey=fk-1&count=100",
        ),
        (
            Selector::filter(RunFilter::new().flow_control_key("fk-1").flow_control_key("fk/2")),
            o.clone(),
            "flowControlKey=fk-1&flowControlKey=fk%2F2&count=100",
        ),
        (
            Selector::filter(RunFilter::new().host("example.com")),
            o.clone(),
            "host=example.com&count=100",
        ),
        (
            Selector::filter(RunFilter::new().path("/api/wf").path("/b")),
            o.clone(),
            "path=%2Fapi%2Fwf&path=%2Fb&count=100",
        ),
        (
            Selector::filter(RunFilter::new().label("x")),
            BulkOptions::new().page_size(7),
            "label=x&count=7",
        ),
        (
            Selector::filter(
                RunFilter::new()
                    .url_exact("https://e.x/w")
                    .label("x")
                    .from(from_epoch_millis(1))
                    .to(from_epoch_millis(2))
                    .caller_ip("1.1.1.1")
                    .flow_control_key("k"),
            ),
            BulkOptions::new().page_size(5),
            "label=x&fromDate=1&toDate=2&callerIp=1.1.1.1&flowControlKey=k&workflowUrl=https%3A%2F%2Fe.x%2Fw&workflowUrlExactMatch=true&count=5",
        ),
        (
            // The SDK's order for `{workflowUrlStartingWith, label, …, flowControlKey, host, path}`
            // (the filter's keys as given, then the URL keys): what `filter_url` writes.
            Selector::filter(
                RunFilter::new()
                    .url_prefix("https://e.x/w")
                    .label("x")
                    .from(from_epoch_millis(1))
                    .to(from_epoch_millis(2))
                    .caller_ip("1.1.1.1")
                    .flow_control_key("k")
                    .host("e.x")
                    .host("F.x")
                    .path("/w/a"),
            ),
            BulkOptions::new().page_size(5),
            "label=x&fromDate=1&toDate=2&callerIp=1.1.1.1&flowControlKey=k&host=e.x&host=F.x&path=%2Fw%2Fa&workflowUrl=https%3A%2F%2Fe.x%2Fw&count=5",
        ),
        (Selector::cancel_all_runs(), o.clone(), "count=100"),
        (Selector::cancel_all_runs(), BulkOptions::new().page_size(7), "count=7"),
    ];
    for (selector, opts, want) in cases {
        assert_eq!(q(selector.clone(), &opts), want, "{selector:?}");
    }
    let single = c.plan_cancel(&RunRef::new("wfr_1")).unwrap();
    assert_eq!((single.path(), single.query()), ("/v2/workflows/runs/wfr_1", None));
    let dots = c.plan_cancel(&RunRef::new("..")).unwrap();
    assert_eq!((dots.path(), dots.query()), (RUNS, Some("workflowRunIds=..")));
}

#[tokio::test]
async fn filter_fields_are_sent_as_planned() {
    let mut server = Server::new_async().await;
    let raw = "label=x&label=y&fromDate=1700000000000&toDate=1700000000999&callerIp=1.2.3.4&flowControlKey=fk\
               &host=a.example&path=%2Fw&path=%2Fw%2Fb&workflowUrl=https%3A%2F%2Fa.example%2Fw&count=50";
    let m = bulk_mock(&mut server, raw)
        .with_body(r#"{"cancelled":4}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    let f = RunFilter::new()
        .url_prefix("https://a.example/w")
        .label("x")
        .label("y")
        .from(from_epoch_millis(1_700_000_000_000))
        .to(from_epoch_millis(1_700_000_000_999))
        .caller_ip("1.2.3.4")
        .flow_control_key("fk")
        .host("a.example")
        .path("/w")
        .path("/w/b");
    let opts = BulkOptions::new().page_size(50);
    assert_eq!(
        c.plan(&Selector::filter(f.clone()), &opts).unwrap()[0].query(),
        Some(raw)
    );
    let report = c.cancel_many(&Selector::filter(f), &opts).await.unwrap();
    assert_eq!(
        (report.cancelled, report.rounds, report.requests_sent, report.drained),
        (4, 1, 1, false)
    );
    assert!(report.outcomes.is_empty() && report.is_success());
    m.assert_async().await;
}

/// Without `drain`, a call answering 0 does not say `drained`: the server may have stopped at a
/// run it cannot cancel at the head of the round, and one call cannot tell.
#[tokio::test]
async fn one_filtered_call_that_cancels_nothing_does_not_claim_drained() {
    let mut server = Server::new_async().await;
    let m = bulk_mock(&mut server, "label=x&count=100")
        .with_body(r#"{"cancelled":0}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    let report = c
        .cancel_many(&Selector::filter(RunFilter::new().label("x")), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!(
        (report.cancelled, report.rounds, report.requests_sent, report.drained),
        (0, 1, 1, false)
    );
    m.assert_async().await;
}

/// Answers the counts in `counts` one call after the other (then 0).
fn counting_mock(server: &mut ServerGuard, raw_query: &str, counts: Vec<u64>) -> (mockito::Mock, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let calls2 = calls.clone();
    let m = bulk_mock(server, raw_query).with_body_from_request(move |_| {
        let n = calls2.fetch_add(1, Ordering::SeqCst);
        format!(r#"{{"cancelled":{}}}"#, counts.get(n).copied().unwrap_or(0)).into_bytes()
    });
    (m, calls)
}

/// A drain ends on a round that cancels nothing only when a state read (the logs) finds no
/// active run left: one zero may be a stop at the head of a round (see the crate docs,
/// "Draining"), so it costs one read.
#[tokio::test]
async fn drain_repeats_until_a_zero_round_is_confirmed_by_the_logs() {
    let mut server = Server::new_async().await;
    let (m, calls) = counting_mock(&mut server, "count=3", vec![3, 3, 1, 0, 0]);
    let m = m.expect(4).create_async().await;
    let logs = active_logs(&mut server, &[]).expect(1).create_async().await;
    let c = canceller(&server);
    let seen: Arc<Mutex<Vec<(u32, u64, u64)>>> = Arc::default();
    let seen2 = seen.clone();
    let opts = BulkOptions::new().page_size(3).drain(true).on_progress(move |p| {
        // `done` counts runs, never rounds (issue: the round number was reported there).
        assert_eq!(p.done, p.cancelled);
        seen2
            .lock()
            .unwrap()
            .push((p.rounds, p.last_round_cancelled, p.cancelled))
    });
    let report = c.cancel_many(&Selector::cancel_all_runs(), &opts).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!((report.cancelled, report.rounds, report.requests_sent), (7, 4, 5));
    assert!(report.drained && report.is_success() && report.not_confirmed.is_none());
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(1, 3, 3), (2, 3, 6), (3, 1, 7), (4, 0, 7)],
        "progress after every round"
    );
    m.assert_async().await;
    logs.assert_async().await;
}

/// A round that answers 0 (the server stopped at a run it cannot cancel, first in the round)
/// while the logs still show a matching run: the drain goes on, and ends only when a zero round
/// is confirmed by a read that finds nothing left.
#[tokio::test]
async fn a_zero_round_followed_by_a_count_does_not_end_the_drain() {
    let mut server = Server::new_async().await;
    let (m, calls) = counting_mock(&mut server, "label=x&count=100", vec![0, 100, 40, 0, 7, 0, 0, 99]);
    let m = m.expect(6).create_async().await;
    // The first two reads show a matching run still running (and one of another label); the
    // third shows only the other label.
    let reads = Arc::new(AtomicUsize::new(0));
    let reads2 = reads.clone();
    let logs = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::UrlEncoded("state".into(), "RUN_STARTED".into()))
        .with_body_from_request(move |_| {
            let n = reads2.fetch_add(1, Ordering::SeqCst);
            let x = r#"{"workflowRunId":"wfr_x","workflowUrl":"https://x/wf","workflowState":"RUN_STARTED","workflowRunCreatedAt":1,"label":"x"}"#;
            let y = r#"{"workflowRunId":"wfr_y","workflowUrl":"https://x/wf","workflowState":"RUN_STARTED","workflowRunCreatedAt":1,"label":"y"}"#;
            let runs = if n < 2 { format!("{y},{x}") } else { y.to_owned() };
            format!(r#"{{"cursor":"","runs":[{runs}]}}"#).into_bytes()
        })
        .expect(3)
        .create_async()
        .await;
    let c = canceller(&server);
    let report = c
        .cancel_many(
            &Selector::filter(RunFilter::new().label("x")),
            &BulkOptions::new().drain(true),
        )
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    assert_eq!((report.cancelled, report.rounds, report.requests_sent), (147, 6, 9));
    assert!(report.drained && report.is_success());
    m.assert_async().await;
    logs.assert_async().await;
}

/// A drain whose round limit falls on a zero round that the logs do not confirm (a run is
/// still active) stops there and does not claim `drained`.
#[tokio::test]
async fn a_round_limit_on_an_unconfirmed_zero_is_not_drained() {
    let mut server = Server::new_async().await;
    let (m, _) = counting_mock(&mut server, "count=100", vec![5, 0, 0]);
    let m = m.expect(2).create_async().await;
    let _logs = active_logs(&mut server, &["any"]).expect(1).create_async().await;
    let c = canceller(&server);
    let report = c
        .cancel_many(
            &Selector::cancel_all_runs(),
            &BulkOptions::new().drain(true).max_rounds(2),
        )
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.rounds, report.requests_sent), (5, 2, 3));
    assert!(!report.drained && report.is_success());
    assert!(report.not_confirmed.is_some());
    m.assert_async().await;
}

#[tokio::test]
async fn drain_stops_at_max_rounds_and_says_it_did_not_drain() {
    let mut server = Server::new_async().await;
    let (m, _) = counting_mock(&mut server, "label=x&count=100", vec![5; 100]);
    let m = m.expect(3).create_async().await;
    let c = canceller(&server);
    let report = c
        .cancel_many(
            &Selector::filter(RunFilter::new().label("x")),
            &BulkOptions::new().drain(true).max_rounds(3),
        )
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.rounds, report.requests_sent), (15, 3, 3));
    assert!(!report.drained);
    assert!(report.failed.is_empty() && report.aborted.is_none());
    assert_eq!(
        c.plan(
            &Selector::filter(RunFilter::new().label("x")),
            &BulkOptions::new().drain(true).max_rounds(3)
        )
        .unwrap()[0]
            .max_sends,
        3
    );
    m.assert_async().await;
}

#[tokio::test]
async fn a_failed_round_stops_the_drain_and_is_named() {
    let mut server = Server::new_async().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (c1, c2) = (calls.clone(), calls.clone());
    let m = bulk_mock(&mut server, "count=100")
        .with_status_code_from_request(move |_| {
            if c1.fetch_add(1, Ordering::SeqCst) == 1 {
                503
            } else {
                200
            }
        })
        .with_body_from_request(move |_| {
            if c2.load(Ordering::SeqCst) == 2 {
                b"<html><title>503 Service Unavailable</title></html>".to_vec()
            } else {
                br#"{"cancelled":100}"#.to_vec()
            }
        })
        .expect(2)
        .create_async()
        .await;
    let c = canceller(&server);
    let report = c
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new().drain(true))
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.rounds, report.requests_sent), (100, 2, 2));
    assert!(!report.drained && !report.is_success());
    assert_eq!(report.failed.len(), 1);
    let f = &report.failed[0];
    assert_eq!((f.round, f.chunk, f.runs.len()), (Some(2), None, 0));
    assert!(
        matches!(&f.error, CancelError::Provider { status: Some(503), message, .. } if message == "503 Service Unavailable"),
        "{}",
        f.error
    );
    assert!(report.aborted.is_none(), "a 503 does not fail every call");
    m.assert_async().await;
}

#[tokio::test]
async fn an_unauthenticated_round_aborts() {
    let mut server = Server::new_async().await;
    let m = bulk_mock(&mut server, "count=100")
        .with_status(401)
        .with_body(r#"{"error":"invalid token"}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    let report = c
        .cancel_many(&Selector::cancel_all_runs(), &BulkOptions::new().drain(true))
        .await
        .unwrap();
    assert!(matches!(report.aborted, Some(CancelError::Unauthenticated { .. })));
    assert_eq!(report.failed[0].round, Some(1));
    m.assert_async().await;
}

#[tokio::test]
async fn an_action_id_answer_is_reported_and_ends_the_call() {
    let mut server = Server::new_async().await;
    let m = bulk_mock(&mut server, "label=x&count=100")
        .with_body(r#"{"actionId":"act_1"}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server);
    let report = c
        .cancel_many(
            &Selector::filter(RunFilter::new().label("x")),
            &BulkOptions::new().drain(true),
        )
        .await
        .unwrap();
    assert_eq!(report.action_id.as_deref(), Some("act_1"));
    assert_eq!((report.rounds, report.cancelled, report.drained), (1, 0, false));
    m.assert_async().await;
}

#[tokio::test]
async fn background_bulk_actions_send_async_true() {
    let mut server = Server::new_async().await;
    let m = bulk_mock(&mut server, "label=x&async=true")
        .with_body(r#"{"actionId":"act_2"}"#)
        .expect(2)
        .create_async()
        .await;
    let c = canceller(&server);
    let sel = Selector::filter(RunFilter::new().label("x"));
    let opts = BulkOptions::new().drain(true);
    let plan = c.plan_async(&sel, &opts).unwrap();
    assert_eq!(plan.len(), 1);
    assert_eq!(plan[0].query(), Some("label=x&async=true"));
    assert_eq!(
        c.cancel_many_async(&sel, &opts).await.unwrap().action_id.as_deref(),
        Some("act_2")
    );
    let bg = UpstashCanceller::builder()
        .token(TOKEN)
        .base_url(server.url())
        .background_bulk_actions(true)
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    assert_eq!(
        bg.cancel_many(&sel, &opts).await.unwrap().action_id.as_deref(),
        Some("act_2")
    );
    m.assert_async().await;
    for s in [Selector::ids(["a"]), Selector::cancel_all_runs()] {
        let err = c.cancel_many_async(&s, &opts).await.unwrap_err();
        assert!(
            matches!(err, CancelError::InvalidInput { field: "selector", .. }),
            "{err}"
        );
    }
    // With the builder flag, ids and cancel-all still run the ordinary way.
    assert_eq!(
        bg.plan(&Selector::cancel_all_runs(), &opts).unwrap()[0].query(),
        Some("count=100")
    );
}

#[tokio::test]
async fn a_server_that_ignores_async_is_drained_as_usual() {
    let mut server = Server::new_async().await;
    let (m, _) = counting_mock(&mut server, "label=x&async=true", vec![2, 1, 0, 0]);
    let m = m.expect(3).create_async().await;
    let _logs = active_logs(&mut server, &[]).expect(1).create_async().await;
    let c = canceller(&server);
    let report = c
        .cancel_many_async(
            &Selector::filter(RunFilter::new().label("x")),
            &BulkOptions::new().drain(true),
        )
        .await
        .unwrap();
    assert_eq!(
        (report.cancelled, report.rounds, report.drained, report.action_id),
        (3, 3, true, None)
    );
    m.assert_async().await;
}

#[tokio::test]
async fn bulk_action_is_read_and_awaited() {
    let mut server = Server::new_async().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let c2 = calls.clone();
    let m = server
        .mock("GET", "/v2/workflows/bulkActions/act%2F1")
        .match_query(Matcher::Missing)
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_body("")
        .with_body_from_request(move |_| {
            let n = c2.fetch_add(1, Ordering::SeqCst);
            let state = if n < 2 { "IN_PROGRESS" } else { "FINISHED" };
            format!(r#"{{"actionId":"act/1","kind":"cancel","state":"{state}","total":10,"processed":"{}","createdAt":1700000000000,"extra":[1]}}"#, n * 5)
                .into_bytes()
        })
        .expect(3)
        .create_async()
        .await;
    let c = canceller(&server);
    let a = c.bulk_action("act/1").await.unwrap();
    assert_eq!(a.state, BulkActionState::InProgress);
    assert_eq!(
        (a.kind.as_deref(), a.total, a.processed, a.created_at_ms),
        (Some("cancel"), Some(10), Some(0), Some(1_700_000_000_000))
    );
    assert_eq!(a.raw["extra"][0], 1);
    let opts = WaitOptions::with_timeout(Duration::from_secs(5)).initial_interval(Duration::from_millis(5));
    let done = c.wait_for_bulk_action("act/1", opts).await.unwrap();
    assert!(done.is_finished());
    assert_eq!(done.processed, Some(10));
    m.assert_async().await;
}

#[tokio::test]
async fn waiting_for_a_bulk_action_times_out() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", "/v2/workflows/bulkActions/act_3")
        .with_body(r#"{"actionId":"act_3","state":"IN_PROGRESS","total":10,"processed":4}"#)
        .create_async()
        .await;
    let c = canceller(&server);
    let opts = WaitOptions::with_timeout(Duration::from_millis(60)).initial_interval(Duration::from_millis(10));
    let err = c.wait_for_bulk_action("act_3", opts).await.unwrap_err();
    assert!(matches!(err, CancelError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("4 of 10"), "{err}");
}

#[tokio::test]
async fn unknown_bulk_action_is_not_found() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", "/v2/workflows/bulkActions/nope")
        .with_status(404)
        .with_body(r#"{"error":"bulk action not found"}"#)
        .create_async()
        .await;
    let c = canceller(&server);
    let err = c.bulk_action("nope").await.unwrap_err();
    assert!(
        matches!(&err, CancelError::NotFound { what: NotFoundKind::Action, id: Some(id), message, .. } if id == "nope" && message == "bulk action not found"),
        "{err}"
    );
    assert!(matches!(
        c.bulk_action("..").await,
        Err(CancelError::InvalidInput { .. })
    ));
    assert!(matches!(c.bulk_action("").await, Err(CancelError::InvalidInput { .. })));
}

#[tokio::test]
async fn status_maps_every_state() {
    let mut server = Server::new_async().await;
    let cases = [
        ("RUN_STARTED", RunState::Running),
        ("RUN_SUCCESS", RunState::Completed),
        ("RUN_FAILED", RunState::Failed),
        ("RUN_CANCELED", RunState::Cancelled),
        ("RUN_SOMETHING_NEW", RunState::unknown("RUN_SOMETHING_NEW", false)),
    ];
    let c = canceller(&server);
    for (i, (wire, want)) in cases.into_iter().enumerate() {
        let id = format!("wfr {i}/x");
        let m = server
            .mock("GET", "/v2/workflows/logs")
            .match_query(Matcher::Exact(format!("workflowRunId=wfr+{i}%2Fx")))
            .match_header("authorization", format!("Bearer {TOKEN}").as_str())
            .match_header("user-agent", USER_AGENT_VALUE)
            .match_body("")
            .with_body(format!(
                r#"{{"cursor":"","runs":[{{"workflowRunId":"other","workflowState":"RUN_SUCCESS"}},{{"workflowRunId":"{}","workflowState":"{wire}","workflowRunCreatedAt":1}}]}}"#,
                id
            ))
            .expect(1)
            .create_async()
            .await;
        assert_eq!(c.status(&RunRef::new(id.as_str())).await.unwrap(), want);
        m.assert_async().await;
    }
}

#[tokio::test]
async fn status_of_an_unknown_run_is_not_found() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::Exact("workflowRunId=wfr_none".into()))
        .with_body(r#"{"cursor":"","runs":[]}"#)
        .create_async()
        .await;
    let _m404 = server
        .mock("GET", "/v2/workflows/logs")
        .match_query(Matcher::Exact("workflowRunId=wfr_404".into()))
        .with_status(404)
        .with_body("not found")
        .create_async()
        .await;
    let c = canceller(&server);
    let err = c.status(&RunRef::new("wfr_none")).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::NotFound { what: NotFoundKind::Run, id: Some(got), .. } if got == "wfr_none"),
        "{err}"
    );
    // The logs answer an unknown run with an empty list: a 404 means a wrong base URL.
    let err = c.status(&RunRef::new("wfr_404")).await.unwrap_err();
    assert!(
        matches!(&err, CancelError::NotFound { what: NotFoundKind::Other, id: None, message, .. }
            if message.contains("QSTASH_URL")),
        "{err}"
    );
}

/// One answer to a single cancel (the run's path), and the error it must become.
async fn cancel_error(status: usize, headers: &[(&str, &str)], body: &str) -> CancelError {
    let mut server = Server::new_async().await;
    let mut m = path_mock(&mut server, "wfr_e").with_status(status).with_body(body);
    for (k, v) in headers {
        m = m.with_header(*k, v);
    }
    let m = m.expect(1).create_async().await;
    let err = canceller(&server).cancel(&RunRef::new("wfr_e")).await.unwrap_err();
    m.assert_async().await;
    assert!(!err.to_string().contains(TOKEN) && !format!("{err:?}").contains(TOKEN));
    assert_eq!(err.backend(), "upstash");
    err
}

#[tokio::test]
async fn every_error_status_is_mapped() {
    let e = cancel_error(400, &[], r#"{"error":"workflow run already cancelled"}"#).await;
    assert!(
        matches!(&e, CancelError::InvalidRequest { status: 400, message, .. } if message == "workflow run already cancelled"),
        "{e}"
    );
    let e = cancel_error(422, &[], r#"{"error":"bad filter"}"#).await;
    assert!(
        matches!(&e, CancelError::InvalidRequest { status: 422, message, .. } if message == "bad filter"),
        "{e}"
    );
    let e = cancel_error(401, &[], r#"{"error":"unauthorized"}"#).await;
    assert!(
        matches!(&e, CancelError::Unauthenticated { message, .. } if message == "unauthorized"),
        "{e}"
    );
    let e = cancel_error(403, &[], "forbidden").await;
    assert!(
        matches!(&e, CancelError::PermissionDenied { message, .. } if message == "forbidden"),
        "{e}"
    );
    // Upstash's 404 (JSON `error`) is `NotActive`; any other 404 (a page of another server)
    // means the request did not reach the API.
    let e = cancel_error(404, &[], "<html><title>not found</title></html>").await;
    assert!(
        matches!(&e, CancelError::NotFound { what: NotFoundKind::Other, id: None, message, .. }
            if message.starts_with("not found (") && message.contains("QSTASH_URL")),
        "{e}"
    );
    let e = cancel_error(412, &[], r#"{"error":"max requests per day exceeded"}"#).await;
    assert!(
        matches!(&e, CancelError::QuotaExceeded { message, .. } if message == "max requests per day exceeded"),
        "{e}"
    );
    assert!(!e.is_retryable() && e.fails_every_call());
    let e = cancel_error(
        500,
        &[],
        "<!DOCTYPE html><html><head><title>Internal Error</title></head><body>x</body></html>",
    )
    .await;
    assert!(
        matches!(&e, CancelError::Provider { status: Some(500), message, .. } if message == "Internal Error"),
        "{e}"
    );
    let e = cancel_error(502, &[], "").await;
    assert!(
        matches!(&e, CancelError::Provider { status: Some(502), message, .. } if message == "(empty body)"),
        "{e}"
    );
    let e = cancel_error(503, &[], "upstream connect error\n  or disconnect").await;
    assert!(
        matches!(&e, CancelError::Provider { status: Some(503), message, .. } if message == "upstream connect error or disconnect"),
        "{e}"
    );
    let e = cancel_error(418, &[], "teapot").await;
    assert!(matches!(&e, CancelError::Provider { status: Some(418), .. }), "{e}");
    let e = cancel_error(414, &[], "").await;
    assert!(
        matches!(&e, CancelError::Provider { status: Some(414), message, .. } if message.contains("max_url_bytes")),
        "{e}"
    );
}

/// The bulk endpoint's answer must be its JSON count (a single cancel of `..` goes there), and
/// the run path's must be `OK`: any other 2xx body is a decode error.
#[tokio::test]
async fn undecodable_success_bodies_are_decode_errors() {
    for body in [
        "OK",
        "",
        "{}",
        r#"{"cancelled":"many"}"#,
        "[1]",
        "<html><title>proxy</title></html>",
        r#"{"actionId":"a"}"#,
    ] {
        let mut server = Server::new_async().await;
        let m = bulk_mock(&mut server, "workflowRunIds=..")
            .with_body(body)
            .expect(1)
            .create_async()
            .await;
        let e = canceller(&server).cancel(&RunRef::new("..")).await.unwrap_err();
        m.assert_async().await;
        assert!(matches!(e, CancelError::Decode { .. }), "{body:?}: {e}");
    }
    for body in ["{}", "<html><title>proxy</title></html>", "cancelled"] {
        let e = cancel_error(200, &[], body).await;
        assert!(matches!(e, CancelError::Decode { .. }), "{body:?}: {e}");
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn rate_limits_carry_the_wait_and_the_kind() {
    let e = cancel_error(429, &[("Retry-After", "7")], r#"{"error":"slow down"}"#).await;
    assert!(
        matches!(&e, CancelError::RateLimited { retry_after: Some(d), limit: RateLimitKind::Unspecified, message, .. }
        if *d == Duration::from_secs(7) && message == "slow down"),
        "{e}"
    );

    let reset = (unix_now() + 30).to_string();
    let e = cancel_error(
        429,
        &[
            ("Burst-RateLimit-Limit", "100"),
            ("Burst-RateLimit-Remaining", "0"),
            ("Burst-RateLimit-Reset", &reset),
        ],
        "",
    )
    .await;
    match &e {
        CancelError::RateLimited {
            retry_after: Some(d),
            limit: RateLimitKind::Burst,
            ..
        } => {
            assert!(*d > Duration::from_secs(27) && *d <= Duration::from_secs(30), "{d:?}")
        }
        other => panic!("{other}"),
    }

    let reset_ms = ((unix_now() + 3600) * 1000).to_string();
    let e = cancel_error(
        429,
        &[
            ("RateLimit-Limit", "500"),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", &reset_ms),
        ],
        "",
    )
    .await;
    match &e {
        CancelError::RateLimited {
            retry_after: Some(d),
            limit: RateLimitKind::Daily,
            ..
        } => {
            assert!(
                *d > Duration::from_secs(3590) && *d <= Duration::from_secs(3600),
                "{d:?}"
            )
        }
        other => panic!("{other}"),
    }

    let e = cancel_error(429, &[], "too many").await;
    assert!(
        matches!(
            &e,
            CancelError::RateLimited {
                retry_after: None,
                limit: RateLimitKind::Unspecified,
                ..
            }
        ),
        "{e}"
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn a_429_is_retried_after_the_burst_reset() {
    let mut server = Server::new_async().await;
    let reset = (unix_now() + 3).to_string();
    let first = path_mock(&mut server, "wfr_r")
        .with_status(429)
        .with_header("Burst-RateLimit-Reset", &reset)
        .with_body(r#"{"error":"burst"}"#)
        .expect(1)
        .create_async()
        .await;
    let second = path_mock(&mut server, "wfr_r")
        .with_body("OK")
        .expect(1)
        .create_async()
        .await;
    let c = UpstashCanceller::builder()
        .token(TOKEN)
        .base_url(server.url())
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(2)
                    .initial_backoff(Duration::from_millis(1)),
            ),
        )
        .build()
        .unwrap();
    let t0 = Instant::now();
    assert_eq!(c.cancel(&RunRef::new("wfr_r")).await.unwrap(), CancelOutcome::Cancelled);
    let waited = t0.elapsed();
    // The reset is 2 to 3 s away (whole seconds): far above the 1 ms backoff the policy would
    // otherwise use.
    assert!(waited >= Duration::from_millis(1500), "{waited:?}");
    first.assert_async().await;
    second.assert_async().await;
}

#[tokio::test]
async fn a_412_is_not_retried() {
    let mut server = Server::new_async().await;
    let m = path_mock(&mut server, "wfr_q")
        .with_status(412)
        .with_body("quota")
        .expect(1)
        .create_async()
        .await;
    let c = UpstashCanceller::builder()
        .token(TOKEN)
        .base_url(server.url())
        .http_config(
            HttpConfig::default().retry(
                RetryPolicy::default()
                    .max_attempts(5)
                    .initial_backoff(Duration::from_millis(1)),
            ),
        )
        .build()
        .unwrap();
    assert!(matches!(
        c.cancel(&RunRef::new("wfr_q")).await,
        Err(CancelError::QuotaExceeded { .. })
    ));
    m.assert_async().await;
}

#[tokio::test]
async fn nothing_is_sent_for_invalid_input() {
    let mut server = Server::new_async().await;
    let m = server.mock("DELETE", Matcher::Any).expect(0).create_async().await;
    let g = server.mock("GET", Matcher::Any).expect(0).create_async().await;
    let c = UpstashCanceller::builder()
        .token(TOKEN)
        .base_url(server.url())
        .max_url_bytes(200)
        .build()
        .unwrap();
    let opts = BulkOptions::new();
    let mut empty_labels = RunFilter::new();
    empty_labels.labels = Some(vec![]);
    let invalid: Vec<(Selector, BulkOptions)> = vec![
        (Selector::Ids(vec![]), opts.clone()),
        (Selector::ids(["ok", ""]), opts.clone()),
        (Selector::ids(["ok", "   "]), opts.clone()),
        (Selector::ids(["ok", "a\nb"]), opts.clone()),
        (Selector::ids(["ok".to_owned(), "x".repeat(300)]), opts.clone()),
        (Selector::filter(RunFilter::new()), opts.clone()),
        (Selector::Filter(empty_labels), opts.clone()),
        (Selector::filter(RunFilter::new().label("x".repeat(300))), opts.clone()),
        (
            Selector::filter(RunFilter::new().from(from_epoch_millis(10)).to(from_epoch_millis(5))),
            opts.clone(),
        ),
        (Selector::ids(["ok"]), BulkOptions::new().concurrency(0)),
        (Selector::cancel_all_runs(), BulkOptions::new().page_size(0)),
        (
            Selector::cancel_all_runs(),
            BulkOptions::new().drain(true).max_rounds(0),
        ),
    ];
    for (selector, opts) in &invalid {
        let err = c.cancel_many(selector, opts).await.unwrap_err();
        assert!(matches!(err, CancelError::InvalidInput { .. }), "{selector:?}: {err}");
        assert!(c.plan(selector, opts).is_err());
    }
    for id in ["", " ", "a\u{0}b"] {
        assert!(matches!(
            c.cancel(&RunRef::new(id)).await,
            Err(CancelError::InvalidInput { .. })
        ));
        assert!(matches!(
            c.status(&RunRef::new(id)).await,
            Err(CancelError::InvalidInput { .. })
        ));
    }
    assert!(matches!(
        c.cancel(&RunRef::new("x".repeat(300))).await,
        Err(CancelError::InvalidInput { field: "run_id", .. })
    ));
    m.assert_async().await;
    g.assert_async().await;
}

/// The server splits `workflowRunIds`, `label`, `callerIp` and `flowControlKey` on commas
/// after decoding: `a,victim` would also cancel `victim`. `host` and `path` may be split alike
/// (not confirmed). Every entry point refuses a comma in those values, naming the field, and
/// sends nothing; workflow URLs are not split and pass.
#[tokio::test]
async fn commas_are_refused_before_sending() {
    let mut server = Server::new_async().await;
    let m = server.mock("DELETE", Matcher::Any).expect(0).create_async().await;
    let g = server.mock("GET", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server);
    let check = |r: Result<(), CancelError>, want: &str| match r {
        Err(CancelError::InvalidInput { field, message, .. }) => {
            assert_eq!(field, want, "{message}");
            assert!(message.contains("splits values on commas"), "{message}");
            assert!(message.contains("cancel other runs"), "{message}");
        }
        other => panic!("{want}: expected InvalidInput, got {other:?}"),
    };
    for id in ["a,victim", ",", "a,", ",a"] {
        let run = RunRef::new(id);
        check(c.cancel(&run).await.map(drop), "run_id");
        check(c.status(&run).await.map(drop), "run_id");
        check(c.plan_cancel(&run).map(drop), "run_id");
        check(c.plan_status(&run).map(drop), "run_id");
    }
    let opts = BulkOptions::new().drain(true);
    let cases = [
        (Selector::ids(["ok", "a,victim"]), "ids"),
        (
            Selector::filter(RunFilter::new().label("nightly,prod")),
            "filter.labels",
        ),
        (
            Selector::filter(RunFilter::new().label("x").caller_ip("1.2.3.4,5.6.7.8")),
            "filter.caller_ips",
        ),
        (
            Selector::filter(RunFilter::new().flow_control_key("k1,k2")),
            "filter.flow_control_keys",
        ),
        (
            Selector::filter(RunFilter::new().host("a.example,victim.example")),
            "filter.hosts",
        ),
        (
            Selector::filter(RunFilter::new().label("x").path("/ok").path("/a,/victim")),
            "filter.paths",
        ),
    ];
    for (selector, field) in &cases {
        check(c.cancel_many(selector, &opts).await.map(drop), field);
        check(c.plan(selector, &opts).map(drop), field);
        if matches!(selector, Selector::Filter(_)) {
            check(c.cancel_many_async(selector, &opts).await.map(drop), field);
            check(c.plan_async(selector, &opts).map(drop), field);
        }
    }
    m.assert_async().await;
    g.assert_async().await;

    // A comma in a workflow URL, or in an owner or session (Upstash ignores both), is sent.
    let u = bulk_mock(&mut server, "workflowUrl=https%3A%2F%2Fe.x%2Fw%3Fa%3D1%2C2&count=100")
        .with_body(r#"{"cancelled":1}"#)
        .expect(1)
        .create_async()
        .await;
    let report = c
        .cancel_many(
            &Selector::filter(RunFilter::new().url_prefix("https://e.x/w?a=1,2")),
            &BulkOptions::new(),
        )
        .await
        .unwrap();
    assert_eq!(report.cancelled, 1);
    u.assert_async().await;
    assert!(
        c.plan_cancel(&RunRef::new("wfr_1").workflow("w,f").session("s,t"))
            .is_ok()
    );
}

#[tokio::test]
async fn unreachable_server_is_a_transport_error() {
    let c = UpstashCanceller::builder()
        .token(TOKEN)
        .base_url("http://127.0.0.1:9")
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let err = c.cancel(&RunRef::new("wfr_1")).await.unwrap_err();
    assert!(
        matches!(err, CancelError::Transport { .. } | CancelError::Timeout { .. }),
        "{err}"
    );
    assert!(!err.to_string().contains(TOKEN));
}
