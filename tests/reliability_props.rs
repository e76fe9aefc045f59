//! Property tests: what the clients encode is exactly what the emulators decode, for random ids,
//! owners, sessions and filters.
//!
//! Two oracles:
//! - the emulators themselves: a run seeded under a random id (owner, session, label, …) is
//!   cancelled by addressing it through the client, and only it (neighbouring decoys stay
//!   running), and its state reads back through the client;
//! - a recording server that decodes like the emulators (`form_urlencoded`, the Upstash
//!   emulator's comma-separated multi-values, axum's percent-decoded path segments): the decoded
//!   request equals the input field by field.
//!
//! Strings: arbitrary Unicode without control characters (refused before sending; see
//! `reliability_injection.rs`), with URL-significant ASCII over-represented. Commas are left out
//! of Upstash's multi-valued fields: the server splits them (a known bug, RELIABILITY.md).
#![cfg(all(feature = "upstash", feature = "agno"))]

mod reliability_support;

use std::time::{Duration, SystemTime};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use reliability_support::{self as rs, Recorder};
use wfcancel::{
    BulkOptions, CancelOutcome, OwnerKind, RunFilter, RunRef, RunState, Selector, WorkflowCanceller, epoch_millis,
    from_epoch_millis,
};
use wfcancel_emulator::{AgnoRun, AgnoStatus, Faults, UpstashRun, UpstashState};

const CASES: u32 = 256;
const LIMIT: Duration = Duration::from_secs(10);

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        max_shrink_iters: 200,
        ..Config::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A non-blank string without control characters: URL-significant ASCII, or any printable
/// Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9/?#%&=+;:@!$'()*~ .\\[\\]{}<>\"\\\\|^`_-]{1,24}",
        "\\PC{1,16}",
        "(%[0-9a-fA-F]{2}|[./]){1,8}",
    ]
    .prop_filter("not blank", |s| !s.trim().is_empty())
}

/// As [`text`], without commas (for Upstash's comma-split fields).
fn value() -> impl Strategy<Value = String> {
    text().prop_filter("no comma", |s| !s.contains(','))
}

/// As [`text`], and usable as one path segment (not `.` or `..`).
fn segment() -> impl Strategy<Value = String> {
    text().prop_filter("a path segment", |s| s != "." && s != "..")
}

fn check(ok: bool, msg: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok { Ok(()) } else { Err(TestCaseError::fail(msg())) }
}

/// The Upstash emulator's reading of a multi-valued query key: repeated keys, each value split
/// on commas, empty parts dropped.
fn emulator_values(query: &[(String, String)], key: &str) -> Vec<String> {
    query
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| {
            v.split(',')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn upstash_emulator_cancels_exactly_the_run_named_by_a_random_id() {
    rs::capture_tracing();
    let rt = runtime();
    let emu = rt.block_on(rs::upstash_emulator(Faults::none()));
    let client = rs::upstash_client(&emu.url(), rs::http(Duration::from_secs(5), 2, Duration::from_secs(10)));
    let count = std::cell::Cell::new(0u64);
    runner()
        .run(&value(), |id| {
            count.set(count.get() + 1);
            let url = "https://app.example.com/api/wf";
            // Decoys: the id with a suffix, a prefix of it, its percent-encoded form.
            let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();
            // (Deduplicated: for an id made only of `x`, the suffixed and prefixed decoys are one.)
            let mut decoys: Vec<String> = [format!("{id}x"), format!("x{id}"), encoded]
                .into_iter()
                .filter(|d| *d != id)
                .collect();
            decoys.sort();
            decoys.dedup();
            emu.seed(UpstashRun::new(&id, url));
            for d in &decoys {
                emu.seed(UpstashRun::new(d, url));
            }
            let run = RunRef::new(id.clone());
            let (r, _) = rt.block_on(rs::within("cancel", LIMIT, client.cancel(&run)));
            check(r == Ok(CancelOutcome::Cancelled), || format!("{id:?}: {r:?}"))?;
            check(emu.state(&id) == Some(UpstashState::Canceled), || {
                format!("{id:?} not cancelled")
            })?;
            for d in &decoys {
                check(emu.state(d) == Some(UpstashState::Started), || {
                    format!("{id:?} also cancelled {d:?}")
                })?;
                emu.set_state(d, UpstashState::Success);
            }
            let (s, _) = rt.block_on(rs::within("status", LIMIT, client.status(&run)));
            check(s == Ok(RunState::Cancelled), || format!("{id:?}: status {s:?}"))?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    rs::assert_no_leaks();
    rs::summary(
        "upstash/props/id-roundtrip-emulator",
        &[
            ("cases", count.get().to_string()),
            ("calls", emu.requests().to_string()),
            ("mismatches", "0".into()),
        ],
    );
}

#[test]
fn upstash_emulator_applies_exactly_the_random_filter_sent() {
    rs::capture_tracing();
    let rt = runtime();
    let emu = rt.block_on(rs::upstash_emulator(Faults::none()));
    let client = rs::upstash_client(&emu.url(), rs::http(Duration::from_secs(5), 2, Duration::from_secs(10)));
    let count = std::cell::Cell::new(0u64);
    // One field at a time, the others absent: a run carrying the value, and a decoy carrying a
    // neighbouring value.
    let strategy = (0usize..7, value(), 0u64..1_000_000);
    runner()
        .run(&strategy, |(field, v, salt)| {
            count.set(count.get() + 1);
            let n = count.get();
            let hit = format!("wfr_hit_{salt}_{n}");
            let miss = format!("wfr_miss_{salt}_{n}");
            let base = "https://app.example.com/api/";
            let neighbour = format!("{v}~");
            let (mut a, mut b) = (UpstashRun::new(&hit, base), UpstashRun::new(&miss, base));
            let filter = match field {
                0 => {
                    a = a.label(&v);
                    b = b.label(&neighbour);
                    RunFilter::new().label(&v)
                }
                1 => {
                    a = a.caller_ip(&v);
                    b = b.caller_ip(&neighbour);
                    RunFilter::new().caller_ip(&v)
                }
                2 => {
                    a = a.flow_control_key(&v);
                    b = b.flow_control_key(&neighbour);
                    RunFilter::new().flow_control_key(&v)
                }
                5 => {
                    // A host: whatever cannot end or hide one (`/?#:@[`) made `_`.
                    let h: String = v.chars().map(|c| if "/?#:@[".contains(c) { '_' } else { c }).collect();
                    a = UpstashRun::new(&hit, format!("https://{h}/api/"));
                    b = UpstashRun::new(&miss, format!("https://{h}~/api/"));
                    RunFilter::new().host(h)
                }
                6 => {
                    // A path: whatever would end it (`?#`) made `_`.
                    let p: String = v.chars().map(|c| if "?#".contains(c) { '_' } else { c }).collect();
                    a = UpstashRun::new(&hit, format!("https://app.example.com/{p}?q=1"));
                    b = UpstashRun::new(&miss, format!("https://app.example.com/{p}~"));
                    RunFilter::new().path(format!("/{p}"))
                }
                3 => {
                    let u = format!("{base}{v}");
                    a = UpstashRun::new(&hit, &u);
                    b = UpstashRun::new(&miss, format!("{u}~"));
                    RunFilter::new().url_exact(u)
                }
                _ => {
                    let u = format!("{base}{v}");
                    a = UpstashRun::new(&hit, format!("{u}/more"));
                    b = UpstashRun::new(&miss, format!("https://other.example.com/{v}"));
                    RunFilter::new().url_prefix(u)
                }
            };
            emu.seed(a);
            emu.seed(b);
            let (r, _) = rt.block_on(rs::within(
                "filter",
                LIMIT,
                client.cancel_many(&Selector::filter(filter.clone()), &BulkOptions::new().page_size(1000)),
            ));
            let r = r.map_err(|e| TestCaseError::fail(format!("{filter:?}: {e}")))?;
            check(r.cancelled == 1, || format!("{filter:?}: cancelled {}", r.cancelled))?;
            check(emu.state(&hit) == Some(UpstashState::Canceled), || {
                format!("{filter:?}: hit not cancelled")
            })?;
            check(emu.state(&miss) == Some(UpstashState::Started), || {
                format!("{filter:?}: decoy cancelled")
            })?;
            emu.set_state(&miss, UpstashState::Success);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    rs::assert_no_leaks();
    rs::summary(
        "upstash/props/filter-roundtrip-emulator",
        &[
            ("cases", count.get().to_string()),
            ("calls", emu.requests().to_string()),
            ("mismatches", "0".into()),
        ],
    );
}

#[test]
fn upstash_requests_decode_to_the_random_ids_and_filters() {
    rs::capture_tracing();
    let rt = runtime();
    let rec = rt.block_on(Recorder::start());
    let client = rs::upstash_client(&rec.url(), rs::http(Duration::from_secs(5), 1, Duration::from_secs(10)));
    let count = std::cell::Cell::new(0u64);
    let ids = proptest::collection::vec(value(), 1..30);
    let list = || proptest::option::of(proptest::collection::vec(value(), 1..4));
    let filter = (
        list(),
        list(),
        list(),
        proptest::option::of((any::<bool>(), value())),
        proptest::option::of((0u64..4_000_000_000_000, 0u64..1_000_000)),
        1usize..2000,
        (list(), list()),
    );
    runner()
        .run(&(ids, filter), |(ids, (labels, ips, keys, url, range, page, parts))| {
            let (hosts, paths) = parts;
            count.set(count.get() + 1);
            // Ids, over several chunks when long: decoded back in order, each repeated id sent
            // once (the first time it appears).
            let (r, _) = rt.block_on(rs::within(
                "ids",
                LIMIT,
                client.cancel_many(&Selector::ids(ids.clone()), &BulkOptions::new().concurrency(1)),
            ));
            check(r.is_ok(), || format!("{r:?}"))?;
            let mut unique: Vec<String> = Vec::new();
            for id in &ids {
                if !unique.contains(id) {
                    unique.push(id.clone());
                }
            }
            let report = r.expect("checked");
            check(report.duplicates_dropped == (ids.len() - unique.len()) as u64, || {
                format!("ids {ids:?}: duplicates_dropped {}", report.duplicates_dropped)
            })?;
            let got: Vec<String> = rec
                .take()
                .iter()
                .flat_map(|q| emulator_values(&q.query, "workflowRunIds"))
                .collect();
            check(got == unique, || format!("ids {ids:?} decoded as {got:?}"))?;

            // One id by itself: one percent-encoded path segment of
            // `DELETE /v2/workflows/runs/{id}`, with no query; `.` and `..` (not path segments)
            // as the one `workflowRunIds` value of the bulk endpoint.
            let id = &ids[0];
            let (r, _) = rt.block_on(rs::within("cancel", LIMIT, client.cancel(&RunRef::new(id.clone()))));
            check(r == Ok(CancelOutcome::Cancelled), || format!("cancel {id:?}: {r:?}"))?;
            let q = rec.take();
            check(q.len() == 1 && q[0].method == "DELETE", || {
                format!("cancel {id:?}: {q:?}")
            })?;
            let q = &q[0];
            if id == "." || id == ".." {
                check(
                    q.raw_path == "/v2/workflows/runs" && q.query == [("workflowRunIds".to_owned(), id.clone())],
                    || format!("cancel {id:?}: {q:?}"),
                )?;
            } else {
                check(
                    q.segments == ["v2", "workflows", "runs", id.as_str()] && q.raw_query.is_none(),
                    || format!("cancel {id:?} decoded as {:?} ({})", q.segments, q.raw_path),
                )?;
            }

            // A filter: each field decoded back, nothing else but `count`.
            let mut f = RunFilter::new();
            for l in labels.iter().flatten() {
                f = f.label(l);
            }
            for i in ips.iter().flatten() {
                f = f.caller_ip(i);
            }
            for k in keys.iter().flatten() {
                f = f.flow_control_key(k);
            }
            for h in hosts.iter().flatten() {
                f = f.host(h);
            }
            for p in paths.iter().flatten() {
                f = f.path(p);
            }
            if let Some((exact, u)) = &url {
                f = if *exact { f.url_exact(u) } else { f.url_prefix(u) };
            }
            if let Some((from, len)) = range {
                f = f.from(from_epoch_millis(from)).to(from_epoch_millis(from + len));
            }
            if f.is_empty() {
                f = f.label("only");
            }
            let (r, _) = rt.block_on(rs::within(
                "filter",
                LIMIT,
                client.cancel_many(&Selector::filter(f.clone()), &BulkOptions::new().page_size(page)),
            ));
            check(r.is_ok(), || format!("{f:?}: {r:?}"))?;
            let q = rec.take();
            check(q.len() == 1, || format!("{} requests", q.len()))?;
            let q = &q[0].query;
            let same =
                |key: &str, want: &Option<Vec<String>>| emulator_values(q, key) == want.clone().unwrap_or_default();
            check(same("label", &f.labels), || format!("labels {f:?} -> {q:?}"))?;
            check(same("callerIp", &f.caller_ips), || format!("ips {f:?} -> {q:?}"))?;
            check(same("flowControlKey", &f.flow_control_keys), || {
                format!("keys {f:?} -> {q:?}")
            })?;
            check(same("host", &f.hosts), || format!("hosts {f:?} -> {q:?}"))?;
            check(same("path", &f.paths), || format!("paths {f:?} -> {q:?}"))?;
            let urls: Vec<&String> = q.iter().filter(|(k, _)| k == "workflowUrl").map(|(_, v)| v).collect();
            let exact = q.iter().any(|(k, v)| k == "workflowUrlExactMatch" && v == "true");
            match &f.url {
                Some(m) => check(
                    urls == [m.value()] && exact == matches!(m, wfcancel::UrlMatch::Exact(_)),
                    || format!("url {m:?} -> {q:?}"),
                )?,
                None => check(urls.is_empty() && !exact, || format!("url -> {q:?}"))?,
            }
            let ms = |key: &str| q.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
            check(
                ms("fromDate") == f.from.map(|t: SystemTime| epoch_millis(t).to_string()),
                || format!("from {q:?}"),
            )?;
            check(ms("toDate") == f.to.map(|t| epoch_millis(t).to_string()), || {
                format!("to {q:?}")
            })?;
            check(ms("count") == Some(page.to_string()), || format!("count {q:?}"))?;
            let known = [
                "label",
                "callerIp",
                "flowControlKey",
                "host",
                "path",
                "workflowUrl",
                "workflowUrlExactMatch",
                "fromDate",
                "toDate",
                "count",
            ];
            check(q.iter().all(|(k, _)| known.contains(&k.as_str())), || {
                format!("unknown key in {q:?}")
            })?;
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    rs::assert_no_leaks();
    rs::summary(
        "upstash/props/ids-and-filters-recorder",
        &[("cases", count.get().to_string()), ("mismatches", "0".into())],
    );
}

#[test]
fn agno_emulator_reaches_exactly_the_random_run() {
    rs::capture_tracing();
    let rt = runtime();
    let emu = rt.block_on(rs::agno_emulator(Faults::none()));
    let client = rs::agno_client(&emu.url(), rs::http(Duration::from_secs(5), 2, Duration::from_secs(10)));
    let count = std::cell::Cell::new(0u64);
    let kinds = prop_oneof![Just(OwnerKind::Workflow), Just(OwnerKind::Agent), Just(OwnerKind::Team)];
    runner()
        .run(
            &(kinds, segment(), segment(), text()),
            |(kind, owner, run_id, session)| {
                count.set(count.get() + 1);
                let n = count.get();
                // Run ids are unique in the emulator: make this one fresh, keep it random.
                let run_id = format!("{run_id}{n}");
                let decoy = format!("{run_id}~");
                emu.seed(AgnoRun::new(kind, &owner, &run_id).session(&session));
                emu.seed(AgnoRun::new(kind, &owner, &decoy).session(&session));
                let run = RunRef::new(run_id.clone())
                    .owned_by(kind, owner.clone())
                    .session(session.clone());
                let (r, _) = rt.block_on(rs::within("cancel", LIMIT, client.cancel(&run)));
                check(r == Ok(CancelOutcome::Requested), || format!("{run:?}: {r:?}"))?;
                check(emu.cancel_requested(&run_id), || {
                    format!("{run:?}: no cancel at the server")
                })?;
                check(emu.status(&run_id) == Some(AgnoStatus::Cancelled), || {
                    format!("{run:?}: not cancelled")
                })?;
                check(!emu.cancel_requested(&decoy), || {
                    format!("{run:?}: the decoy was reached")
                })?;
                // The status route matches owner, run and session exactly.
                let (s, _) = rt.block_on(rs::within("status", LIMIT, client.status(&run)));
                check(s == Ok(RunState::Cancelled), || format!("{run:?}: status {s:?}"))?;
                let (s, _) = rt.block_on(rs::within(
                    "status",
                    LIMIT,
                    client.status(&run.clone().session(format!("{session}~"))),
                ));
                check(s.is_err(), || format!("{run:?}: another session read it: {s:?}"))?;
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    rs::assert_no_leaks();
    rs::summary(
        "agno/props/run-roundtrip-emulator",
        &[
            ("cases", count.get().to_string()),
            ("calls", emu.requests().to_string()),
            ("mismatches", "0".into()),
        ],
    );
}

#[test]
fn agno_requests_decode_to_the_random_segments_and_session() {
    rs::capture_tracing();
    let rt = runtime();
    let rec = rt.block_on(Recorder::start());
    let client = rs::agno_client(&rec.url(), rs::http(Duration::from_secs(5), 1, Duration::from_secs(10)));
    let count = std::cell::Cell::new(0u64);
    runner()
        .run(
            &(segment(), segment(), proptest::option::of(text())),
            |(owner, run_id, session)| {
                count.set(count.get() + 1);
                let mut run = RunRef::new(run_id.clone()).team(owner.clone());
                if let Some(s) = &session {
                    run = run.session(s.clone());
                }
                let (r, _) = rt.block_on(rs::within("cancel", LIMIT, client.cancel(&run)));
                check(r.is_ok(), || format!("{run:?}: {r:?}"))?;
                let reqs = rec.take();
                let post = reqs.iter().find(|q| q.method == "POST");
                let want = vec![
                    "teams".to_owned(),
                    owner.clone(),
                    "runs".to_owned(),
                    run_id.clone(),
                    "cancel".to_owned(),
                ];
                check(post.is_some_and(|q| q.segments == want), || {
                    format!("{run:?} -> {reqs:?}")
                })?;
                let want_q: Vec<(String, String)> =
                    session.iter().map(|s| ("session_id".to_owned(), s.clone())).collect();
                check(reqs.iter().all(|q| q.query == want_q), || {
                    format!("{run:?} -> {reqs:?}")
                })?;
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    rs::assert_no_leaks();
    rs::summary(
        "agno/props/segments-recorder",
        &[("cases", count.get().to_string()), ("mismatches", "0".into())],
    );
}
