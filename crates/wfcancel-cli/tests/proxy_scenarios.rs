//! `wfcancel emulate proxy --scenario SPEC`: canned misbehaviours in front of an emulator, each
//! checked with a plain HTTP client; and the point of `echo-token`: a server echoing the token
//! back in every spelling never makes `wfcancel` print it, in text, `-vv` or `-o json`.
#![cfg(feature = "emulator")]

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use wfcancel_emulator::{UpstashConfig, UpstashEmulator, UpstashRun};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");
const LIMIT: Duration = Duration::from_secs(60);

/// The token the echoing proxy sends back: characters that escape in JSON, `\u` and percent forms.
const TOKEN: &str = "tok/abc+x=";

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.kill_on_drop(true);
    cmd
}

async fn run(args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = command(args, env);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn wfcancel");
    let output = tokio::time::timeout(LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("wfcancel {args:?} did not finish within {LIMIT:?}"))
        .expect("wait for wfcancel");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Starts `wfcancel emulate …` and reads its first `lines` lines of stdout.
async fn start_emulate(args: &[&str], lines: usize) -> (tokio::process::Child, Vec<String>) {
    let mut cmd = command(args, &[]);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn wfcancel emulate");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = BufReader::new(stdout).lines();
    let mut got = Vec::new();
    while got.len() < lines {
        match tokio::time::timeout(Duration::from_secs(20), reader.next_line()).await {
            Ok(Ok(Some(l))) => got.push(l),
            other => panic!("emulate printed {got:?} then {other:?}"),
        }
    }
    (child, got)
}

async fn terminate(mut child: tokio::process::Child) -> i32 {
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("stops on SIGTERM")
        .expect("wait");
    status.code().unwrap_or(-1)
}

/// A `--json` proxy to `upstream` with these `--scenario`s: the child and the proxy's URL.
async fn json_proxy(upstream: &str, scenarios: &[&str]) -> (tokio::process::Child, String, Value) {
    let mut args = vec![
        "--json",
        "emulate",
        "proxy",
        "--upstream",
        upstream,
        "--flavor",
        "upstash",
    ];
    for s in scenarios {
        args.extend(["--scenario", s]);
    }
    let (child, lines) = start_emulate(&args, 1).await;
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["type"], "emulator", "{v}");
    let url = v["url"].as_str().unwrap().to_owned();
    (child, url, v)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn upstash() -> UpstashEmulator {
    UpstashEmulator::start(UpstashConfig::default().with_token("up-tok"))
        .await
        .expect("upstash emulator")
}

/// Two running runs (`seed_random` leaves some finished).
fn seed(emu: &UpstashEmulator) -> Vec<String> {
    let ids = vec!["wfr_scen_1".to_owned(), "wfr_scen_2".to_owned()];
    for id in &ids {
        emu.seed(UpstashRun::new(id.as_str(), "https://app.example.com/api/wf"));
    }
    ids
}

/// Every spelling of `t` the echoing proxy sends, and more a server might: raw, JSON `\/`, `\u`
/// for every character but letters and digits (upper and lower hex), `\u` for every character,
/// percent-encoded (upper and lower), form-encoded; and the fragments around the first `/`.
fn spellings(t: &str) -> Vec<String> {
    let json_slash = t.replace('/', "\\/");
    let some_u = |upper: bool| -> String {
        t.chars()
            .map(|c| match (c.is_ascii_alphanumeric(), upper) {
                (true, _) => c.to_string(),
                (false, true) => format!("\\u{:04X}", c as u32),
                (false, false) => format!("\\u{:04x}", c as u32),
            })
            .collect()
    };
    let all_u: String = t.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
    let pct_upper: String = t
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let pct_lower = pct_upper
        .replace("%2F", "%2f")
        .replace("%2B", "%2b")
        .replace("%3D", "%3d");
    let pct_all: String = t.bytes().map(|b| format!("%{b:02X}")).collect();
    let form: String = url::form_urlencoded::byte_serialize(t.as_bytes()).collect();
    let mut v = vec![
        t.to_owned(),
        json_slash,
        some_u(true),
        some_u(false),
        all_u,
        pct_upper,
        pct_lower,
        pct_all,
        form,
    ];
    // The part of the token around its first escaped character, in each form.
    v.extend(
        [
            "tok/abc",
            "tok\\/abc",
            "tok\\u002Fabc",
            "tok\\u002fabc",
            "tok%2Fabc",
            "tok%2fabc",
        ]
        .into_iter()
        .map(str::to_owned),
    );
    v
}

fn assert_clean(text: &str, what: &str) {
    for s in spellings(TOKEN) {
        assert!(!text.contains(&s), "{what} shows the token as {s:?}:\n{text}");
    }
}

/// Each scenario answers in place of the upstream, in the order given; the startup record lists them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_scenario_answers_in_place_of_the_upstream() {
    let emu = upstash().await;
    let ids = seed(&emu);
    let (child, url, record) = json_proxy(
        &emu.url(),
        &[
            "not-json,path=/v2/workflows/runs",
            "html=503,times=1,method=DELETE",
            "redirect,prefix=/old",
            "redirect=http://127.0.0.1:1/moved,prefix=/moved",
            "echo-token,prefix=/echo",
        ],
    )
    .await;
    assert_eq!(
        record["scenarios"],
        serde_json::json!([
            "not-json,path=/v2/workflows/runs",
            "html=503,times=1,method=DELETE",
            "redirect,prefix=/old",
            "redirect=http://127.0.0.1:1/moved,prefix=/moved",
            "echo-token,prefix=/echo"
        ]),
        "{record}"
    );
    assert!(
        record["faults"]
            .as_str()
            .unwrap()
            .contains("scenarios (first match wins)"),
        "{record}"
    );
    let c = client();

    // not-json: 200 whose body is not JSON, on that path only.
    let resp = c
        .get(format!("{url}/v2/workflows/runs"))
        .bearer_auth("up-tok")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let body = resp.text().await.unwrap();
    assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");

    // html=503,times=1: one HTML 503 that never reaches the upstream, then the upstream's answers.
    let cancel = |id: String| {
        c.delete(format!("{url}/v2/workflows/runs/{id}"))
            .bearer_auth("up-tok")
            .send()
    };
    let resp = cancel(ids[0].clone()).await.unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"),
        "{:?}",
        resp.headers()
    );
    assert!(resp.text().await.unwrap().contains("<html>"));
    assert_eq!(emu.cancelled(), 0);
    let resp = cancel(ids[0].clone()).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{:?}", resp.text().await);
    assert_eq!(emu.cancelled(), 1);
    let resp = cancel(ids[1].clone()).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(emu.cancelled(), 2);

    // redirect: 302 to the default location, or the given one.
    let resp = c.get(format!("{url}/old/path")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(resp.headers()["location"], "http://elsewhere.invalid/");
    let resp = c.get(format!("{url}/moved")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    assert_eq!(resp.headers()["location"], "http://127.0.0.1:1/moved");

    // echo-token: 401, the token in every spelling, and raw in x-echo.
    let resp = c
        .get(format!("{url}/echo"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(resp.headers()["x-echo"], "Bearer tok/abc+x=");
    let body = resp.text().await.unwrap();
    for s in [
        "tok/abc+x=",
        "tok\\/abc+x=",
        "tok\\u002Fabc\\u002Bx\\u003D",
        "tok%2Fabc%2Bx%3D",
    ] {
        assert!(body.contains(s), "{s:?} in {body}");
    }
    assert_eq!(terminate(child).await, 0);
    emu.shutdown().await;
}

/// The text startup line names the scenarios.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_startup_line_names_the_scenarios() {
    let emu = upstash().await;
    let upstream = emu.url();
    let (child, lines) = start_emulate(
        &[
            "emulate",
            "proxy",
            "--upstream",
            &upstream,
            "--flavor",
            "upstash",
            "--scenario",
            "echo-token=403,method=DELETE",
            "--scenario",
            "trickle=5ms,times=2",
        ],
        1,
    )
    .await;
    assert!(lines[0].starts_with("# fault proxy on "), "{}", lines[0]);
    assert!(
        lines[0].contains("scenarios (first match wins): echo-token=403,method=DELETE | trickle=5ms,times=2"),
        "{}",
        lines[0]
    );
    assert_eq!(terminate(child).await, 0);
}

/// The point of `echo-token`: a server that echoes the token back in every spelling (raw, `\/`,
/// `\u`, percent-encoded, and raw in a header) never makes wfcancel print it, in any output mode.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_echoing_proxy_never_makes_the_token_show() {
    let emu = upstash().await;
    let ids = seed(&emu);
    let (child, url, _) = json_proxy(&emu.url(), &["echo-token"]).await;
    // The proxy does echo it (so a clean output below means scrubbed, not never sent).
    let resp = client()
        .delete(format!("{url}/v2/workflows/runs/{}", ids[0]))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.text().await.unwrap().contains("tok\\/abc"));

    let env = [("QSTASH_TOKEN", TOKEN)];
    let base = ["--backend", "upstash", "--url", url.as_str()];
    for extra in [
        &[][..],
        &["-v"][..],
        &["-vv"][..],
        &["-o", "json"][..],
        &["-vv", "-o", "json"][..],
    ] {
        for cmd in [&["cancel", ids[0].as_str()][..], &["status", ids[0].as_str()][..]] {
            let args: Vec<&str> = base.iter().chain(extra).chain(cmd).copied().collect();
            let out = run(&args, &env).await;
            assert_ne!(out.code, 0, "{args:?}\n{}\n{}", out.stdout, out.stderr);
            assert_ne!(out.code, 2, "not a usage error: {args:?}\n{}", out.stderr);
            let all = format!("{}\n{}", out.stdout, out.stderr);
            assert_clean(&all, &format!("wfcancel {args:?}"));
            if extra.contains(&"json") {
                for l in out.stdout.lines() {
                    serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}"));
                }
            }
        }
    }
    assert_eq!(emu.cancelled(), 0, "every request was answered by the proxy");
    assert_eq!(terminate(child).await, 0);
    emu.shutdown().await;
}

/// `--scenario` goes with `emulate proxy` only, and a bad spec is a usage error (exit 2, the flag
/// named) before anything starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_scenarios_are_refused_before_the_proxy_starts() {
    let proxy = [
        "emulate",
        "proxy",
        "--upstream",
        "http://127.0.0.1:9",
        "--flavor",
        "upstash",
        "--scenario",
    ];
    let with = |spec: &'static str| -> Vec<&'static str> { proxy.iter().copied().chain([spec]).collect() };
    for (args, needles) in [
        (
            vec!["emulate", "upstash", "--scenario", "hang"],
            &["--scenario goes with emulate proxy only"][..],
        ),
        (
            with("teapot"),
            &[
                "--scenario",
                "unknown scenario \"teapot\"",
                "hang, drop, drop-after",
                "echo-token",
            ][..],
        ),
        (with("html=700"), &["--scenario", "from 200 to 599"][..]),
        (with("drop,times=0"), &["--scenario", "at least 1"][..]),
        (
            with("not-json,colour=red"),
            &["--scenario", "unknown key \"colour\""][..],
        ),
        (with("trickle=soon"), &["--scenario", "trickle=\"soon\""][..]),
    ] {
        let out = run(&args, &[]).await;
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        for n in needles {
            assert!(out.stderr.contains(n), "{args:?}: {n:?} in {}", out.stderr);
        }
        assert!(out.stdout.is_empty(), "{args:?}: {}", out.stdout);
    }
}
