//! Bulk cancels by id: chunking, concurrency, exact reports, failing chunks, early stop.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mockito::{Matcher, Server, ServerGuard};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{BulkOptions, CancelError, RetryPolicy, RunRef, Selector, WorkflowCanceller};
use wfcancel_upstash::UpstashCanceller;

const RUNS: &str = "/v2/workflows/runs";

fn canceller(server: &ServerGuard, max_url_bytes: usize) -> UpstashCanceller {
    UpstashCanceller::builder()
        .token("tok")
        .base_url(server.url())
        .max_url_bytes(max_url_bytes)
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap()
}

fn ids_of(path_and_query: &str) -> Vec<String> {
    let query = path_and_query.split_once('?').map(|(_, q)| q).unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            assert_eq!(k, "workflowRunIds", "only run ids in a bulk-by-ids query");
            v.into_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_ids_are_each_sent_exactly_once() {
    const N: usize = 100_000;
    const MAX: usize = 2048;
    let mut server = Server::new_async().await;
    let origin_len = server.url().len();
    let c = canceller(&server, MAX);
    let runs: Vec<RunRef> = (0..N).map(|i| RunRef::new(format!("wfr_{i:06}"))).collect();
    let selector = Selector::Ids(runs);
    let progress_calls = Arc::new(AtomicUsize::new(0));
    let pc = progress_calls.clone();
    let opts = BulkOptions::new().concurrency(8).on_progress(move |p| {
        assert_eq!(p.total, Some(N as u64));
        pc.fetch_add(1, Ordering::Relaxed);
    });
    let plan = c.plan(&selector, &opts).unwrap();
    let requests: Arc<Mutex<Vec<String>>> = Arc::default();
    let rec = requests.clone();
    // A stateful server: every id is running until a request cancels it. (Chunks holding runs
    // that are not active cost state reads: see `a_short_count_is_settled_by_state_reads`.)
    let cancelled: Arc<Mutex<HashSet<String>>> = Arc::default();
    let m = server
        .mock("DELETE", Matcher::Regex(format!("^{RUNS}\\?")))
        .match_header("authorization", "Bearer tok")
        .match_body("")
        .with_body_from_request(move |req| {
            let pq = req.path_and_query().to_owned();
            let mut done = cancelled.lock().unwrap();
            let n = ids_of(&pq).into_iter().filter(|id| done.insert(id.clone())).count();
            rec.lock().unwrap().push(pq);
            format!(r#"{{"cancelled":{n}}}"#).into_bytes()
        })
        // Every chunk's count equals its size: one request each.
        .expect(plan.len())
        .create_async()
        .await;
    let report = c.cancel_many(&selector, &opts).await.unwrap();
    m.assert_async().await;

    let requests = requests.lock().unwrap();
    assert_eq!(report.requests_sent as usize, requests.len());
    assert_eq!(plan.len(), requests.len(), "each planned request, sent once");
    assert!(
        plan.len() > 100,
        "{} chunks: the limit must force many chunks",
        plan.len()
    );
    assert_eq!(
        progress_calls.load(Ordering::Relaxed),
        plan.len(),
        "progress after each chunk"
    );

    let mut sends: HashMap<&str, usize> = HashMap::with_capacity(plan.len());
    for pq in requests.iter() {
        assert!(
            origin_len + pq.len() <= MAX,
            "URL of {} bytes over {MAX}",
            origin_len + pq.len()
        );
        *sends.entry(pq.as_str()).or_default() += 1;
    }
    assert_eq!(sends.len(), plan.len(), "no request beyond the plan's");
    assert!(sends.values().all(|&n| n == 1), "each chunk sent exactly once");
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(N);
    for pq in sends.keys() {
        for id in ids_of(pq) {
            *seen.entry(id).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), N, "every id was sent");
    assert!(seen.values().all(|&n| n == 1), "no id is in two chunks");

    let planned: usize = plan.iter().map(|p| p.run_ids).sum();
    assert_eq!(planned, N);
    assert!(plan.iter().all(|p| p.url.as_str().len() <= MAX));

    assert_eq!(report.cancelled, N as u64);
    assert_eq!(report.not_active, 0);
    assert_eq!(report.accounted(), N as u64);
    assert!(report.is_success() && report.outcomes.is_empty());
    assert_eq!(report.rounds, 0);
}

#[tokio::test]
async fn a_failing_chunk_is_named_while_the_others_succeed() {
    let mut server = Server::new_async().await;
    let runs: Vec<RunRef> = (0..40).map(|i| RunRef::new(format!("wfr_{i:03}"))).collect();
    let selector = Selector::Ids(runs.clone());
    let c = canceller(&server, 150);
    let opts = BulkOptions::new().concurrency(3);
    let plan = c.plan(&selector, &opts).unwrap();
    assert!(plan.len() >= 5, "{} chunks", plan.len());
    // The chunk holding wfr_017 fails with a 500; the others cancel every id.
    let bad = plan
        .iter()
        .position(|p| ids_of(&p.url[url::Position::BeforePath..]).contains(&"wfr_017".to_owned()))
        .unwrap();
    let bad_ids = ids_of(&plan[bad].url[url::Position::BeforePath..]);
    let is_bad = |req: &mockito::Request| ids_of(req.path_and_query()).iter().any(|id| id == "wfr_017");
    let m = server
        .mock("DELETE", Matcher::Regex(format!("^{RUNS}\\?")))
        .with_status_code_from_request(move |req| if is_bad(req) { 500 } else { 200 })
        .with_body_from_request(move |req| {
            if is_bad(req) {
                br#"{"error":"internal"}"#.to_vec()
            } else {
                format!(r#"{{"cancelled":{}}}"#, ids_of(req.path_and_query()).len()).into_bytes()
            }
        })
        .expect(plan.len())
        .create_async()
        .await;
    let report = c.cancel_many(&selector, &opts).await.unwrap();
    m.assert_async().await;

    assert_eq!(report.requests_sent as usize, plan.len());
    assert_eq!(report.failed.len(), 1);
    let f = &report.failed[0];
    assert_eq!(f.chunk, Some(bad));
    assert_eq!(f.round, None);
    assert_eq!(
        f.runs.iter().map(|r| r.run_id().to_owned()).collect::<Vec<_>>(),
        bad_ids
    );
    assert!(
        matches!(&f.error, CancelError::Provider { status: Some(500), message, .. } if message == "internal"),
        "{}",
        f.error
    );
    assert_eq!(report.cancelled as usize, 40 - bad_ids.len());
    assert_eq!(report.not_active, 0);
    assert_eq!(report.accounted(), 40);
    assert!(report.aborted.is_none() && report.not_attempted.is_empty() && !report.is_success());
}

#[tokio::test]
async fn an_error_that_fails_every_call_stops_the_rest() {
    let mut server = Server::new_async().await;
    let runs: Vec<RunRef> = (0..30).map(|i| RunRef::new(format!("wfr_{i:03}"))).collect();
    let selector = Selector::Ids(runs.clone());
    let c = canceller(&server, 150);
    let opts = BulkOptions::new().concurrency(1);
    let plan = c.plan(&selector, &opts).unwrap();
    assert!(plan.len() >= 3);
    let m = server
        .mock("DELETE", Matcher::Regex(format!("^{RUNS}\\?")))
        .with_status(401)
        .with_body(r#"{"error":"invalid token"}"#)
        .expect(1)
        .create_async()
        .await;
    let report = c.cancel_many(&selector, &opts).await.unwrap();
    m.assert_async().await;
    assert_eq!(report.requests_sent, 1);
    assert!(matches!(report.aborted, Some(CancelError::Unauthenticated { .. })));
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].chunk, Some(0));
    let first = plan[0].run_ids;
    assert_eq!(report.failed[0].runs, runs[..first]);
    assert_eq!(report.not_attempted, runs[first..], "untried ids, in order");
    assert_eq!(report.accounted(), 30);
}

#[tokio::test]
async fn counts_above_the_chunk_size_are_capped() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("DELETE", Matcher::Regex(format!("^{RUNS}\\?")))
        .with_body(r#"{"cancelled":99}"#)
        .create_async()
        .await;
    let c = canceller(&server, 8192);
    let report = c
        .cancel_many(&Selector::ids(["a", "b", "c"]), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!((report.cancelled, report.not_active, report.accounted()), (3, 0, 3));
}

/// Repeated ids are sent once (issue: `["a","a"]` was cancelled twice and reported as
/// `cancelled 1, not_active 1`); the report says how many were dropped.
#[tokio::test]
async fn duplicate_ids_are_sent_once_and_counted() {
    let mut server = Server::new_async().await;
    let m = server
        .mock("DELETE", RUNS)
        .match_query(Matcher::Exact("workflowRunIds=a&workflowRunIds=b".into()))
        .with_body(r#"{"cancelled":2}"#)
        .expect(1)
        .create_async()
        .await;
    let c = canceller(&server, 8192);
    let report = c
        .cancel_many(&Selector::ids(["a", "b", "a", "a"]), &BulkOptions::new())
        .await
        .unwrap();
    assert_eq!(
        (
            report.cancelled,
            report.not_active,
            report.requests_sent,
            report.duplicates_dropped
        ),
        (2, 0, 1, 2)
    );
    assert_eq!(report.accounted() + report.duplicates_dropped, 4);
    m.assert_async().await;
}
