//! Builder, environment (as the official SDK reads it), capabilities, and secrets never shown.

use std::collections::HashMap;

use mockito::Server;
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{
    BulkOptions, CancelError, RetryPolicy, RunFilter, RunRef, SecretToken, Selector, WorkflowCanceller,
};
use wfcancel_upstash::{DEFAULT_MAX_URL_BYTES, Region, UpstashBuilder, UpstashCanceller};

const SECRET: &str = "SEKRET-qstash-token-42";

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

fn base(c: &UpstashCanceller) -> String {
    c.base_url().as_str().to_owned()
}

#[test]
fn defaults() {
    let c = UpstashCanceller::builder().token("t").build().unwrap();
    assert_eq!(base(&c), "https://qstash.upstash.io/");
    assert_eq!(c.region(), None);
    assert_eq!(c.max_url_bytes(), DEFAULT_MAX_URL_BYTES);
    assert_eq!(DEFAULT_MAX_URL_BYTES, 8 * 1024);
    assert!(!c.background_bulk_actions());
    assert_eq!(c.backend(), "upstash");
}

#[test]
fn token_accepts_secret_tokens_and_strings() {
    UpstashCanceller::builder()
        .token(SecretToken::new("a"))
        .build()
        .unwrap();
    UpstashCanceller::builder().token(String::from("a")).build().unwrap();
}

#[test]
fn trailing_slash_and_path_prefix() {
    let c = UpstashCanceller::builder()
        .token("t")
        .base_url("http://127.0.0.1:8080/prefix/")
        .build()
        .unwrap();
    assert_eq!(base(&c), "http://127.0.0.1:8080/prefix");
    let p = c.plan_cancel(&RunRef::new("a")).unwrap();
    assert_eq!(p.url.as_str(), "http://127.0.0.1:8080/prefix/v2/workflows/runs/a");
    let c = UpstashCanceller::builder()
        .token("t")
        .base_url("https://qstash.upstash.io/v2/publish/")
        .build()
        .unwrap();
    assert_eq!(
        base(&c),
        "https://qstash.upstash.io/",
        "the SDK maps the old publish URL to the base URL"
    );
}

#[test]
fn plain_env() {
    let c = UpstashCanceller::from_env_with(env(&[("QSTASH_URL", "http://localhost:8080/"), ("QSTASH_TOKEN", "t")]))
        .unwrap();
    assert_eq!(base(&c), "http://localhost:8080/");
    assert_eq!(c.region(), None);
    let c = UpstashCanceller::from_env_with(env(&[("QSTASH_TOKEN", "t")])).unwrap();
    assert_eq!(base(&c), "https://qstash.upstash.io/");
}

#[test]
fn regional_env_wins_when_both_regional_variables_are_set() {
    for region in ["US_EAST_1", "us-east-1", "Us-East_1"] {
        let c = UpstashCanceller::from_env_with(env(&[
            ("QSTASH_REGION", region),
            ("US_EAST_1_QSTASH_URL", "https://qstash-us-east-1.upstash.io"),
            ("US_EAST_1_QSTASH_TOKEN", "us"),
            ("QSTASH_URL", "https://qstash.upstash.io"),
            ("QSTASH_TOKEN", "eu"),
        ]))
        .unwrap();
        assert_eq!(c.region(), Some(Region::UsEast1), "{region}");
        assert_eq!(base(&c), "https://qstash-us-east-1.upstash.io/");
    }
    let c = UpstashCanceller::from_env_with(env(&[
        ("QSTASH_REGION", "eu-central-1"),
        ("EU_CENTRAL_1_QSTASH_URL", "http://127.0.0.1:9000"),
        ("EU_CENTRAL_1_QSTASH_TOKEN", "eu"),
    ]))
    .unwrap();
    assert_eq!(c.region(), Some(Region::EuCentral1));
    assert_eq!(base(&c), "http://127.0.0.1:9000/");
}

#[test]
fn regional_env_falls_back_to_plain_names_when_incomplete() {
    // Only the regional token: the SDK falls back to QSTASH_URL and QSTASH_TOKEN (both).
    let c = UpstashCanceller::from_env_with(env(&[
        ("QSTASH_REGION", "US_EAST_1"),
        ("US_EAST_1_QSTASH_TOKEN", "us"),
        ("QSTASH_URL", "http://127.0.0.1:7000"),
        ("QSTASH_TOKEN", "plain"),
    ]))
    .unwrap();
    assert_eq!(c.region(), None);
    assert_eq!(base(&c), "http://127.0.0.1:7000/");
    // An empty regional value counts as unset.
    let c = UpstashCanceller::from_env_with(env(&[
        ("QSTASH_REGION", "US_EAST_1"),
        ("US_EAST_1_QSTASH_URL", ""),
        ("US_EAST_1_QSTASH_TOKEN", "us"),
        ("QSTASH_TOKEN", "plain"),
    ]))
    .unwrap();
    assert_eq!(base(&c), "https://qstash.upstash.io/");
    // An unknown region is ignored, as the SDK does.
    let c = UpstashCanceller::from_env_with(env(&[
        ("QSTASH_REGION", "ap-south-1"),
        ("AP_SOUTH_1_QSTASH_URL", "http://127.0.0.1:1"),
        ("AP_SOUTH_1_QSTASH_TOKEN", "x"),
        ("QSTASH_TOKEN", "plain"),
    ]))
    .unwrap();
    assert_eq!((c.region(), base(&c)), (None, "https://qstash.upstash.io/".to_owned()));
}

#[test]
fn a_missing_token_names_the_variable() {
    let err = UpstashCanceller::from_env_with(env(&[("QSTASH_URL", "http://localhost:1")])).unwrap_err();
    assert!(matches!(err, CancelError::Config { .. }), "{err}");
    assert!(err.to_string().contains("QSTASH_TOKEN"), "{err}");
    let err =
        UpstashCanceller::from_env_with(env(&[("QSTASH_REGION", "US_EAST_1"), ("QSTASH_TOKEN", "")])).unwrap_err();
    assert!(
        err.to_string().contains("US_EAST_1_QSTASH_TOKEN") && err.to_string().contains("QSTASH_TOKEN"),
        "{err}"
    );
    let err = UpstashCanceller::builder().build().unwrap_err();
    assert!(err.to_string().contains("no token"), "{err}");
    let err = UpstashCanceller::builder().token("  ").build().unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

#[test]
fn builder_region_picks_the_regional_url_unless_a_url_is_given() {
    let c = UpstashCanceller::builder()
        .token("t")
        .region("us-east-1")
        .build()
        .unwrap();
    assert_eq!(
        (c.region(), base(&c)),
        (Some(Region::UsEast1), "https://qstash-us-east-1.upstash.io/".to_owned())
    );
    let c = UpstashCanceller::builder()
        .token("t")
        .region("EU_CENTRAL_1")
        .build()
        .unwrap();
    assert_eq!(base(&c), "https://qstash.upstash.io/");
    let c = UpstashCanceller::builder()
        .token("t")
        .region("US_EAST_1")
        .base_url("http://127.0.0.1:5")
        .build()
        .unwrap();
    assert_eq!(base(&c), "http://127.0.0.1:5/");
    let err = UpstashCanceller::builder()
        .token("t")
        .region("moon-1")
        .build()
        .unwrap_err();
    assert!(
        matches!(err, CancelError::Config { .. }) && err.to_string().contains("moon-1"),
        "{err}"
    );
}

#[test]
fn bad_base_urls_and_limits_are_config_errors() {
    for url in [
        "",
        "ftp://x",
        "http://example.com",
        "https://user:pw@example.com",
        "https://x/?q=1",
        "not a url",
    ] {
        let err = UpstashCanceller::builder()
            .token("t")
            .base_url(url)
            .build()
            .unwrap_err();
        assert!(matches!(err, CancelError::Config { .. }), "{url:?}: {err}");
    }
    UpstashCanceller::builder()
        .token("t")
        .base_url("http://example.com")
        .http_config(HttpConfig::default().allow_insecure_http(true))
        .build()
        .unwrap();
    let err = UpstashCanceller::builder()
        .token("t")
        .max_url_bytes(20)
        .build()
        .unwrap_err();
    assert!(
        matches!(err, CancelError::Config { .. }) && err.to_string().contains("max_url_bytes"),
        "{err}"
    );
}

#[test]
fn capabilities() {
    let c = UpstashCanceller::builder().token("t").build().unwrap();
    let caps = c.capabilities();
    assert!(caps.cancel && caps.bulk_ids && caps.cancel_all && caps.status && caps.cancel_confirms);
    assert!(caps.background_actions && !caps.needs_owner && !caps.status_needs_session);
    let f = caps.filter;
    assert!(f.url_exact && f.url_prefix && f.labels && f.created_range && f.caller_ips && f.flow_control_keys);
    assert!(f.hosts && f.paths);
}

#[tokio::test]
async fn the_token_never_shows() {
    let mut server = Server::new_async().await;
    let _m = server
        .mock("DELETE", mockito::Matcher::Any)
        .with_status(401)
        .with_body(r#"{"error":"invalid token"}"#)
        .create_async()
        .await;
    let builder = UpstashBuilder::new()
        .token(SECRET)
        .base_url(server.url())
        .http_config(HttpConfig::default().retry(RetryPolicy::none()));
    let shown = format!("{builder:?}");
    assert!(!shown.contains(SECRET) && shown.contains("***"), "{shown}");
    let c = builder.build().unwrap();
    let shown = format!("{c:?} {:?}", c.clone());
    assert!(!shown.contains(SECRET) && shown.contains("***"), "{shown}");

    let from_env = UpstashBuilder::from_env_with(env(&[("QSTASH_TOKEN", SECRET)]));
    assert!(!format!("{from_env:?}").contains(SECRET));

    let mut errors: Vec<CancelError> = vec![
        c.cancel(&RunRef::new("a")).await.unwrap_err(),
        c.status(&RunRef::new("a")).await.unwrap_err(),
        c.bulk_action("a").await.unwrap_err(),
        UpstashBuilder::new().token(format!("{SECRET}\n")).build().unwrap_err(),
        UpstashBuilder::new()
            .token(SECRET)
            .base_url("http://example.com")
            .build()
            .unwrap_err(),
        UpstashBuilder::new()
            .token(SECRET)
            .region("nowhere")
            .build()
            .unwrap_err(),
        UpstashBuilder::new()
            .token(SECRET)
            .max_url_bytes(1)
            .build()
            .unwrap_err(),
        c.cancel(&RunRef::new("")).await.unwrap_err(),
    ];
    let report = c
        .cancel_many(&Selector::filter(RunFilter::new().label("x")), &BulkOptions::new())
        .await
        .unwrap();
    errors.extend(report.failed.iter().map(|f| f.error.clone()));
    errors.extend(report.aborted.clone());
    let report_shown = format!("{report:?}");
    assert!(!report_shown.contains(SECRET));
    for e in &errors {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(SECRET), "{shown}");
    }
    for p in c.plan(&Selector::ids(["a", "b"]), &BulkOptions::new()).unwrap() {
        assert!(!format!("{p} {p:?}").contains(SECRET));
    }
}

/// A program tells configuration problems apart by their fields, never by their text.
#[test]
fn config_errors_say_which_setting_is_wrong_and_how() {
    use wfcancel_core::{ConfigProblem as P, ConfigSetting as S};
    let problem = |e: CancelError| e.config_problem();
    let no_token = UpstashCanceller::from_env_with(env(&[("QSTASH_URL", "http://localhost:1")])).unwrap_err();
    assert_eq!(problem(no_token), Some((S::Token, P::Missing)));
    let empty = UpstashCanceller::from_env_with(env(&[("QSTASH_TOKEN", " ")])).unwrap_err();
    assert_eq!(problem(empty), Some((S::Token, P::Missing)));
    let bad = UpstashCanceller::builder().token("a\nb").build().unwrap_err();
    assert_eq!(problem(bad), Some((S::Token, P::Invalid)));
    for (url, want) in [
        ("http://example.com", P::InsecureHttp),
        ("ftp://example.com", P::Invalid),
        ("not a url", P::Invalid),
        ("", P::Missing),
        ("https://user:pw@example.com", P::Invalid),
    ] {
        let e = UpstashCanceller::builder()
            .token("t")
            .base_url(url)
            .build()
            .unwrap_err();
        assert_eq!(problem(e), Some((S::BaseUrl, want)), "{url:?}");
    }
    let region = UpstashCanceller::builder()
        .token("t")
        .region("moon-1")
        .build()
        .unwrap_err();
    assert_eq!(problem(region), Some((S::Scope, P::Invalid)));
    // Not a configuration error: no setting to name.
    assert_eq!(CancelError::timeout("upstash", "slow").config_problem(), None);
}

/// A failure below the API (here: nothing listens on the port) keeps the HTTP client's error as
/// its `source()`, which a program can downcast; the chain holds no URL and no token.
#[tokio::test]
async fn a_transport_error_keeps_the_http_clients_error_as_its_source() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = UpstashCanceller::builder()
        .token(SECRET)
        .base_url(format!("http://127.0.0.1:{port}"))
        .http_config(HttpConfig::default().retry(RetryPolicy::none()))
        .build()
        .unwrap();
    let e = c.cancel(&RunRef::new("wfr_1")).await.unwrap_err();
    assert_eq!(e.kind(), wfcancel_core::ErrorKind::Transport, "{e}");
    let source = std::error::Error::source(&e).expect("a transport error has a source");
    assert!(source.downcast_ref::<reqwest::Error>().is_some(), "{source:?}");
    let mut chain = String::new();
    let mut next: Option<&dyn std::error::Error> = Some(&e);
    while let Some(err) = next {
        chain.push_str(&format!("{err} | {err:?}\n"));
        next = err.source();
    }
    assert!(!chain.contains(SECRET), "{chain}");
    // Equality ignores the source: the same error without it is equal.
    assert_eq!(e.clone(), e);
}
