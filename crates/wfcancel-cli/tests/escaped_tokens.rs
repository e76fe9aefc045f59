//! A server (or a proxy) that echoes the token back in an escaped form — JSON-escaped `\/`,
//! `\u`-escaped, percent-encoded — never makes the token show: not in `Display`, `Debug`,
//! tracing output, nor in the command's output, text or `--json`, for every backend. (Issue:
//! the scrub looked at raw bytes only, for the raw form only.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use mockito::{Matcher, Server};
use wfcancel::{AgnoCanceller, RunRef, UpstashCanceller, WorkflowCanceller};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");

/// A long token with characters that escape, and a short one (masked where it stands alone).
const TOKENS: [&str; 2] = ["tok/abc+x=Q7z9", "s/k+="];

/// Every spelling of `t` a server may echo: raw, JSON `\/`, all `\u`, percent (upper and lower).
fn spellings(t: &str) -> Vec<String> {
    let json_slash = t.replace('/', "\\/");
    let unicode: String = t.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
    let pct_upper: String = t.bytes().map(|b| format!("%{b:02X}")).collect();
    let pct_lower: String = t.bytes().map(|b| format!("%{b:02x}")).collect();
    let form: String = url::form_urlencoded::byte_serialize(t.as_bytes()).collect();
    vec![t.to_owned(), json_slash, unicode, pct_upper, pct_lower, form]
}

fn bodies(t: &str) -> Vec<String> {
    spellings(t)
        .into_iter()
        .map(|s| format!(r#"{{"error":"invalid token: Bearer {s}","detail":"invalid token: Bearer {s}"}}"#))
        .collect()
}

/// No spelling of `t` (nor the token decoded) in `text`.
fn assert_clean(t: &str, text: &str, what: &str) {
    for s in spellings(t) {
        assert!(!text.contains(&s), "{what} shows the token as {s:?}:\n{text}");
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_spelling_of_the_token_reaches_the_user() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let mut checked = 0;
    for token in TOKENS {
        for body in bodies(token) {
            let mut server = Server::new_async().await;
            let mut mocks = Vec::new();
            for method in ["DELETE", "POST", "GET"] {
                mocks.push(
                    server
                        .mock(method, Matcher::Any)
                        .with_status(401)
                        .with_header("content-type", "application/json")
                        .with_header("www-authenticate", &format!("Bearer {}", spellings(token)[1]))
                        .with_body(&body)
                        .create_async()
                        .await,
                );
            }
            let upstash = UpstashCanceller::builder()
                .token(token)
                .base_url(server.url())
                .build()
                .unwrap();
            let agno = AgnoCanceller::builder()
                .base_url(server.url())
                .security_key(token)
                .build()
                .unwrap();
            let cancellers: [(&dyn WorkflowCanceller, &str, RunRef); 2] = [
                (&upstash, "upstash", RunRef::new("wfr_1")),
                (&agno, "agno", RunRef::new("run-1").workflow("wf")),
            ];
            for (c, name, run) in cancellers {
                let err = c.cancel(&run).await.unwrap_err();
                assert!(
                    err.to_string().contains("***"),
                    "{name}: the echo is masked, not dropped: {err}"
                );
                assert_clean(token, &err.to_string(), &format!("{name} Display"));
                assert_clean(token, &format!("{err:?}"), &format!("{name} Debug"));
                tracing::error!(error = %err, debug = ?err, "a failed cancel");
                // The command, text and JSON.
                let env: Vec<(&str, String)> = match name {
                    "upstash" => vec![("QSTASH_URL", server.url()), ("QSTASH_TOKEN", token.to_owned())],
                    _ => vec![("AGENTOS_URL", server.url()), ("OS_SECURITY_KEY", token.to_owned())],
                };
                for json in [false, true] {
                    let mut cmd = tokio::process::Command::new(BIN);
                    cmd.env_clear().env("WFCANCEL_BACKEND", name).env("RUST_LOG", "trace");
                    for (k, v) in &env {
                        cmd.env(k, v);
                    }
                    if json {
                        cmd.arg("--json");
                    }
                    cmd.args(["-vv", "cancel", run.run_id()]);
                    if name == "agno" {
                        cmd.args(["--workflow", "wf"]);
                    }
                    let out = cmd.output().await.unwrap();
                    assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
                    let all = format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    assert!(all.contains("***"), "{name}: {all}");
                    assert_clean(token, &all, &format!("wfcancel {name} (json: {json})"));
                    checked += 1;
                }
            }
        }
    }
    let logged = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logged.contains("a failed cancel"));
    for token in TOKENS {
        assert_clean(token, &logged, "tracing output");
    }
    assert_eq!(checked, 2 * 6 * 2 * 2);
}

/// `-v` logs one line per request (method, URL, status, attempt, elapsed), `-vv` the retries
/// and their waits too (issue: `-v` logged nothing of the requests).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_logs_one_line_per_request_and_vv_the_retries() {
    let mut server = Server::new_async().await;
    let _busy = server
        .mock("DELETE", "/v2/workflows/runs/wfr_v")
        .with_status(503)
        .with_body("busy")
        .create_async()
        .await;
    let run = |flag: &'static str| {
        let url = server.url();
        async move {
            let out = tokio::process::Command::new(BIN)
                .env_clear()
                .env("WFCANCEL_BACKEND", "upstash")
                .env("QSTASH_URL", url)
                .env("QSTASH_TOKEN", "tok-verbose-123")
                .args([flag, "--retries", "2", "cancel", "wfr_v"])
                .output()
                .await
                .unwrap();
            String::from_utf8_lossy(&out.stderr).into_owned()
        }
    };
    let v = run("-v").await;
    let url = format!("{}/v2/workflows/runs/wfr_v", server.url());
    let lines: Vec<&str> = v.lines().filter(|l| l.contains(&url)).collect();
    assert_eq!(
        lines.len(),
        3,
        "one line per request (--retries 2: three attempts):\n{v}"
    );
    assert!(lines[0].contains(&format!("DELETE {url} -> 503 (attempt 1,")), "{v}");
    assert!(lines[2].contains("(attempt 3,") && lines[2].contains(" ms)"), "{v}");
    assert!(!v.contains("retrying in"), "-v does not show the retries:\n{v}");
    let vv = run("-vv").await;
    assert!(
        vv.contains("retrying in"),
        "-vv shows the retries and their waits:\n{vv}"
    );
    assert!(!v.contains("tok-verbose-123") && !vv.contains("tok-verbose-123"));
}
