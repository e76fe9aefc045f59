//! The exact requests the canceller sends, and what it makes of each answer (mockito).

use std::time::Duration;

use mockito::{Matcher, Server};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, CancelOptions, CancelOutcome, Inactive, NotFoundKind, RetryPolicy, RunFilter, RunRef,
    RunState, Selector, WorkflowCanceller,
};
use wfcancel_restate::RestateCanceller;

const ID: &str = "inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O";
const TOKEN: &str = "rs-secret-token-42";

fn canceller(server: &Server, token: bool) -> RestateCanceller {
    let b = RestateCanceller::builder().admin_url(server.url()).http_config(
        HttpConfig::default().retry(
            RetryPolicy::default()
                .max_attempts(3)
                .initial_backoff(Duration::from_millis(5)),
        ),
    );
    if token { b.auth_token(TOKEN) } else { b }.build().unwrap()
}

fn patch(server: &mut Server, action: &str) -> mockito::Mock {
    server
        .mock("PATCH", format!("/invocations/{ID}/{action}").as_str())
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_body("")
}

#[tokio::test]
async fn cancel_and_kill_send_one_patch_each_and_map_the_answer() {
    let mut server = Server::new_async().await;
    let c = canceller(&server, true);
    let run = RunRef::new(ID);
    let cases: [(&str, u16, &str, CancelOutcome); 4] = [
        ("cancel", 202, "", CancelOutcome::Requested),
        ("cancel", 200, "", CancelOutcome::Cancelled),
        (
            "cancel",
            409,
            r#"{"message":"The invocation 'inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O' was already completed.","restate_code":null}"#,
            CancelOutcome::NotActive(Inactive::Finished),
        ),
        (
            "cancel",
            404,
            r#"{"message":"The requested invocation 'inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O' does not exist","restate_code":null}"#,
            CancelOutcome::NotActive(Inactive::NoSuchRun),
        ),
    ];
    for (action, status, body, want) in cases {
        let m = patch(&mut server, action)
            .with_status(status as usize)
            .with_body(body)
            .expect(1)
            .create_async()
            .await;
        assert_eq!(c.cancel(&run).await, Ok(want), "{status}");
        m.assert_async().await;
        m.remove_async().await;
    }
    let kills: [(u16, &str, CancelOutcome); 3] = [
        (200, "", CancelOutcome::Cancelled),
        (
            409,
            r#"{"message":"The invocation 'inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O' was already completed."}"#,
            CancelOutcome::NotActive(Inactive::Finished),
        ),
        (
            404,
            r#"{"message":"The requested invocation 'inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O' does not exist"}"#,
            CancelOutcome::NotActive(Inactive::NoSuchRun),
        ),
    ];
    for (status, body, want) in kills {
        let m = patch(&mut server, "kill")
            .with_status(status as usize)
            .with_body(body)
            .expect(1)
            .create_async()
            .await;
        assert_eq!(
            c.cancel_with(&run, &CancelOptions::forced()).await,
            Ok(want),
            "kill {status}"
        );
        m.assert_async().await;
        m.remove_async().await;
    }
}

#[tokio::test]
async fn a_400_is_invalid_input_naming_the_id() {
    let mut server = Server::new_async().await;
    let c = canceller(&server, false);
    let id = "inv_2gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O";
    let m = server
        .mock("PATCH", format!("/invocations/{id}/cancel").as_str())
        .with_status(400)
        .with_body(r#"{"message":"The request field 'invocation_id' is invalid. Reason: unrecognized codec version","restate_code":null}"#)
        .expect(1)
        .create_async()
        .await;
    let e = c.cancel(&RunRef::new(id)).await.unwrap_err();
    assert!(
        matches!(&e, CancelError::InvalidInput { field: "run_id", message, .. } if message.contains(id) && message.contains("codec version")),
        "{e:?}"
    );
    m.assert_async().await;
}

#[tokio::test]
async fn malformed_ids_are_refused_before_any_request() {
    let mut server = Server::new_async().await;
    let patches = server.mock("PATCH", Matcher::Any).expect(0).create_async().await;
    let queries = server.mock("POST", Matcher::Any).expect(0).create_async().await;
    let c = canceller(&server, false);
    for bad in [
        "not-an-invocation",
        "inv_",
        "inv_1' OR '1'='1",
        "inv_1;--",
        "inv_1/*x*/",
        "inv_ü",
        "wfr_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O",
        "inv_1/../../deployments",
    ] {
        let run = RunRef::new(bad);
        for r in [
            c.cancel(&run).await.map(|_| ()),
            c.cancel_with(&run, &CancelOptions::forced()).await.map(|_| ()),
            c.status(&run).await.map(|_| ()),
            c.cancel_many(&Selector::Ids(vec![RunRef::new(ID), run.clone()]), &BulkOptions::new())
                .await
                .map(|_| ()),
        ] {
            assert!(
                matches!(&r, Err(CancelError::InvalidInput { field: "run_id", .. })),
                "{bad}: {r:?}"
            );
        }
    }
    // Not Restate's: an owner, a scope, a session, a second id.
    for run in [
        RunRef::new(ID).workflow("w"),
        RunRef::new(ID).scope("ns"),
        RunRef::new(ID).session("s"),
        RunRef::new(ID).sub_id("r"),
    ] {
        assert!(
            matches!(c.cancel(&run).await, Err(CancelError::InvalidInput { .. })),
            "{run:?}"
        );
    }
    // A reason cannot reach Restate: refused by the capability check.
    assert!(matches!(
        c.cancel_with(&RunRef::new(ID), &CancelOptions::graceful().reason("why"))
            .await,
        Err(CancelError::Unsupported { .. })
    ));
    patches.assert_async().await;
    queries.assert_async().await;
}

#[tokio::test]
async fn status_is_one_query_with_the_id_as_a_literal() {
    let mut server = Server::new_async().await;
    let c = canceller(&server, true);
    let sql = format!("SELECT id, status, completion_result, completion_failure FROM sys_invocation WHERE id = '{ID}'");
    let rows = [
        (r#""status":"running""#, Ok(RunState::Running)),
        (r#""status":"suspended""#, Ok(RunState::Paused)),
        (r#""status":"scheduled""#, Ok(RunState::Pending)),
        (
            r#""status":"completed","completion_result":"failure","completion_failure":"[409] Cancelled""#,
            Ok(RunState::Cancelled),
        ),
        (
            r#""status":"completed","completion_result":"failure","completion_failure":"[409] killed""#,
            Ok(RunState::Terminated),
        ),
        (
            r#""status":"completed","completion_result":"success""#,
            Ok(RunState::Completed),
        ),
    ];
    for (row, want) in rows {
        let m = server
            .mock("POST", "/query")
            .match_header("content-type", "application/json")
            .match_header("accept", "application/json")
            .match_header("authorization", format!("Bearer {TOKEN}").as_str())
            .match_body(Matcher::Json(serde_json::json!({ "query": sql })))
            .with_status(200)
            .with_header("content-type", "application/json")
            .with_body(format!(r#"{{"rows":[{{"id":"{ID}",{row}}}]}}"#))
            .expect(1)
            .create_async()
            .await;
        assert_eq!(c.status(&RunRef::new(ID)).await, want, "{row}");
        m.assert_async().await;
        m.remove_async().await;
    }
    let m = server
        .mock("POST", "/query")
        .with_status(200)
        .with_body(r#"{"rows":[]}"#)
        .expect(1)
        .create_async()
        .await;
    let e = c.status(&RunRef::new(ID)).await.unwrap_err();
    assert!(
        matches!(&e, CancelError::NotFound { what: NotFoundKind::Run, id: Some(i), .. } if i == ID),
        "{e:?}"
    );
    m.assert_async().await;
}

#[tokio::test]
async fn a_retried_kill_that_finds_it_completed_reads_the_state() {
    let mut server = Server::new_async().await;
    let c = canceller(&server, false);
    // The first attempt fails with a 503 (it may have killed the invocation), the retry answers 409.
    let first = server
        .mock("PATCH", format!("/invocations/{ID}/kill").as_str())
        .with_status(503)
        .expect(1)
        .create_async()
        .await;
    let second = server
        .mock("PATCH", format!("/invocations/{ID}/kill").as_str())
        .with_status(409)
        .with_body(r#"{"message":"The invocation 'x' was already completed."}"#)
        .expect(1)
        .create_async()
        .await;
    let read = server
        .mock("POST", "/query")
        .with_status(200)
        .with_body(format!(
            r#"{{"rows":[{{"id":"{ID}","status":"completed","completion_result":"failure","completion_failure":"[409] killed"}}]}}"#
        ))
        .expect(1)
        .create_async()
        .await;
    assert_eq!(
        c.cancel_with(&RunRef::new(ID), &CancelOptions::forced()).await,
        Ok(CancelOutcome::Cancelled)
    );
    first.assert_async().await;
    second.assert_async().await;
    read.assert_async().await;
}

#[tokio::test]
async fn the_token_never_shows() {
    let mut server = Server::new_async().await;
    let c = canceller(&server, true);
    assert!(!format!("{c:?} {c}").contains(TOKEN));
    let m = server
        .mock("PATCH", format!("/invocations/{ID}/cancel").as_str())
        .with_status(401)
        .with_body(format!(r#"{{"message":"bad token Bearer {TOKEN}"}}"#))
        .expect(1)
        .create_async()
        .await;
    let e = c.cancel(&RunRef::new(ID)).await.unwrap_err();
    assert!(matches!(e, CancelError::Unauthenticated { .. }), "{e:?}");
    assert!(!format!("{e} {e:?}").contains(TOKEN), "{e:?}");
    m.assert_async().await;
}

#[tokio::test]
async fn a_filter_is_a_keyset_paged_query_then_one_cancel_per_id() {
    let mut server = Server::new_async().await;
    let c = canceller(&server, false);
    let ids: Vec<String> = (0..5).map(|i| format!("inv_1aaaa{i}")).collect();
    let cond = "target_service_name IN ('Orders') AND target_handler_name = 'pro''cess' AND status != 'completed'";
    let page = |after: Option<&str>, rows: &[String]| {
        let sql = match after {
            Some(a) => format!("SELECT id FROM sys_invocation WHERE {cond} AND id > '{a}' ORDER BY id LIMIT 2"),
            None => format!("SELECT id FROM sys_invocation WHERE {cond} ORDER BY id LIMIT 2"),
        };
        let body: Vec<String> = rows.iter().map(|id| format!(r#"{{"id":"{id}"}}"#)).collect();
        (sql, format!(r#"{{"rows":[{}]}}"#, body.join(",")))
    };
    let pages = [
        page(None, &ids[0..2]),
        page(Some(&ids[1]), &ids[2..4]),
        page(Some(&ids[3]), &ids[4..5]),
    ];
    let mut mocks = Vec::new();
    for (sql, body) in &pages {
        mocks.push(
            server
                .mock("POST", "/query")
                .match_body(Matcher::Json(serde_json::json!({ "query": sql })))
                .with_status(200)
                .with_body(body)
                .expect(1)
                .create_async()
                .await,
        );
    }
    for id in &ids {
        mocks.push(
            server
                .mock("PATCH", format!("/invocations/{id}/kill").as_str())
                .with_status(200)
                .expect(1)
                .create_async()
                .await,
        );
    }
    let filter = RunFilter::new().workflow("Orders").custom_field("handler", "pro'cess");
    // A second pass from the start finds none (mockito answers with the first mock created that
    // still expects hits: the first page above, then this one).
    let (sql, _) = page(None, &[]);
    let fresh = server
        .mock("POST", "/query")
        .match_body(Matcher::Json(serde_json::json!({ "query": sql })))
        .with_status(200)
        .with_body(r#"{"rows":[]}"#)
        .expect(1)
        .create_async()
        .await;
    let report = c
        .cancel_many(
            &Selector::filter(filter),
            &BulkOptions::new()
                .page_size(2)
                .drain(true)
                .cancel_options(CancelOptions::forced()),
        )
        .await
        .unwrap();
    assert!(report.is_success(), "{report:?}");
    assert_eq!(
        (report.cancelled, report.rounds, report.drained),
        (5, 4, true),
        "{report:?}"
    );
    assert_eq!(report.requests_sent, 4 + 5);
    for m in mocks {
        m.assert_async().await;
    }
    fresh.assert_async().await;
}

#[tokio::test]
async fn without_drain_a_filter_is_one_round_of_one_page() {
    let mut server = Server::new_async().await;
    let c = canceller(&server, false);
    let sql = "SELECT id FROM sys_invocation WHERE target_service_name IN ('Orders') AND created_at >= \
               '1970-01-01T00:00:01.000Z' AND status IN ('running', 'backing-off') ORDER BY id LIMIT 2";
    let q = server
        .mock("POST", "/query")
        .match_body(Matcher::Json(serde_json::json!({ "query": sql })))
        .with_status(200)
        .with_body(r#"{"rows":[{"id":"inv_1a"},{"id":"inv_1b"}]}"#)
        .expect(1)
        .create_async()
        .await;
    let a = server
        .mock("PATCH", "/invocations/inv_1a/cancel")
        .with_status(202)
        .expect(1)
        .create_async()
        .await;
    let b = server
        .mock("PATCH", "/invocations/inv_1b/cancel")
        .with_status(409)
        .with_body(r#"{"message":"The invocation 'inv_1b' was already completed."}"#)
        .expect(1)
        .create_async()
        .await;
    let filter = RunFilter::new()
        .workflow("Orders")
        .from(std::time::UNIX_EPOCH + Duration::new(0, 999_000_001))
        .state(RunState::Running);
    let report = c
        .cancel_many(&Selector::filter(filter), &BulkOptions::new().page_size(2))
        .await
        .unwrap();
    assert_eq!(
        (
            report.requested,
            report.not_active,
            report.rounds,
            report.drained,
            report.requests_sent
        ),
        (1, 1, 1, false, 3),
        "{report:?}"
    );
    for m in [q, a, b] {
        m.assert_async().await;
    }
}

#[tokio::test]
async fn a_filtered_bulk_stops_at_an_error_that_fails_every_call_and_names_what_it_did_not_try() {
    let mut server = Server::new_async().await;
    let c = canceller(&server, true);
    // The first page: three ids. The next page may be read while the first cancel is in
    // flight; its ids are never cancelled once the bulk has stopped.
    let first = server
        .mock("POST", "/query")
        .match_body(Matcher::Json(serde_json::json!({
            "query": "SELECT id FROM sys_invocation WHERE target_service_name IN ('Orders') AND status != 'completed' ORDER BY id LIMIT 3"
        })))
        .with_status(200)
        .with_body(r#"{"rows":[{"id":"inv_1a"},{"id":"inv_1b"},{"id":"inv_1c"}]}"#)
        .expect(1)
        .create_async()
        .await;
    let next = server
        .mock("POST", "/query")
        .match_body(Matcher::Regex("id > 'inv_1c'".to_owned()))
        .with_status(200)
        .with_body(r#"{"rows":[{"id":"inv_1d"}]}"#)
        .expect_at_most(1)
        .create_async()
        .await;
    let denied = server
        .mock("PATCH", "/invocations/inv_1a/cancel")
        .with_status(401)
        .with_body(r#"{"message":"unauthorized"}"#)
        .expect(1)
        .create_async()
        .await;
    let others = server
        .mock("PATCH", Matcher::Regex("^/invocations/inv_1[bcd]/".to_owned()))
        .with_status(202)
        .expect(0)
        .create_async()
        .await;
    let report = c
        .cancel_many(
            &Selector::filter(RunFilter::new().workflow("Orders")),
            &BulkOptions::new().page_size(3).concurrency(1).drain(true),
        )
        .await
        .unwrap();
    assert!(
        matches!(report.aborted, Some(CancelError::Unauthenticated { .. })),
        "{report:?}"
    );
    assert_eq!(report.failed_runs(), 1, "{report:?}");
    let left: Vec<&str> = report.not_attempted.iter().map(|r| r.run_id()).collect();
    assert_eq!(left, ["inv_1b", "inv_1c"], "{report:?}");
    assert_eq!(report.accounted(), 3, "{report:?}");
    assert!(!report.drained);
    first.assert_async().await;
    next.assert_async().await;
    denied.assert_async().await;
    others.assert_async().await;
}

/// A filter that matches many invocations is paged, never held: the server serves keyset pages
/// of a virtual set of 10,000 matches and counts, at each page it serves, the ids it has handed
/// out whose cancel has not reached it yet. The client holds at most the rest of one page, the
/// page just read and its cancels in flight, whatever the number of matches (so a million
/// behaves as this does). Every match is cancelled once, and the drain ends on a pass that
/// finds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_matching_many_invocations_is_paged_never_held() {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};
    const N: u64 = 10_000;
    const PAGE: usize = 250;
    const CONCURRENCY: usize = 16;
    let id_of = |i: u64| format!("inv_1{i:08}");
    let mut server = Server::new_async().await;
    let served = Arc::new(AtomicU64::new(0));
    let patched = Arc::new(Mutex::new(vec![false; N as usize]));
    let patched_n = Arc::new(AtomicU64::new(0));
    let worst = Arc::new(AtomicU64::new(0));
    let (s, p, pn, w) = (served.clone(), patched.clone(), patched_n.clone(), worst.clone());
    let _query = server
        .mock("POST", "/query")
        .with_status(200)
        .with_body_from_request(move |req| {
            let body = req.utf8_lossy_body().unwrap_or_default();
            let after = body
                .split("id > '")
                .nth(1)
                .and_then(|rest| rest.split('\'').next())
                .and_then(|id| id.strip_prefix("inv_1"))
                .and_then(|n| n.parse::<u64>().ok());
            let start = after.map_or(0, |n| n + 1);
            let done = p.lock().unwrap();
            let rows: Vec<String> = (start..N)
                .filter(|&i| !done[i as usize])
                .take(PAGE)
                .map(|i| format!(r#"{{"id":"{}"}}"#, id_of(i)))
                .collect();
            let out = s.fetch_add(rows.len() as u64, Ordering::SeqCst) + rows.len() as u64;
            let held = out.saturating_sub(pn.load(Ordering::SeqCst));
            w.fetch_max(held, Ordering::SeqCst);
            format!(r#"{{"rows":[{}]}}"#, rows.join(",")).into_bytes()
        })
        .create_async()
        .await;
    let (p, pn) = (patched.clone(), patched_n.clone());
    let _cancel = server
        .mock("PATCH", Matcher::Regex(r"^/invocations/inv_1\d{8}/cancel$".to_owned()))
        .with_status(202)
        .with_body_from_request(move |req| {
            let n: usize = req.path()["/invocations/inv_1".len()..]
                .trim_end_matches("/cancel")
                .parse()
                .unwrap();
            let mut done = p.lock().unwrap();
            assert!(!done[n], "inv_1{n:08} cancelled twice");
            done[n] = true;
            pn.fetch_add(1, Ordering::SeqCst);
            Vec::new()
        })
        .create_async()
        .await;
    let c = canceller(&server, false);
    let report = tokio::time::timeout(
        Duration::from_secs(120),
        c.cancel_many(
            &Selector::filter(RunFilter::new().workflow("Orders")),
            &BulkOptions::new().page_size(PAGE).concurrency(CONCURRENCY).drain(true),
        ),
    )
    .await
    .expect("bounded")
    .unwrap();
    assert!(report.is_success() && report.drained, "{report:?}");
    assert_eq!(report.requested, N, "{report:?}");
    assert_eq!(patched_n.load(Ordering::SeqCst), N);
    let held = worst.load(Ordering::SeqCst);
    let bound = (2 * PAGE + CONCURRENCY) as u64;
    assert!(held <= bound, "the client held up to {held} ids (bound {bound}) of {N}");
    eprintln!("paged: {N} matches in pages of {PAGE}; at most {held} ids held (bound {bound})");
}

#[tokio::test]
async fn a_stop_none_of_whose_attempts_was_answered_reads_the_state() {
    use wfcancel_emulator::{FaultProxy, ProxyConfig, ProxyFlavor, Scenario, ScenarioRule};
    let row = |status: &str, failure: &str| {
        format!(
            r#"{{"rows":[{{"id":"{ID}","status":"{status}","completion_result":"failure","completion_failure":"{failure}"}}]}}"#
        )
    };
    for (action, status, answer, body, want) in [
        (
            "cancel",
            202,
            "",
            row("completed", "[409] Cancelled"),
            Ok(CancelOutcome::Cancelled),
        ),
        (
            "kill",
            200,
            "",
            row("completed", "[409] killed"),
            Ok(CancelOutcome::Cancelled),
        ),
        // Still stopping (or never asked): nothing tells, the error stands.
        ("cancel", 202, "", row("suspended", ""), Err(())),
    ] {
        let mut server = Server::new_async().await;
        // Every attempt reached the server; no answer reached the client.
        let stops = server
            .mock("PATCH", format!("/invocations/{ID}/{action}").as_str())
            .with_status(status)
            .with_body(answer)
            .expect(3)
            .create_async()
            .await;
        let read = server
            .mock("POST", "/query")
            .with_body(&body)
            .expect(1)
            .create_async()
            .await;
        let proxy = FaultProxy::start(ProxyConfig::new(server.url(), ProxyFlavor::Restate))
            .await
            .expect("proxy");
        proxy
            .faults()
            .add_scenario(ScenarioRule::new(Scenario::DropAfterHandling).path_suffix(format!("/{action}")));
        let c = RestateCanceller::builder()
            .admin_url(proxy.url())
            .http_config(
                HttpConfig::default().retry(
                    RetryPolicy::default()
                        .max_attempts(3)
                        .initial_backoff(Duration::from_millis(5)),
                ),
            )
            .build()
            .unwrap();
        let mode = if action == "kill" {
            CancelOptions::forced()
        } else {
            CancelOptions::graceful()
        };
        let r = c.cancel_with(&RunRef::new(ID), &mode).await;
        match want {
            Ok(outcome) => assert_eq!(r, Ok(outcome), "{action}"),
            Err(()) => assert!(matches!(&r, Err(CancelError::Transport { .. })), "{action}: {r:?}"),
        }
        stops.assert_async().await;
        read.assert_async().await;
    }
}
