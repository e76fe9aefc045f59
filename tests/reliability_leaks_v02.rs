//! Token leak scan for the 0.2 backends (Temporal, Restate, LangGraph), as
//! `reliability_leaks.rs` does for Upstash and Agno: with recognisable tokens everywhere, no
//! `Debug`, `Display`, error or TRACE output of the library shows them, including when a server
//! echoes the credential header back (raw, JSON-escaped, percent-encoded, in a redirect's
//! `Location`), and for every status a server may answer.
#![cfg(all(feature = "temporal", feature = "restate", feature = "langgraph"))]

mod reliability_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use reliability_support::{self as rs, LANGGRAPH_KEY, RESTATE_TOKEN, TEMPORAL_KEY};
use wfcancel::{
    BulkOptions, CancelError, CancelOptions, LangGraphCanceller, RestateCanceller, RunFilter, RunRef, Selector,
    TemporalCanceller, WorkflowCanceller,
};
use wfcancel_emulator::{FaultProxy, ProxyConfig, ProxyFlavor, Scenario, ScenarioRule};

const LIMIT: Duration = Duration::from_secs(20);
const RESTATE_INV: &str = "inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O";
const LG_THREAD: &str = "1ef4a9b0-0000-6000-8000-000000000001";
const LG_RUN: &str = "1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b";

fn env(name: &str) -> Option<String> {
    match name {
        "TEMPORAL_HTTP_ADDRESS" | "RESTATE_ADMIN_URL" | "LANGGRAPH_API_URL" => Some("http://127.0.0.1:9".into()),
        "TEMPORAL_API_KEY" => Some(TEMPORAL_KEY.into()),
        "RESTATE_AUTH_TOKEN" => Some(RESTATE_TOKEN.into()),
        "LANGGRAPH_API_KEY" | "LANGSMITH_API_KEY" => Some(LANGGRAPH_KEY.into()),
        _ => None,
    }
}

/// The three clients for `url` with the suite's tokens, each with a run it can address.
fn clients(url: &str, cfg: wfcancel::HttpConfig) -> Vec<(&'static str, Box<dyn WorkflowCanceller>, RunRef)> {
    vec![
        (
            "temporal",
            Box::new(rs::temporal_client(url, cfg.clone())) as Box<dyn WorkflowCanceller>,
            RunRef::new("wf-1"),
        ),
        (
            "restate",
            Box::new(rs::restate_client(url, cfg.clone())),
            RunRef::new(RESTATE_INV),
        ),
        (
            "langgraph",
            Box::new(rs::langgraph_client(url, cfg)),
            RunRef::new(LG_RUN).thread(LG_THREAD),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_configured_shows_a_token_in_debug_or_display() {
    rs::capture_tracing();
    let t = wfcancel::temporal::TemporalCancellerBuilder::from_env_with(env);
    rs::scan_debug("TemporalCancellerBuilder", &t);
    let t = t.build().expect("build");
    rs::scan_both("TemporalCanceller", &t);
    let r = wfcancel::restate::RestateCancellerBuilder::from_env_with(env);
    rs::scan_debug("RestateCancellerBuilder", &r);
    let r = r.build().expect("build");
    rs::scan_both("RestateCanceller", &r);
    let l = wfcancel::langgraph::LangGraphCancellerBuilder::from_env_with(env);
    rs::scan_debug("LangGraphCancellerBuilder", &l);
    let l = l.build().expect("build");
    rs::scan_both("LangGraphCanceller", &l);

    for backend in ["temporal", "restate", "langgraph"] {
        let boxed = wfcancel::from_env_with(|n| match n {
            "WFCANCEL_BACKEND" => Some(backend.into()),
            other => env(other),
        });
        rs::scan_debug("from_env_with", &boxed);
        let boxed = boxed.expect("build");
        rs::scan_debug("Box<dyn WorkflowCanceller>", &boxed);
        rs::scan_debug("capabilities", &boxed.capabilities());
    }

    // Plans (what --dry-run prints) never hold the token.
    let g = CancelOptions::default();
    rs::scan_both(
        "temporal describe",
        &t.describe_request(&RunRef::new("wf-1")).expect("plan"),
    );
    rs::scan_both(
        "temporal cancel",
        &t.cancel_request(&RunRef::new("wf-1"), &g).expect("plan"),
    );
    rs::scan_both(
        "temporal batch",
        &t.batch_request(&Selector::filter(RunFilter::new().workflow("Wf")), &g)
            .expect("plan"),
    );
    rs::scan_both(
        "restate cancel",
        &r.cancel_request(&RunRef::new(RESTATE_INV), &g).expect("plan"),
    );
    rs::scan_both(
        "restate status",
        &r.status_request(&RunRef::new(RESTATE_INV)).expect("plan"),
    );
    rs::scan_both(
        "restate bulk",
        &r.bulk_request(&Selector::filter(RunFilter::new().workflow("Svc")), 100)
            .expect("plan"),
    );
    let lg_run = RunRef::new(LG_RUN).thread(LG_THREAD);
    rs::scan_both("langgraph cancel", &l.cancel_request(&lg_run).expect("plan"));
    rs::scan_both("langgraph status", &l.status_request(&lg_run).expect("plan"));
    for p in l.plan(&Selector::Ids(vec![lg_run])).expect("plan") {
        rs::scan_both("langgraph plan", &p);
    }
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_shows_a_token() {
    rs::capture_tracing();
    let cfg = || rs::http(Duration::from_secs(2), 1, Duration::from_secs(5));
    // A token a header cannot carry, with the canary in it: a configuration error that must not
    // quote it.
    for (key, canary) in [(TEMPORAL_KEY, "t"), (RESTATE_TOKEN, "r"), (LANGGRAPH_KEY, "l")] {
        for bad in [format!("{key}\nx"), format!("{key}\u{7f}"), format!("é{key}")] {
            let e = match canary {
                "t" => TemporalCanceller::builder()
                    .base_url("http://127.0.0.1:9")
                    .api_key(bad)
                    .build()
                    .map(|_| ()),
                "r" => RestateCanceller::builder()
                    .admin_url("http://127.0.0.1:9")
                    .auth_token(bad)
                    .build()
                    .map(|_| ()),
                _ => LangGraphCanceller::builder()
                    .base_url("http://127.0.0.1:9")
                    .api_key(bad)
                    .build()
                    .map(|_| ()),
            };
            rs::scan_result("bad token", &e);
        }
    }
    // Credentials in the base URL: refused without quoting the URL.
    let url = format!("http://user:{TEMPORAL_KEY}@127.0.0.1:9");
    for r in [
        TemporalCanceller::builder().base_url(&url).build().map(|_| ()),
        RestateCanceller::builder().admin_url(&url).build().map(|_| ()),
        LangGraphCanceller::builder().base_url(&url).build().map(|_| ()),
    ] {
        assert!(matches!(r, Err(CancelError::Config { .. })), "{r:?}");
        rs::scan_result("token in the URL", &r);
    }

    // Every status the mappings know, through a proxy whose scenario answers it (and
    // something unreachable behind it).
    let mut answered = 0;
    for status in [
        400u16, 401, 403, 404, 405, 408, 409, 412, 414, 422, 429, 500, 501, 502, 503, 504,
    ] {
        let proxy = FaultProxy::start(ProxyConfig::new("http://127.0.0.1:9", ProxyFlavor::Temporal))
            .await
            .expect("proxy");
        proxy.faults().add_scenario(ScenarioRule::new(Scenario::respond(
            status,
            "application/json",
            r#"{"code":3,"message":"nope","detail":"nope"}"#,
        )));
        for (name, c, run) in clients(&proxy.url(), cfg()) {
            let (r, _) = rs::within(name, LIMIT, c.cancel(&run)).await;
            rs::scan_result(name, &r);
            let (s, _) = rs::within(name, LIMIT, c.status(&run)).await;
            rs::scan_result(name, &s);
            let (b, _) = rs::within(
                name,
                LIMIT,
                c.cancel_many(&Selector::Ids(vec![run.clone()]), &BulkOptions::new()),
            )
            .await;
            rs::scan_result(name, &b);
            answered += 3;
        }
        proxy.shutdown().await;
    }
    rs::summary(
        "temporal+restate+langgraph/leaks/statuses",
        &[
            ("statuses", "16".into()),
            ("calls", answered.to_string()),
            ("leaks", rs::leak_figures().3.to_string()),
        ],
    );
    rs::assert_no_leaks();
}

/// A loopback server that puts whatever credential it receives (`Authorization`, or LangGraph's
/// `x-api-key`) into its answers: in a JSON error (raw, and `\u`-escaped), a plain-text or HTML
/// error page, percent-encoded, and in a redirect's `Location`.
async fn echo_server(status: u16, shape: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(move |headers: HeaderMap| async move {
        let auth = headers
            .get(header::AUTHORIZATION)
            .or_else(|| headers.get("x-api-key"))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let said = format!("rejected credential: {auth}");
        match shape {
            "json" => (
                code,
                [(header::CONTENT_TYPE, "application/json".to_owned())],
                serde_json::json!({ "code": 16, "message": said, "detail": said }).to_string(),
            )
                .into_response(),
            "json-u" => {
                let escaped: String = said.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
                (
                    code,
                    [(header::CONTENT_TYPE, "application/json".to_owned())],
                    format!(r#"{{"code":16,"message":"{escaped}","detail":"{escaped}"}}"#),
                )
                    .into_response()
            }
            "percent" => {
                let enc: String = said.bytes().map(|b| format!("%{b:02X}")).collect();
                (code, format!("you sent {enc}")).into_response()
            }
            "html" => (
                code,
                [(header::CONTENT_TYPE, "text/html".to_owned())],
                format!("<html><head><title>Bad {auth}</title></head><body>{auth}</body></html>"),
            )
                .into_response(),
            "location" => (
                StatusCode::FOUND,
                [(
                    header::LOCATION,
                    format!("http://127.0.0.2:9/{}", auth.replace(' ', "/")),
                )],
                String::new(),
            )
                .into_response(),
            _ => (code, format!("you sent {auth}")).into_response(),
        }
    });
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_echoes_the_token_cannot_make_an_error_show_it() {
    rs::capture_tracing();
    let cfg = || rs::http(Duration::from_millis(500), 1, Duration::from_secs(5));
    let cases = [
        (400u16, "json"),
        (401, "json"),
        (401, "json-u"),
        (403, "text"),
        (404, "percent"),
        (409, "json"),
        (422, "json-u"),
        (429, "text"),
        (500, "json"),
        (502, "html"),
        (503, "percent"),
        (200, "json"),
        (200, "json-u"),
        (302, "location"),
    ];
    let mut shown = Vec::new();
    let mut calls = 0;
    for (status, shape) in cases {
        let (url, task) = echo_server(status, shape).await;
        for (name, c, run) in clients(&url, cfg()) {
            let (r, _) = rs::within("echo", LIMIT, c.cancel(&run)).await;
            let (s, _) = rs::within("echo", LIMIT, c.status(&run)).await;
            rs::scan_result("echo cancel", &r);
            rs::scan_result("echo status", &s);
            calls += 2;
            for text in [format!("{r:?}"), format!("{s:?}")]
                .into_iter()
                .chain(r.err().map(|e| e.to_string()))
                .chain(s.err().map(|e| e.to_string()))
            {
                if rs::CANARIES.iter().any(|k| text.contains(k)) {
                    shown.push(format!("{name} {status} {shape}: {text}"));
                }
            }
        }
        task.abort();
    }
    assert!(
        shown.is_empty(),
        "{} error(s) showed the token:\n{}",
        shown.len(),
        shown.join("\n")
    );
    rs::summary(
        "temporal+restate+langgraph/leaks/echoing-server",
        &[
            ("cases", format!("{} answers x 3 backends x cancel+status", cases.len())),
            ("calls", calls.to_string()),
            ("leaks", shown.len().to_string()),
        ],
    );
    rs::assert_no_leaks();
}

/// The leak figures of this process so far (the last test to finish prints the most).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zz_leak_figures() {
    rs::capture_tracing();
    let (texts, lines, bytes, leaks) = rs::leak_figures();
    rs::summary(
        "leak-scan/v02-process",
        &[
            ("texts", texts.to_string()),
            ("trace_lines", lines.to_string()),
            ("trace_bytes", bytes.to_string()),
            ("leaks", leaks.to_string()),
        ],
    );
    rs::assert_no_leaks();
}
