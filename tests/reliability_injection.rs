//! Injection: run ids, owner ids, session ids and filter values taken from a list of hostile
//! strings never change the method, the endpoint or any other parameter of a request. Requests
//! are recorded on a loopback server that decodes them the way the emulators do (path segments
//! percent-decoded as axum's `Path` does, queries as `application/x-www-form-urlencoded`).
//! Control characters are refused before sending with `InvalidInput`, and so is anything that
//! cannot stay one path segment (`.`, `..`: Agno; Upstash sends a single cancel of those two ids
//! to its bulk endpoint as one query value instead of its run path) or one URL (over the URL
//! limit), and, for Upstash, a comma in a run id, label, caller IP, flow-control key, host or
//! path (the server splits those on commas; host and path: may, not confirmed).
//!
//! Non-UTF-8 bytes cannot be a Rust `&str`; they are tried through the command line in
//! `crates/wfcancel-cli/tests/reliability_leaks.rs`.
#![cfg(all(feature = "upstash", feature = "agno"))]

mod reliability_support;

use std::time::Duration;

use reliability_support::{self as rs, Recorded, Recorder};
use wfcancel::{BulkOptions, CancelError, RunFilter, RunRef, Selector, WorkflowCanceller};

const LIMIT: Duration = Duration::from_secs(20);

/// The hostile strings. Each is tried as every identifier and filter value.
fn hostile() -> Vec<String> {
    let mut v: Vec<String> = [
        "../",
        "..",
        ".",
        "../../v2/workflows/runs",
        "..%2f..%2fadmin",
        "%2e%2e/",
        "%2e%2e",
        "%2F",
        "?x=",
        "?count=1000000",
        "?workflowRunIds=victim",
        "#",
        "#fragment",
        "a&workflowRunIds=victim",
        "a&count=1&label=x",
        "a=b",
        "a,victim",
        "nightly,prod,",
        "=",
        "&",
        "+",
        "a b",
        "%",
        "%25",
        "%00",
        "%0d%0aX-Injected:%201",
        "/",
        "//",
        "/v2/workflows/runs",
        "\\",
        "a/b?c#d",
        ";param",
        "ü",
        "日本語",
        "\u{202E}evil",
        "\u{FEFF}bom",
        "'; DROP TABLE runs; --",
        "<script>alert(1)</script>",
        "${QSTASH_TOKEN}",
        " leading",
        "trailing ",
        "",
        "   ",
        // Control characters: refused before sending.
        "a\rb",
        "a\nb",
        "a\r\nX-Injected: 1",
        "\r\n\r\nGET / HTTP/1.1",
        "a\0b",
        "\0",
        "tab\there",
        "del\u{7f}",
        "nel\u{85}",
        "esc\u{1b}[31m",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push("x".repeat(10_000));
    v.push("y".repeat(60_000));
    v.push(format!("{}&workflowRunIds=victim", "z".repeat(5_000)));
    v
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// What must happen for one value: refused before sending, or sent exactly as given.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Refused,
    Sent,
}

/// A value that must be refused with `InvalidInput` whatever the backend.
fn refused_everywhere(s: &str) -> bool {
    has_control(s) || is_blank(s)
}

/// Upstash reads a comma in an id, label, caller IP or flow-control key as a separator (and may
/// in a host or path), so the client must refuse such a value instead of sending it (workflow
/// URLs are not split).
fn comma_refused(s: &str) -> bool {
    s.contains(',')
}

fn check_refused(what: &str, r: &Result<impl std::fmt::Debug, CancelError>, recorded: &[Recorded]) {
    assert!(
        matches!(r, Err(CancelError::InvalidInput { .. })),
        "{what}: expected InvalidInput, got {r:?}"
    );
    assert!(recorded.is_empty(), "{what}: refused input still sent {recorded:?}");
}

/// The headers of a benign request, to compare with.
fn header_set(r: &Recorded) -> Vec<String> {
    let mut h = r.header_names.clone();
    h.sort();
    h
}

struct Tally {
    tried: usize,
    refused: usize,
    sent: usize,
}

impl Tally {
    fn new() -> Self {
        Tally {
            tried: 0,
            refused: 0,
            sent: 0,
        }
    }

    fn add(&mut self, e: Expect) {
        self.tried += 1;
        match e {
            Expect::Refused => self.refused += 1,
            Expect::Sent => self.sent += 1,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstash_ids_and_filter_values_stay_one_value() {
    rs::capture_tracing();
    let rec = Recorder::start().await;
    let client = rs::upstash_client(&rec.url(), rs::http(Duration::from_secs(5), 1, Duration::from_secs(10)));
    let max_url = client.max_url_bytes();
    let mut tally = Tally::new();

    // A benign request: the headers every request must have, no more.
    let _ = client.cancel(&RunRef::new("wfr_benign")).await;
    let benign_reqs = rec.take();
    assert_eq!(benign_reqs.len(), 1, "{benign_reqs:?}");
    assert_eq!(benign_reqs[0].raw_path, "/v2/workflows/runs/wfr_benign");
    let benign = header_set(&benign_reqs[0]);
    assert!(benign.contains(&"authorization".to_owned()));
    // The bulk endpoint sends the same headers.
    let _ = client
        .cancel_many(&Selector::ids(["wfr_benign"]), &BulkOptions::new())
        .await;
    let bulk_reqs = rec.take();
    assert_eq!(bulk_reqs.len(), 1, "{bulk_reqs:?}");
    assert_eq!(header_set(&bulk_reqs[0]), benign);

    for h in hostile() {
        let what = format!("upstash cancel {:?}", preview(&h));
        let (r, _) = rs::within(&what, LIMIT, client.cancel(&RunRef::new(h.clone()))).await;
        rs::scan_result(&what, &r);
        let recorded = rec.take();
        // The id travels as one percent-encoded path segment (`DELETE /v2/workflows/runs/{id}`),
        // except `.` and `..`, which no encoding keeps one segment: those go to the bulk endpoint
        // as the one `workflowRunIds` query value. Refused only for control characters, blanks,
        // commas, or a URL over the limit.
        let as_segment = h != "." && h != "..";
        let url_len = if as_segment {
            let mut u = url::Url::parse(&rec.url()).expect("recorder URL");
            u.path_segments_mut()
                .expect("a base")
                .pop_if_empty()
                .extend(["v2", "workflows", "runs", h.as_str()]);
            u.as_str().len()
        } else {
            client
                .plan_cancel(&RunRef::new("x"))
                .map(|p| p.url.as_str().len())
                .unwrap_or(0)
                - 1
                + url::form_urlencoded::byte_serialize(h.as_bytes())
                    .map(str::len)
                    .sum::<usize>()
        };
        let too_long = url_len > max_url;
        if refused_everywhere(&h) || too_long || comma_refused(&h) {
            check_refused(&what, &r, &recorded);
            tally.add(Expect::Refused);
            // The status read refuses the same values (the URL limit apart: its URL is another).
            if refused_everywhere(&h) || comma_refused(&h) {
                let (s, _) = rs::within(&what, LIMIT, client.status(&RunRef::new(h.clone()))).await;
                rs::scan_result(&what, &s);
                check_refused(&format!("{what} (status)"), &s, &rec.take());
            }
            continue;
        }
        assert!(r.is_ok(), "{what}: {r:?}");
        assert_eq!(recorded.len(), 1, "{what}: {recorded:?}");
        let q = &recorded[0];
        assert_eq!(q.method, "DELETE", "{what}");
        if as_segment {
            assert_eq!(
                q.segments,
                ["v2", "workflows", "runs", h.as_str()],
                "{what}: {}",
                q.raw_path
            );
            assert_eq!(q.raw_path.len(), url_len - rec.url().len(), "{what}: {}", q.raw_path);
            assert_eq!(q.raw_query, None, "{what}");
            assert!(q.query.is_empty(), "{what}: {:?}", q.query);
        } else {
            assert_eq!(q.raw_path, "/v2/workflows/runs", "{what}");
            assert_eq!(q.query, vec![("workflowRunIds".to_owned(), h.clone())], "{what}");
        }
        assert_eq!(header_set(q), benign, "{what}: headers changed");
        assert_eq!(q.body_len, 0);
        tally.add(Expect::Sent);

        // The status read: one GET of the logs, the id as the one `workflowRunId`.
        let (s, _) = rs::within(&what, LIMIT, client.status(&RunRef::new(h.clone()))).await;
        rs::scan_result(&what, &s);
        let recorded = rec.take();
        assert_eq!(recorded.len(), 1, "{what}: {recorded:?}");
        assert_eq!(recorded[0].method, "GET");
        assert_eq!(recorded[0].raw_path, "/v2/workflows/logs");
        assert_eq!(recorded[0].query, vec![("workflowRunId".to_owned(), h.clone())]);
    }

    // Many ids in one bulk: each stays one `workflowRunIds` value, in order, across chunks.
    let ids: Vec<String> = hostile()
        .into_iter()
        // (commas apart: refused, see `comma_refused`)
        .filter(|h| !refused_everywhere(h) && h.len() < 1000 && !h.contains(','))
        .collect();
    let (r, _) = rs::within(
        "bulk",
        LIMIT,
        client.cancel_many(&Selector::ids(ids.clone()), &BulkOptions::new().concurrency(1)),
    )
    .await;
    rs::scan_result("upstash hostile bulk", &r);
    assert!(r.is_ok_and(|r| r.is_success()));
    let sent: Vec<String> = rec
        .take()
        .iter()
        .inspect(|q| {
            assert_eq!(
                (q.method.as_str(), q.raw_path.as_str()),
                ("DELETE", "/v2/workflows/runs")
            );
            assert!(q.query.iter().all(|(k, _)| k == "workflowRunIds"), "{q:?}");
        })
        .flat_map(|q| q.query.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>())
        .collect();
    assert_eq!(sent, ids, "every id once, in order, nothing else");

    // Filter values: each field, each hostile value.
    type Field = (
        &'static str,
        fn(RunFilter, String) -> RunFilter,
        &'static [(&'static str, &'static str)],
    );
    let fields: [Field; 7] = [
        ("label", |f, v| f.label(v), &[]),
        ("callerIp", |f, v| f.caller_ip(v), &[]),
        ("flowControlKey", |f, v| f.flow_control_key(v), &[]),
        ("host", |f, v| f.host(v), &[]),
        ("path", |f, v| f.path(v), &[]),
        (
            "workflowUrl",
            |f, v| f.url_exact(v),
            &[("workflowUrlExactMatch", "true")],
        ),
        ("workflowUrl", |f, v| f.url_prefix(v), &[]),
    ];
    for (key, set, extra) in fields {
        for h in hostile() {
            let what = format!("upstash filter {key}={:?}", preview(&h));
            let selector = Selector::filter(set(RunFilter::new(), h.clone()));
            let (r, _) = rs::within(&what, LIMIT, client.cancel_many(&selector, &BulkOptions::new())).await;
            rs::scan_result(&what, &r);
            let recorded = rec.take();
            let too_long = url::form_urlencoded::byte_serialize(h.as_bytes())
                .map(str::len)
                .sum::<usize>()
                + 100
                > max_url;
            if refused_everywhere(&h) || too_long || (key != "workflowUrl" && comma_refused(&h)) {
                check_refused(&what, &r, &recorded);
                tally.add(Expect::Refused);
                continue;
            }
            assert!(r.as_ref().is_ok_and(|r| r.is_success()), "{what}: {r:?}");
            assert_eq!(recorded.len(), 1, "{what}");
            let q = &recorded[0];
            assert_eq!(
                (q.method.as_str(), q.raw_path.as_str()),
                ("DELETE", "/v2/workflows/runs"),
                "{what}"
            );
            let mut want = vec![(key.to_owned(), h.clone())];
            want.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
            want.push(("count".to_owned(), "100".to_owned()));
            assert_eq!(q.query, want, "{what}");
            assert_eq!(header_set(q), benign, "{what}: headers changed");
            tally.add(Expect::Sent);
        }
    }
    rs::assert_no_leaks();
    rs::summary(
        "upstash/injection/hostile-values",
        &[
            ("values", hostile().len().to_string()),
            ("tried", tally.tried.to_string()),
            ("refused_before_sending", tally.refused.to_string()),
            ("sent_intact", tally.sent.to_string()),
            ("changed", "0".into()),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agno_ids_stay_one_path_segment_and_sessions_one_query_value() {
    rs::capture_tracing();
    let rec = Recorder::start().await;
    let client = rs::agno_client(&rec.url(), rs::http(Duration::from_secs(5), 1, Duration::from_secs(10)));
    let mut tally = Tally::new();

    let _ = client
        .cancel(&RunRef::new("run-benign").workflow("wf").session("s"))
        .await;
    let benign_reqs = rec.take();
    let benign = header_set(benign_reqs.last().expect("a request"));

    // (which id is hostile, the run) — the other two stay benign.
    type MakeRun = fn(&str) -> RunRef;
    let cases: Vec<(&str, MakeRun)> = vec![
        ("run_id", |h| RunRef::new(h).workflow("wf").session("s")),
        ("workflow", |h| RunRef::new("run-1").workflow(h).session("s")),
        ("agent", |h| RunRef::new("run-1").agent(h).session("s")),
        ("team", |h| RunRef::new("run-1").team(h).session("s")),
        ("session_id", |h| RunRef::new("run-1").workflow("wf").session(h)),
    ];
    for (field, make) in cases {
        for h in hostile() {
            let run = make(&h);
            let what = format!("agno {field}={:?}", preview(&h));
            // Cancel, then status: the same addressing.
            for op in ["cancel", "status"] {
                let r = match op {
                    "cancel" => rs::within(&what, LIMIT, client.cancel(&run))
                        .await
                        .0
                        .map(|o| o.to_string()),
                    _ => rs::within(&what, LIMIT, client.status(&run))
                        .await
                        .0
                        .map(|s| s.to_string()),
                };
                rs::scan_result(&what, &r);
                let recorded = rec.take();
                let not_a_segment = field != "session_id" && (h == "." || h == "..");
                if refused_everywhere(&h) || not_a_segment {
                    check_refused(&what, &r, &recorded);
                    tally.add(Expect::Refused);
                    continue;
                }
                assert!(r.is_ok(), "{what} {op}: {r:?}");
                assert!(!recorded.is_empty(), "{what} {op}");
                for q in &recorded {
                    let owner = run.owner().expect("owner");
                    let kind = match owner.kind.as_str() {
                        "workflow" => "workflows",
                        "agent" => "agents",
                        _ => "teams",
                    };
                    let mut want = vec![
                        kind.to_owned(),
                        owner.id.to_string(),
                        "runs".to_owned(),
                        run.run_id().to_owned(),
                    ];
                    match q.method.as_str() {
                        "POST" => want.push("cancel".to_owned()),
                        "GET" => {}
                        other => panic!("{what}: method {other}"),
                    }
                    if op == "status" {
                        assert_eq!(q.method, "GET", "{what}");
                    }
                    assert_eq!(q.segments, want, "{what} {op}: {}", q.raw_path);
                    assert_eq!(
                        q.query,
                        vec![("session_id".to_owned(), run.session_id().expect("session").to_owned())],
                        "{what} {op}"
                    );
                    assert_eq!(header_set(q), benign, "{what}: headers changed");
                    assert_eq!(q.body_len, 0);
                }
                tally.add(Expect::Sent);
            }
        }
    }
    rs::assert_no_leaks();
    rs::summary(
        "agno/injection/hostile-values",
        &[
            ("values", hostile().len().to_string()),
            ("tried", tally.tried.to_string()),
            ("refused_before_sending", tally.refused.to_string()),
            ("sent_intact", tally.sent.to_string()),
            ("changed", "0".into()),
        ],
    );
}

/// Regression (RELIABILITY.md, "Findings"): a comma survives encoding (`%2C`), but the server
/// splits `workflowRunIds`, `label`, `callerIp` and `flowControlKey` values on commas after
/// decoding them (the reference: "the server also accepts one comma-separated value"; the
/// emulator does the same). So the id `a,victim` used to cancel the run `victim` too, and the
/// label `nightly,prod` every `prod` run. Such values are now refused with `InvalidInput`, naming
/// the field, before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comma_in_an_id_or_label_never_reaches_another_run() {
    use wfcancel_emulator::{Faults, UpstashRun, UpstashState};
    let emu = rs::upstash_emulator(Faults::none()).await;
    emu.seed(UpstashRun::new("a", "https://app.example.com/wf").label("nightly"));
    emu.seed(UpstashRun::new("victim", "https://app.example.com/wf").label("other"));
    emu.seed(UpstashRun::new("prod-run", "https://app.example.com/wf").label("prod"));
    let client = rs::upstash_client(&emu.url(), rs::http(Duration::from_secs(5), 1, Duration::from_secs(10)));
    let r = client.cancel(&RunRef::new("a,victim")).await;
    let by_id = emu.state("victim");
    let l = client
        .cancel_many(
            &Selector::filter(RunFilter::new().label("nightly,prod")),
            &BulkOptions::new(),
        )
        .await;
    let by_label = emu.state("prod-run");
    assert_eq!(
        (by_id, by_label),
        (Some(UpstashState::Started), Some(UpstashState::Started)),
        "cancel of id `a,victim` answered {r:?}; cancel of label `nightly,prod` answered {l:?}"
    );
    assert!(
        matches!(&r, Err(CancelError::InvalidInput { field: "run_id", .. })),
        "{r:?}"
    );
    assert!(
        matches!(
            &l,
            Err(CancelError::InvalidInput {
                field: "filter.labels",
                ..
            })
        ),
        "{l:?}"
    );
    let b = client
        .cancel_many(&Selector::ids(["a", "a,victim"]), &BulkOptions::new())
        .await;
    assert!(
        matches!(&b, Err(CancelError::InvalidInput { field: "ids", .. })),
        "{b:?}"
    );
    assert_eq!(emu.stats().requests, 0, "nothing was sent");
    assert_eq!(emu.state("a"), Some(UpstashState::Started));
    emu.shutdown().await;
}

fn preview(s: &str) -> String {
    if s.len() > 40 {
        format!("{}…({} bytes)", s.chars().take(20).collect::<String>(), s.len())
    } else {
        s.to_owned()
    }
}
