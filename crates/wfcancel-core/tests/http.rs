//! The shared HTTP plumbing against mockito servers: retries, hints, deadlines, redirects,
//! body cap, encoding, the refusal of plain http, and secrets that never show.
#![cfg(feature = "http")]

use std::time::{Duration, Instant, SystemTime};

use wfcancel_core::http::{
    HeaderValue, HttpClient, HttpConfig, Method, RetryDecision, USER_AGENT_VALUE, parse_retry_after, readable_body,
};
use wfcancel_core::{CancelError, ErrorKind, RetryPolicy, SecretToken};

const TOKEN: &str = "tok-SECRET-4f1c9e";

fn fast_retry() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(4)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(50))
        .total_deadline(Duration::from_secs(10))
}

fn client(server: &mockito::ServerGuard, config: HttpConfig) -> HttpClient {
    HttpClient::new("test", &server.url(), Some(&SecretToken::new(TOKEN)), config).unwrap()
}

#[tokio::test]
async fn retries_503_then_succeeds_with_headers_and_no_body() {
    let mut server = mockito::Server::new_async().await;
    let fail = server
        .mock("DELETE", "/v2/x")
        .with_status(503)
        .with_body("busy")
        .expect(1)
        .create_async()
        .await;
    let c = client(&server, HttpConfig::default().retry(fast_retry()));
    let url = c.endpoint(&[("p", "v2"), ("p", "x")]).unwrap();
    let fut = c.send("op", Method::DELETE, url);
    // The 503 mock answers first; after it is used up, the 200 mock takes over.
    let ok = server
        .mock("DELETE", "/v2/x")
        .match_header("authorization", format!("Bearer {TOKEN}").as_str())
        .match_header("user-agent", USER_AGENT_VALUE)
        .match_body("")
        .with_status(200)
        .with_body("OK")
        .expect(1)
        .create_async()
        .await;
    let resp = fut.await.unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(&resp.body[..], b"OK");
    assert_eq!(resp.attempts, 2);
    fail.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn honours_retry_after_seconds_on_429() {
    let mut server = mockito::Server::new_async().await;
    let limited = server
        .mock("GET", "/r")
        .with_status(429)
        .with_header("retry-after", "1")
        .expect(1)
        .create_async()
        .await;
    let c = client(&server, HttpConfig::default().retry(fast_retry()));
    let url = c.endpoint(&[("p", "r")]).unwrap();
    let started = Instant::now();
    let fut = c.send("op", Method::GET, url);
    let ok = server.mock("GET", "/r").with_status(200).expect(1).create_async().await;
    let resp = fut.await.unwrap();
    assert_eq!(resp.status, 200);
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        started.elapsed()
    );
    limited.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test]
async fn backend_hint_overrides_and_never_stops_retries() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("POST", "/c")
        .with_status(500)
        .with_body("Failed to cancel run")
        .expect(1)
        .create_async()
        .await;
    let c = client(&server, HttpConfig::default().retry(fast_retry()));
    let url = c.endpoint(&[("p", "c")]).unwrap();
    let resp = c
        .send_with("op", Method::POST, url, &|_| RetryDecision::Never)
        .await
        .unwrap();
    assert_eq!(resp.status, 500);
    assert_eq!(resp.attempts, 1);
    m.assert_async().await;
}

#[tokio::test]
async fn deadline_cuts_retries_short() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("GET", "/slow")
        .with_status(503)
        .expect_at_least(1)
        .create_async()
        .await;
    let policy = RetryPolicy::default()
        .max_attempts(100)
        .jitter(false)
        .initial_backoff(Duration::from_millis(200))
        .max_backoff(Duration::from_millis(200))
        .total_deadline(Duration::from_millis(700));
    let c = client(&server, HttpConfig::default().retry(policy));
    let url = c.endpoint(&[("p", "slow")]).unwrap();
    let started = Instant::now();
    let resp = c.send("op", Method::GET, url).await.unwrap();
    let elapsed = started.elapsed();
    assert_eq!(resp.status, 503, "the last answer comes back for the backend to map");
    assert!(resp.attempts >= 2 && resp.attempts <= 4, "attempts {}", resp.attempts);
    // The attempt count above is the exact check; the clock only has to show that nothing
    // slept a further backoff past the 700 ms deadline (with slack for a loaded machine).
    assert!(
        elapsed < Duration::from_millis(950),
        "slept past the deadline: {elapsed:?}"
    );
    m.assert_async().await;

    // A Retry-After longer than the deadline is not slept at all.
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("GET", "/slow")
        .with_status(429)
        .with_header("retry-after", "30")
        .expect(1)
        .create_async()
        .await;
    let c = client(&server, HttpConfig::default().retry(policy));
    let started = Instant::now();
    let resp = c
        .send("op", Method::GET, c.endpoint(&[("p", "slow")]).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status, 429);
    assert!(started.elapsed() < Duration::from_secs(2));
    m.assert_async().await;
}

#[tokio::test]
async fn transport_errors_are_retried_then_reported() {
    // Nothing listens on this port (bound, then dropped).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = HttpClient::new(
        "test",
        &format!("http://127.0.0.1:{port}"),
        Some(&SecretToken::new(TOKEN)),
        HttpConfig::default().retry(fast_retry().max_attempts(3)),
    )
    .unwrap();
    let err = c
        .send("op", Method::GET, c.endpoint(&[("p", "x")]).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
    assert!(err.is_retryable());
    assert!(!format!("{err} {err:?}").contains(TOKEN));
}

#[tokio::test]
async fn request_timeout_gives_timeout_error() {
    // A listener that accepts and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let c = HttpClient::new(
        "test",
        &format!("http://{addr}"),
        None,
        HttpConfig::default()
            .request_timeout(Duration::from_millis(300))
            .retry(RetryPolicy::none()),
    )
    .unwrap();
    let started = Instant::now();
    let err = c
        .send("op", Method::GET, c.endpoint(&[("p", "x")]).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    hold.abort();
}

#[tokio::test]
async fn redirect_is_not_followed_and_token_never_reaches_the_other_host() {
    let mut other = mockito::Server::new_async().await;
    let stolen = other.mock("GET", mockito::Matcher::Any).expect(0).create_async().await;
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("GET", "/r")
        .with_status(302)
        .with_header("location", &format!("{}/steal?x=1", other.url()))
        .expect(1)
        .create_async()
        .await;
    let c = client(&server, HttpConfig::default().retry(fast_retry()));
    let err = c
        .send("op", Method::GET, c.endpoint(&[("p", "r")]).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Provider);
    assert_eq!(err.status(), Some(302));
    assert!(err.to_string().contains("redirect"), "{err}");
    assert!(
        !err.to_string().contains("x=1"),
        "query of the location is not echoed: {err}"
    );
    m.assert_async().await;
    stolen.assert_async().await;
}

#[tokio::test]
async fn body_over_the_cap_is_rejected() {
    let mut server = mockito::Server::new_async().await;
    let big = vec![b'a'; 64 * 1024];
    let _m = server
        .mock("GET", "/big")
        .with_status(200)
        .with_body(&big)
        .create_async()
        .await;
    let c = client(&server, HttpConfig::default().max_body_bytes(16 * 1024));
    let err = c
        .send("op", Method::GET, c.endpoint(&[("p", "big")]).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
    assert!(err.to_string().contains("cap"), "{err}");

    // Chunked (no Content-Length) is capped while reading.
    let _m2 = server
        .mock("GET", "/chunked")
        .with_status(200)
        .with_chunked_body(|w| {
            for _ in 0..64 {
                w.write_all(&[b'b'; 1024])?;
            }
            Ok(())
        })
        .create_async()
        .await;
    let err = c
        .send("op", Method::GET, c.endpoint(&[("p", "chunked")]).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Decode, "{err}");

    // At the cap is fine.
    let _m3 = server
        .mock("GET", "/fits")
        .with_status(200)
        .with_body(vec![b'c'; 16 * 1024])
        .create_async()
        .await;
    let resp = c
        .send("op", Method::GET, c.endpoint(&[("p", "fits")]).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.body.len(), 16 * 1024);
}

#[test]
fn path_segments_are_encoded_and_dot_segments_refused() {
    let c = HttpClient::new("test", "https://api.example.com/base/", None, HttpConfig::default()).unwrap();
    for hostile in [
        "a/b", "a?b=c", "a#b", "a%2Fb", "a b", "é✓", "..a", "a..", "%2e%2e", ".%2e", "a&b=c",
    ] {
        let url = c.endpoint(&[("p", "runs"), ("run_id", hostile)]).unwrap();
        let segs: Vec<_> = url.path_segments().unwrap().collect();
        assert_eq!(segs.len(), 3, "{hostile:?} -> {url}");
        assert_eq!(segs[0], "base");
        assert_eq!(segs[1], "runs");
        let decoded = percent_decode(segs[2]);
        assert_eq!(decoded, hostile, "{url}");
        assert!(url.query().is_none() && url.fragment().is_none(), "{url}");
    }
    for bad in [".", "..", ""] {
        let err = c.endpoint(&[("p", "runs"), ("run_id", bad)]).unwrap_err();
        assert!(
            matches!(err, CancelError::InvalidInput { field: "run_id", .. }),
            "{err}"
        );
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn plain_http_refused_for_non_loopback_unless_opted_in() {
    for ok in [
        "http://127.0.0.1:7777",
        "http://localhost:7777/",
        "http://[::1]:8080",
        "https://qstash.upstash.io",
    ] {
        HttpClient::new("test", ok, None, HttpConfig::default()).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    let err = HttpClient::new("test", "http://qstash.upstash.io", None, HttpConfig::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(err.to_string().contains("allow_insecure_http"), "{err}");
    HttpClient::new(
        "test",
        "http://10.1.2.3",
        None,
        HttpConfig::default().allow_insecure_http(true),
    )
    .unwrap();
    for bad in ["", "ftp://x", "not a url", "https://user:pw@host", "https://host/?q=1"] {
        let err = HttpClient::new("test", bad, None, HttpConfig::default()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        assert!(!err.to_string().contains("pw@"), "{err}");
    }
    let c = HttpClient::new("test", "http://127.0.0.1:9/", None, HttpConfig::default()).unwrap();
    assert_eq!(c.base_url().as_str(), "http://127.0.0.1:9/");
    let c = HttpClient::new("test", "https://h/prefix/", None, HttpConfig::default()).unwrap();
    assert_eq!(c.base_url().as_str(), "https://h/prefix");
}

#[test]
fn token_never_shows() {
    let t = SecretToken::new(TOKEN);
    let c = HttpClient::new("test", "https://h", Some(&t), HttpConfig::default()).unwrap();
    for s in [
        format!("{t}"),
        format!("{t:?}"),
        format!("{c:?}"),
        format!("{:?}", c.config()),
    ] {
        assert!(!s.contains(TOKEN), "{s}");
    }
    assert!(format!("{c:?}").contains("Bearer ***"));
    let err = HttpClient::new(
        "test",
        "https://h",
        Some(&SecretToken::new("bad\ntoken-SECRET")),
        HttpConfig::default(),
    )
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SECRET"));
    let err = HttpClient::new(
        "test",
        "https://h",
        Some(&SecretToken::new("  ")),
        HttpConfig::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
}

#[test]
fn retry_after_parses_seconds_and_http_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let v = |s: &'static str| HeaderValue::from_static(s);
    assert_eq!(parse_retry_after(&v("0"), now), Some(Duration::ZERO));
    assert_eq!(parse_retry_after(&v(" 12 "), now), Some(Duration::from_secs(12)));
    assert_eq!(parse_retry_after(&v("1.5"), now), Some(Duration::from_millis(1500)));
    let date = httpdate_for(now + Duration::from_secs(7));
    assert_eq!(
        parse_retry_after(&HeaderValue::from_str(&date).unwrap(), now),
        Some(Duration::from_secs(7))
    );
    let past = httpdate_for(now - Duration::from_secs(7));
    assert_eq!(
        parse_retry_after(&HeaderValue::from_str(&past).unwrap(), now),
        Some(Duration::ZERO)
    );
    for bad in ["", "-1", "soon", "NaN", "inf"] {
        assert_eq!(parse_retry_after(&v(bad), now), None, "{bad:?}");
    }
}

fn httpdate_for(t: SystemTime) -> String {
    // IMF-fixdate, computed without extra dependencies.
    let secs = t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    // civil_from_days (Howard Hinnant)
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if mo <= 2 { 1 } else { 0 };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(mo - 1) as usize];
    format!("{weekday}, {d:02} {month} {y} {h:02}:{m:02}:{s:02} GMT")
}

#[test]
fn readable_bodies() {
    assert_eq!(readable_body(b"  OK \n"), "OK");
    assert_eq!(
        readable_body(b"<!DOCTYPE html><html><body><h1>Bad   Gateway</h1></body></html>"),
        "Bad Gateway"
    );
    assert_eq!(readable_body(&[0xff, 0xfe, b'x']), "\u{fffd}\u{fffd}x");
    let long = "x".repeat(1000);
    assert!(readable_body(long.as_bytes()).chars().count() <= 301);
}

#[tokio::test]
async fn error_body_over_the_cap_keeps_its_status_and_is_retried() {
    let mut server = mockito::Server::new_async().await;
    let cap = 16 * 1024;
    // With Content-Length: a proxy's large 502 page.
    let page = format!(
        "<html><head><title>502 Bad Gateway</title></head><body>{}</body></html>",
        "x".repeat(64 * 1024)
    );
    let m = server
        .mock("GET", "/big502")
        .with_status(502)
        .with_body(&page)
        .expect(2)
        .create_async()
        .await;
    let policy = fast_retry().max_attempts(2);
    let c = client(&server, HttpConfig::default().max_body_bytes(cap).retry(policy));
    let resp = c
        .send("op", Method::GET, c.endpoint(&[("p", "big502")]).unwrap())
        .await
        .unwrap();
    assert_eq!((resp.status, resp.attempts), (502, 2), "retried like any 502");
    assert_eq!(resp.body.len(), cap, "cut at the cap");
    assert_eq!(&resp.body[..], &page.as_bytes()[..cap]);
    assert_eq!(resp.readable_body(), "502 Bad Gateway");
    m.assert_async().await;

    // Without Content-Length (chunked), on a status that is not retried.
    let m = server
        .mock("GET", "/big404")
        .with_status(404)
        .with_chunked_body(|w| {
            for _ in 0..64 {
                w.write_all(&[b'n'; 1024])?;
            }
            Ok(())
        })
        .expect(1)
        .create_async()
        .await;
    let resp = c
        .send("op", Method::GET, c.endpoint(&[("p", "big404")]).unwrap())
        .await
        .unwrap();
    assert_eq!((resp.status, resp.attempts, resp.body.len()), (404, 1, cap));
    m.assert_async().await;

    // A 2xx body over the cap stays a Decode error, with or without Content-Length (see
    // `body_over_the_cap_is_rejected`); a token cut in two by the cap does not show its start.
    let mut body = vec![b'e'; cap - 6];
    body.extend_from_slice(format!("{TOKEN} and more").as_bytes());
    let _m = server
        .mock("GET", "/echo")
        .with_status(500)
        .with_body(&body)
        .create_async()
        .await;
    let c = client(
        &server,
        HttpConfig::default().max_body_bytes(cap).retry(RetryPolicy::none()),
    );
    let resp = c
        .send("op", Method::GET, c.endpoint(&[("p", "echo")]).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status, 500);
    assert!(
        resp.body.iter().all(|&b| b == b'e'),
        "{:?}",
        String::from_utf8_lossy(&resp.body[cap - 10..])
    );
    assert_eq!(resp.body.len(), cap - 6);
}

#[test]
fn control_characters_in_path_segments_are_refused() {
    let c = HttpClient::new("test", "https://api.example.com/base", None, HttpConfig::default()).unwrap();
    for bad in [
        "a\tb",
        "a\rb",
        "a\nb",
        "\r\n",
        "run\0",
        "a\u{7f}",
        "a\u{85}b",
        "\u{1b}[31m",
    ] {
        let err = c.endpoint(&[("p", "runs"), ("run_id", bad)]).unwrap_err();
        assert!(
            matches!(err, CancelError::InvalidInput { field: "run_id", .. }),
            "{bad:?}: {err}"
        );
        assert!(err.to_string().contains("control character"), "{err}");
    }
    // Tabs and spaces are not the same thing: a space is encoded, not refused.
    assert_eq!(
        c.endpoint(&[("run_id", "a b")]).unwrap().as_str(),
        "https://api.example.com/base/a%20b"
    );
}

#[tokio::test]
async fn a_token_echoed_in_a_header_never_shows() {
    let mut server = mockito::Server::new_async().await;
    let _m = server
        .mock("GET", "/h")
        .with_status(401)
        .with_header("x-echo-authorization", &format!("Bearer {TOKEN}"))
        .with_header("www-authenticate", &format!("Bearer realm=\"{TOKEN}\""))
        .with_header("x-other", "kept")
        .with_body("no")
        .create_async()
        .await;
    let c = client(&server, HttpConfig::default());
    let resp = c
        .send("op", Method::GET, c.endpoint(&[("p", "h")]).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status, 401);
    let shown = format!("{resp:?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert_eq!(resp.header("x-echo-authorization"), Some("Bearer ***"));
    assert_eq!(resp.header("www-authenticate"), Some("Bearer realm=\"***\""));
    assert_eq!(resp.header("x-other"), Some("kept"));
    for (_, v) in resp.headers.iter() {
        assert!(!String::from_utf8_lossy(v.as_bytes()).contains(TOKEN));
    }
}

/// A token sent in a header of the backend's choosing (`x-api-key: <token>`, no `Bearer`):
/// exactly that header, no `Authorization`, the value never shown, an echo of it scrubbed.
#[tokio::test]
async fn a_token_in_a_custom_header() {
    let mut server = mockito::Server::new_async().await;
    let m = server
        .mock("GET", "/h")
        .match_header("x-api-key", TOKEN)
        .match_header("authorization", mockito::Matcher::Missing)
        .with_status(403)
        .with_body(format!(r#"{{"detail":"key {TOKEN} is not allowed"}}"#))
        .create_async()
        .await;
    let t = SecretToken::new(TOKEN);
    let c = HttpClient::with_token_header("test", &server.url(), Some(&t), "x-api-key", HttpConfig::default()).unwrap();
    let shown = format!("{c:?}");
    assert!(shown.contains("x-api-key: ***") && !shown.contains(TOKEN), "{shown}");
    let resp = c
        .send("op", Method::GET, c.endpoint(&[("p", "h")]).unwrap())
        .await
        .unwrap();
    m.assert_async().await;
    assert_eq!(resp.status, 403);
    assert_eq!(resp.readable_body(), r#"{"detail":"key *** is not allowed"}"#);
    let err =
        HttpClient::with_token_header("test", "https://h", Some(&t), "bad header", HttpConfig::default()).unwrap_err();
    assert_eq!(
        err.config_problem(),
        Some((
            wfcancel_core::ConfigSetting::Token,
            wfcancel_core::ConfigProblem::Invalid
        ))
    );
    let err = HttpClient::with_token_header(
        "test",
        "https://h",
        Some(&SecretToken::new("bad\ntoken-SECRET")),
        "x-api-key",
        HttpConfig::default(),
    )
    .unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SECRET"));
}
