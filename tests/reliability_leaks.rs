//! Token leak scan: with recognisable tokens everywhere, no `Debug`, `Display`, error or TRACE
//! output of the library shows them, including when a server echoes the `Authorization` header
//! back in its answer. (Every other reliability file scans its own errors, reports and tracing
//! the same way; the command line is scanned in `crates/wfcancel-cli/tests/reliability_leaks.rs`.)
#![cfg(all(feature = "upstash", feature = "agno"))]

mod reliability_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use reliability_support::{self as rs, AGNO_KEY, UPSTASH_TOKEN};
use wfcancel::HttpConfig;
use wfcancel::upstash::UpstashBuilder;
use wfcancel::{
    AgnoCanceller, BulkOptions, CancelError, RunFilter, RunRef, SecretToken, Selector, UpstashCanceller,
    WorkflowCanceller,
};
use wfcancel_emulator::{AgnoConfig, Faults, UpstashConfig};

const LIMIT: Duration = Duration::from_secs(20);

fn env(name: &str) -> Option<String> {
    match name {
        "WFCANCEL_BACKEND" => None,
        "QSTASH_URL" => Some("http://127.0.0.1:9".into()),
        "QSTASH_TOKEN" | "US_EAST_1_QSTASH_TOKEN" => Some(UPSTASH_TOKEN.into()),
        "US_EAST_1_QSTASH_URL" => Some("http://127.0.0.1:9".into()),
        "AGENTOS_URL" => Some("http://127.0.0.1:9".into()),
        "OS_SECURITY_KEY" => Some(AGNO_KEY.into()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_configured_shows_a_token_in_debug_or_display() {
    rs::capture_tracing();
    let t = SecretToken::new(UPSTASH_TOKEN);
    rs::scan_both("SecretToken", &t);
    assert_eq!(t.expose(), UPSTASH_TOKEN, "the value itself is still there to send");

    let b = UpstashBuilder::from_env_with(env);
    rs::scan_debug("UpstashBuilder::from_env_with", &b);
    let c = b.build().expect("build");
    rs::scan_debug("UpstashCanceller", &c);
    rs::scan_debug("http config", c.http_config());
    let regional = UpstashBuilder::from_env_with(|n| match n {
        "QSTASH_REGION" => Some("us-east-1".into()),
        other => env(other),
    });
    rs::scan_debug("UpstashBuilder regional", &regional);
    rs::scan_debug("UpstashCanceller regional", &regional.build());

    let a = wfcancel::agno::AgnoCancellerBuilder::from_env_with(env);
    rs::scan_debug("AgnoCancellerBuilder", &a);
    let a = a.build().expect("build");
    rs::scan_both("AgnoCanceller", &a);

    for backend in ["upstash", "agno"] {
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
    let sel = Selector::filter(RunFilter::new().label("nightly"));
    for p in c.plan(&sel, &BulkOptions::new().drain(true)).expect("plan") {
        rs::scan_both("PlannedRequest", &p);
    }
    rs::scan_both("plan_cancel", &c.plan_cancel(&RunRef::new("wfr_1")).expect("plan"));
    rs::scan_both(
        "cancel_request",
        &a.cancel_request(&RunRef::new("r").workflow("w").session("s"))
            .expect("plan"),
    );

    // The emulators' own configuration and handles.
    let ucfg = UpstashConfig::default().with_token(UPSTASH_TOKEN);
    rs::scan_debug("UpstashConfig", &ucfg);
    let acfg = AgnoConfig::default().with_security_key(AGNO_KEY);
    rs::scan_debug("AgnoConfig", &acfg);
    let ue = rs::upstash_emulator(Faults::none()).await;
    let ae = rs::agno_emulator(Faults::none()).await;
    rs::scan_debug("UpstashEmulator", &ue);
    rs::scan_debug("AgnoEmulator", &ae);
    rs::scan_debug("emulator stats", &ue.stats());
    ue.shutdown().await;
    ae.shutdown().await;
    rs::assert_no_leaks();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_shows_a_token() {
    rs::capture_tracing();
    let cfg = || rs::http(Duration::from_secs(2), 1, Duration::from_secs(5));
    // A token a header cannot carry, with the canary in it: a configuration error that must
    // not quote it.
    for bad in [
        format!("{UPSTASH_TOKEN}\nx"),
        format!("{UPSTASH_TOKEN}\u{7f}"),
        format!("é{UPSTASH_TOKEN}"),
    ] {
        let r = UpstashCanceller::builder()
            .base_url("http://127.0.0.1:9")
            .token(bad.clone())
            .build();
        rs::scan_debug("bad upstash token", &r);
        if let Err(e) = &r {
            rs::scan("bad upstash token", &e.to_string());
        }
        let r = AgnoCanceller::builder()
            .base_url("http://127.0.0.1:9")
            .security_key(bad)
            .build();
        rs::scan_debug("bad agno key", &r);
        if let Err(e) = &r {
            rs::scan("bad agno key", &e.to_string());
        }
    }
    // Credentials or a token in the base URL: refused without quoting the URL.
    for url in [
        format!("http://user:{UPSTASH_TOKEN}@127.0.0.1:9"),
        format!("http://127.0.0.1:9/?qstash_token={UPSTASH_TOKEN}"),
    ] {
        let r = UpstashCanceller::builder().base_url(&url).token("t0k3n-plain").build();
        assert!(matches!(r, Err(CancelError::Config { .. })), "{url}");
        rs::scan_debug("token in the URL", &r);
        if let Err(e) = &r {
            rs::scan("token in the URL", &e.to_string());
        }
    }

    // Wrong token at the server (401), server down (transport), every status the mapping knows.
    let ue = wfcancel_emulator::UpstashEmulator::start(UpstashConfig::default().with_token("another-token"))
        .await
        .expect("start");
    let ae = wfcancel_emulator::AgnoEmulator::start(AgnoConfig::default().with_security_key("another-key"))
        .await
        .expect("start");
    let up = rs::upstash_client(&ue.url(), cfg());
    let ag = rs::agno_client(&ae.url(), cfg());
    let r = up.cancel(&RunRef::new("wfr_1")).await;
    assert!(matches!(r, Err(CancelError::Unauthenticated { .. })), "{r:?}");
    rs::scan_result("upstash 401", &r);
    let r = up.cancel_many(&Selector::ids(["a", "b"]), &BulkOptions::new()).await;
    rs::scan_result("upstash 401 bulk", &r);
    let r = ag.cancel(&RunRef::new("r").workflow("w")).await;
    assert!(matches!(r, Err(CancelError::Unauthenticated { .. })), "{r:?}");
    rs::scan_result("agno 401", &r);
    ue.shutdown().await;
    ae.shutdown().await;

    for status in [
        400u16, 401, 403, 404, 405, 408, 412, 414, 422, 429, 500, 501, 502, 503, 504,
    ] {
        let emu = rs::upstash_emulator(Faults::none()).await;
        emu.faults().add_scenario(wfcancel_emulator::ScenarioRule::new(
            wfcancel_emulator::Scenario::respond(status, "application/json", r#"{"error":"nope","detail":"nope"}"#),
        ));
        let c = rs::upstash_client(&emu.url(), cfg());
        rs::scan_result("upstash status", &c.cancel(&RunRef::new("x")).await);
        rs::scan_result("upstash status", &c.status(&RunRef::new("x")).await);
        let a = rs::agno_client(&emu.url(), cfg());
        rs::scan_result("agno status", &a.cancel(&RunRef::new("x").team("t")).await);
        emu.shutdown().await;
    }
    rs::assert_no_leaks();
}

/// A loopback server that puts whatever `Authorization` it receives into its answers: in a JSON
/// error, in a plain-text or HTML error page, in a `Retry-After`-less 429, and in a redirect's
/// `Location`. The provider's message ends up in the error: the token must not.
async fn echo_server(status: u16, shape: &'static str) -> (String, tokio::task::JoinHandle<()>) {
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    let app = axum::Router::new().fallback(move |headers: HeaderMap| async move {
        let auth = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match shape {
            "json" => (
                code,
                [(header::CONTENT_TYPE, "application/json".to_owned())],
                serde_json::json!({ "error": format!("rejected header: {auth}"), "detail": format!("rejected header: {auth}") })
                    .to_string(),
            )
                .into_response(),
            "html" => (
                code,
                [(header::CONTENT_TYPE, "text/html".to_owned())],
                format!("<html><head><title>Bad {auth}</title></head><body>{auth}</body></html>"),
            )
                .into_response(),
            "location" => (
                StatusCode::FOUND,
                [(header::LOCATION, format!("http://127.0.0.2:9/{}", auth.replace(' ', "/")))],
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

/// The cases of [`echo_server`], and whether any error showed the token.
async fn echoed_errors() -> Vec<String> {
    let cfg = || rs::http(Duration::from_millis(500), 1, Duration::from_secs(5));
    let mut shown = Vec::new();
    for (status, shape) in [
        (400u16, "json"),
        (401, "json"),
        (403, "text"),
        (422, "json"),
        (429, "text"),
        (500, "json"),
        (502, "html"),
        (503, "text"),
        (302, "location"),
    ] {
        let (url, task) = echo_server(status, shape).await;
        let up: &dyn WorkflowCanceller = &rs::upstash_client(&url, cfg());
        let ag: &dyn WorkflowCanceller = &rs::agno_client(&url, cfg());
        for (name, c, run) in [
            ("upstash", up, RunRef::new("wfr_1")),
            ("agno", ag, RunRef::new("r1").workflow("w").session("s")),
        ] {
            let (r, _) = rs::within("echo", LIMIT, c.cancel(&run)).await;
            let (s, _) = rs::within("echo", LIMIT, c.status(&run)).await;
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
    shown
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_echoes_the_token_cannot_make_an_error_show_it() {
    rs::capture_tracing();
    let shown = echoed_errors().await;
    assert!(
        shown.is_empty(),
        "{} error(s) showed the token:\n{}",
        shown.len(),
        shown.join("\n")
    );
    rs::summary(
        "both/leaks/echoing-server",
        &[
            ("cases", "9 answers x 2 backends x cancel+status".into()),
            ("leaks", shown.len().to_string()),
        ],
    );
    rs::assert_no_leaks();
}

/// The leak figures of this process so far (the last test to finish prints the most).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zz_leak_figures() {
    rs::capture_tracing();
    let _ = HttpConfig::default();
    let (texts, lines, bytes, leaks) = rs::leak_figures();
    rs::summary(
        "leak-scan/root-process",
        &[
            ("texts", texts.to_string()),
            ("trace_lines", lines.to_string()),
            ("trace_bytes", bytes.to_string()),
            ("leaks", leaks.to_string()),
        ],
    );
    rs::assert_no_leaks();
}
