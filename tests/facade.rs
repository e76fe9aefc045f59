//! The facade: picking a backend from the environment, and plain errors when it cannot.

use std::collections::HashMap;
use std::sync::Arc;

use wfcancel::{Backend, CancelError, ErrorKind, WorkflowCanceller, from_env_with};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |k| map.get(k).cloned()
}

fn expect_config(r: Result<Box<dyn WorkflowCanceller>, CancelError>) -> CancelError {
    match r {
        Ok(c) => panic!("expected a configuration error, got {c:?}"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Config, "{e}");
            e
        }
    }
}

#[test]
fn backend_names_round_trip() {
    assert_eq!(Backend::ALL.len(), 6);
    for &b in Backend::ALL {
        assert_eq!(b.as_str().parse::<Backend>().unwrap(), b);
        assert_eq!(b.to_string().to_uppercase().parse::<Backend>().unwrap(), b);
    }
    let e = "prefect".parse::<Backend>().unwrap_err();
    assert!(e.to_string().contains("unknown backend \"prefect\""), "{e}");
    assert!(
        e.to_string()
            .contains("upstash, agno, temporal, restate, langgraph, memory"),
        "{e}"
    );
}

#[test]
fn unknown_backend_is_a_config_error() {
    let e = expect_config(from_env_with(env(&[("WFCANCEL_BACKEND", "nope")])));
    assert!(e.to_string().contains("unknown backend"), "{e}");
}

#[cfg(feature = "memory")]
#[tokio::test]
async fn memory_backend_from_env() {
    let c: Arc<dyn WorkflowCanceller> = from_env_with(env(&[("WFCANCEL_BACKEND", "memory")])).unwrap().into();
    assert_eq!(c.backend(), "memory");
    assert_eq!(
        c.cancel(&wfcancel::RunRef::new("unknown")).await.unwrap(),
        wfcancel::CancelOutcome::NotActive(wfcancel::Inactive::NoSuchRun)
    );
}

#[cfg(feature = "upstash")]
#[test]
fn upstash_from_env_reads_the_sdk_variables_and_hides_the_token() {
    let token = "qstash-SECRET-91f";
    let c = from_env_with(env(&[
        ("WFCANCEL_BACKEND", "upstash"),
        ("QSTASH_URL", "http://127.0.0.1:8080/"),
        ("QSTASH_TOKEN", token),
    ]))
    .unwrap();
    assert_eq!(c.backend(), "upstash");
    assert!(!format!("{c:?}").contains(token));
    let e = expect_config(from_env_with(env(&[("WFCANCEL_BACKEND", "upstash")])));
    assert!(e.to_string().contains("QSTASH_TOKEN"), "names the variable to set: {e}");
}

#[cfg(feature = "agno")]
#[test]
fn agno_from_env_defaults_to_localhost() {
    let key = "os-key-SECRET-77";
    let c = from_env_with(env(&[("WFCANCEL_BACKEND", "agno"), ("OS_SECURITY_KEY", key)])).unwrap();
    assert_eq!(c.backend(), "agno");
    assert!(!format!("{c:?}").contains(key));
    assert!(format!("{c:?}").contains("localhost:7777"), "{c:?}");
}

#[cfg(all(feature = "upstash", feature = "agno"))]
#[test]
fn several_backends_compiled_in_need_a_choice() {
    let e = expect_config(from_env_with(env(&[])));
    assert!(e.to_string().contains("WFCANCEL_BACKEND"), "{e}");
}

/// Built without the `agno` feature (CI runs this file with `--no-default-features --features memory`).
#[cfg(not(feature = "agno"))]
#[test]
fn a_backend_whose_feature_is_off_says_which_feature_to_enable() {
    let e = expect_config(from_env_with(env(&[("WFCANCEL_BACKEND", "agno")])));
    assert!(e.to_string().contains("enable the `agno` feature"), "{e}");
    assert!(
        e.to_string().contains("WFCANCEL_BACKEND=agno"),
        "names the variable: {e}"
    );
    // Called directly, `build` does not pretend the environment named the backend.
    let e = expect_config(wfcancel::build(Backend::Agno, &|_| None));
    assert!(e.to_string().contains("enable the `agno` feature"), "{e}");
    assert!(!e.to_string().contains("WFCANCEL_BACKEND"), "{e}");
}

#[cfg(feature = "temporal")]
#[test]
fn temporal_from_env_reads_the_cli_variables_and_hides_the_key() {
    let key = "temporal-SECRET-key-5a1";
    let c = from_env_with(env(&[
        ("WFCANCEL_BACKEND", "temporal"),
        ("TEMPORAL_HTTP_ADDRESS", "http://127.0.0.1:7243"),
        ("TEMPORAL_NAMESPACE", "orders"),
        ("TEMPORAL_API_KEY", key),
    ]))
    .unwrap();
    assert_eq!(c.backend(), "temporal");
    let shown = format!("{c:?}");
    assert!(shown.contains("orders") && shown.contains("127.0.0.1:7243"), "{shown}");
    assert!(!shown.contains(key), "{shown}");
    let e = expect_config(from_env_with(env(&[
        ("WFCANCEL_BACKEND", "temporal"),
        ("TEMPORAL_HTTP_ADDRESS", "http://10.1.2.3:7243"),
    ])));
    assert!(e.to_string().contains("http"), "{e}");
}

#[cfg(feature = "restate")]
#[test]
fn restate_from_env_reads_the_cli_variables_and_hides_the_token() {
    let token = "restate-SECRET-token-4e2";
    let c = from_env_with(env(&[
        ("WFCANCEL_BACKEND", "restate"),
        ("RESTATE_ADMIN_URL", "http://127.0.0.1:9070"),
        ("RESTATE_AUTH_TOKEN", token),
    ]))
    .unwrap();
    assert_eq!(c.backend(), "restate");
    let shown = format!("{c:?}");
    assert!(shown.contains("127.0.0.1:9070") && shown.contains("***"), "{shown}");
    assert!(!shown.contains(token), "{shown}");
    // Without a URL: the admin API's default port on localhost; the token is optional.
    let c = from_env_with(env(&[("WFCANCEL_BACKEND", "Restate")])).unwrap();
    assert!(format!("{c:?}").contains("localhost:9070"), "{c:?}");
    let e = expect_config(from_env_with(env(&[
        ("WFCANCEL_BACKEND", "restate"),
        ("RESTATE_ADMIN_URL", "http://10.1.2.3:9070"),
    ])));
    assert!(e.to_string().contains("http"), "{e}");
}

#[cfg(feature = "langgraph")]
#[test]
fn langgraph_from_env_reads_the_cli_variables_and_hides_the_key() {
    let key = "langgraph-SECRET-key-8d0";
    for var in ["LANGGRAPH_API_KEY", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"] {
        let c = from_env_with(env(&[
            ("WFCANCEL_BACKEND", "langgraph"),
            ("LANGGRAPH_API_URL", "http://127.0.0.1:2024"),
            (var, key),
        ]))
        .unwrap();
        assert_eq!(c.backend(), "langgraph");
        let shown = format!("{c:?}");
        assert!(
            shown.contains("127.0.0.1:2024") && shown.contains("***"),
            "{var}: {shown}"
        );
        assert!(!shown.contains(key), "{shown}");
    }
    let c = from_env_with(env(&[("WFCANCEL_BACKEND", "LangGraph")])).unwrap();
    assert!(!format!("{c:?}").contains("***"), "no key configured: {c:?}");
    let e = expect_config(from_env_with(env(&[
        ("WFCANCEL_BACKEND", "langgraph"),
        ("LANGGRAPH_API_URL", "http://10.1.2.3:2024"),
    ])));
    assert!(e.to_string().contains("http"), "{e}");
}

#[test]
fn compiled_backends_are_those_of_all_whose_feature_is_on() {
    let compiled = Backend::compiled();
    assert!(compiled.iter().all(|b| Backend::ALL.contains(b) && b.is_compiled()));
    let on = Backend::ALL.iter().filter(|b| b.is_compiled()).count();
    assert_eq!(compiled.len(), on);
}

#[cfg(all(
    feature = "memory",
    not(feature = "upstash"),
    not(feature = "agno"),
    not(feature = "temporal"),
    not(feature = "restate"),
    not(feature = "langgraph")
))]
#[test]
fn memory_is_the_default_when_it_is_the_only_backend() {
    assert_eq!(from_env_with(env(&[])).unwrap().backend(), "memory");
}

/// The trait is usable through `Arc<dyn _>`, `Box<dyn _>` and `&T` alike.
#[cfg(feature = "memory")]
#[tokio::test]
async fn smart_pointers_implement_the_trait() {
    async fn takes<C: WorkflowCanceller>(c: C) -> &'static str {
        let _ = c.cancel(&wfcancel::RunRef::new("x")).await;
        c.backend()
    }
    let m = wfcancel::InMemoryCanceller::new();
    assert_eq!(takes(&m).await, "memory");
    assert_eq!(takes(Box::new(m.clone()) as Box<dyn WorkflowCanceller>).await, "memory");
    assert_eq!(takes(Arc::new(m) as Arc<dyn WorkflowCanceller>).await, "memory");
}
