//! Building the canceller: environment, defaults, refusals, and the key never showing.

use mockito::{Matcher, Server};
use wfcancel_agno::{AgnoCanceller, AgnoCancellerBuilder};
use wfcancel_core::http::HttpConfig;
use wfcancel_core::{CancelError, CancelOutcome, RunRef, SecretToken, WorkflowCanceller};

const KEY: &str = "os-key-DO-NOT-PRINT-4711";

fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<String> + 'a {
    move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
}

#[test]
fn env_defaults() {
    let c = AgnoCanceller::from_env_with(env(&[])).unwrap();
    assert_eq!(c.base_url().as_str(), "http://localhost:7777/");
    assert!(!c.has_security_key());
    assert_eq!(c.backend(), "agno");
}

#[test]
fn env_url_and_key() {
    let c = AgnoCanceller::from_env_with(env(&[
        ("AGENTOS_URL", "https://agentos.example.com/os/"),
        ("OS_SECURITY_KEY", KEY),
    ]))
    .unwrap();
    assert_eq!(c.base_url().as_str(), "https://agentos.example.com/os");
    assert!(c.has_security_key());
}

#[test]
fn empty_env_values_count_as_unset() {
    let c = AgnoCanceller::from_env_with(env(&[("AGENTOS_URL", ""), ("OS_SECURITY_KEY", "  ")])).unwrap();
    assert_eq!(c.base_url().as_str(), "http://localhost:7777/");
    assert!(!c.has_security_key());
}

#[test]
fn builder_settings_override_env() {
    let c =
        AgnoCancellerBuilder::from_env_with(env(&[("AGENTOS_URL", "http://127.0.0.1:1"), ("OS_SECURITY_KEY", KEY)]))
            .base_url("http://127.0.0.1:2")
            .without_security_key()
            .build()
            .unwrap();
    assert_eq!(c.base_url().as_str(), "http://127.0.0.1:2/");
    assert!(!c.has_security_key());
    let c = AgnoCanceller::builder()
        .security_key(SecretToken::new(KEY))
        .build()
        .unwrap();
    assert!(c.has_security_key());
    let c = AgnoCanceller::builder()
        .security_key(String::from(KEY))
        .build()
        .unwrap();
    assert!(c.has_security_key());
}

#[test]
fn bad_configuration_is_refused() {
    let cases = [
        AgnoCanceller::builder().base_url("not a url").build(),
        AgnoCanceller::builder().base_url("ftp://localhost").build(),
        AgnoCanceller::builder().base_url("http://agentos.example.com").build(),
        AgnoCanceller::builder()
            .base_url("https://user:pw@agentos.example.com")
            .build(),
        AgnoCanceller::builder()
            .base_url("https://agentos.example.com/?x=1")
            .build(),
        AgnoCanceller::builder().security_key("   ").build(),
        AgnoCanceller::builder().security_key("bad\nkey").build(),
        AgnoCanceller::from_env_with(env(&[("AGENTOS_URL", "http://10.0.0.1:7777")])),
    ];
    for result in cases {
        match result {
            Err(CancelError::Config { backend: "agno", .. }) => {}
            other => panic!("{other:?}"),
        }
    }
    // Plain HTTP to another host is allowed only on request.
    let c = AgnoCanceller::builder()
        .base_url("http://agentos.internal:7777")
        .http_config(HttpConfig::default().allow_insecure_http(true))
        .build();
    assert!(c.is_ok());
}

#[test]
fn the_key_never_shows() {
    let builder = AgnoCanceller::builder()
        .base_url("http://127.0.0.1:7777")
        .security_key(KEY);
    let builder_text = format!("{builder:?}");
    assert!(
        builder_text.contains("***") && !builder_text.contains(KEY),
        "{builder_text}"
    );
    let c = builder.build().unwrap();
    let text = format!("{c:?} | {c:#?} | {c}");
    assert!(!text.contains(KEY), "{text}");
    assert!(
        text.contains("security key set") && text.contains("127.0.0.1:7777"),
        "{text}"
    );
    let env_builder = AgnoCancellerBuilder::from_env_with(env(&[("OS_SECURITY_KEY", KEY)]));
    assert!(!format!("{env_builder:?}").contains(KEY));
    let bad = AgnoCanceller::builder()
        .security_key(format!("{KEY}\n"))
        .build()
        .unwrap_err();
    assert!(!format!("{bad:?} {bad}").contains(KEY));
}

#[tokio::test]
async fn the_key_is_sent_as_bearer_and_never_appears_in_errors() {
    let mut server = Server::new_async().await;
    let ok = server
        .mock("POST", "/workflows/w/runs/r/cancel")
        .match_header("authorization", format!("Bearer {KEY}").as_str())
        .with_status(200)
        .with_body("{}")
        .expect(1)
        .create_async()
        .await;
    let c = AgnoCanceller::builder()
        .base_url(server.url())
        .security_key(KEY)
        .build()
        .unwrap();
    assert_eq!(
        c.cancel(&RunRef::new("r").workflow("w")).await,
        Ok(CancelOutcome::Requested)
    );
    ok.assert_async().await;

    let denied = server
        .mock("POST", "/workflows/w/runs/r2/cancel")
        .match_header("authorization", Matcher::Any)
        .with_status(401)
        .with_body(r#"{"detail":"Invalid authentication token"}"#)
        .create_async()
        .await;
    let err = c.cancel(&RunRef::new("r2").workflow("w")).await.unwrap_err();
    let text = format!("{err} {err:?} {}", err.message());
    assert!(
        matches!(err, CancelError::Unauthenticated { .. }) && !text.contains(KEY),
        "{text}"
    );
    denied.assert_async().await;
}
