//! A run's address as one string: `FromStr` ∘ `Display` is the identity for every run, whatever
//! its ids hold; empty parts and unknown pieces are refused.

use proptest::prelude::*;
use wfcancel_core::{OwnerKind, RunRef};

const HOSTILE: &[&str] = &[
    "a/b",
    "a?b=c",
    "a#frag",
    "100%",
    "%2F",
    "a:b",
    "upstash:wfr",
    "with space",
    "ünï©ødé",
    "..",
    ".",
    "/",
    "//x/y",
    "a&sub=x",
    "session=s",
    "+",
    "~-._",
    "tab\tnl\ncr\r",
    "\u{202e}bidi",
    "😀",
    "a\\b",
    "\"q\"",
    "'",
];

fn owner_kind() -> impl Strategy<Value = Option<OwnerKind>> {
    prop_oneof![
        Just(None),
        Just(Some(OwnerKind::Workflow)),
        Just(Some(OwnerKind::Agent)),
        Just(Some(OwnerKind::Team)),
        Just(Some(OwnerKind::Thread)),
    ]
}

fn part() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{1,12}",
        "[ -~]{1,12}",
        proptest::sample::select(HOSTILE).prop_map(str::to_owned),
    ]
}

fn run() -> impl Strategy<Value = RunRef> {
    (
        part(),
        owner_kind(),
        part(),
        proptest::option::of(part()),
        proptest::option::of(part()),
        proptest::option::of(part()),
        proptest::option::of("[a-z][a-z0-9-]{0,10}"),
    )
        .prop_map(|(id, kind, owner, session, scope, sub, backend)| {
            let mut r = RunRef::new(id);
            if let Some(kind) = kind {
                r = r.owned_by(kind, owner);
            }
            if let Some(s) = session {
                r = r.session(s);
            }
            if let Some(s) = scope {
                r = r.scope(s);
            }
            if let Some(s) = sub {
                r = r.sub_id(s);
            }
            if let Some(b) = backend {
                r = r.backend(b);
            }
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_run_round_trips(run in run()) {
        let text = run.to_string();
        let back: RunRef = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&back, &run, "{}", text);
        // Nothing but the backend's ':' and the address's own separators stay unencoded.
        let body = text.split_once(':').map_or(text.as_str(), |(_, rest)| rest);
        prop_assert!(!body.contains(':') && !body.contains('#') && !body.contains(' '), "{}", text);
    }
}

#[test]
fn the_examples_of_the_docs() {
    let cases = [
        (RunRef::new("wfr_123").backend("upstash"), "upstash:wfr_123"),
        (
            RunRef::new("run-9").workflow("nightly").session("s-1").backend("agno"),
            "agno:workflow/nightly/run-9?session=s-1",
        ),
        (
            RunRef::new("order-42")
                .scope("default")
                .sub_id("7f3c")
                .backend("temporal"),
            "temporal://default/order-42?sub=7f3c",
        ),
        (
            RunRef::new("r").thread("t").backend("langgraph"),
            "langgraph:thread/t/r",
        ),
        (RunRef::new("a:b/c"), "a%3Ab%2Fc"),
    ];
    for (run, text) in cases {
        assert_eq!(run.to_string(), text);
        assert_eq!(text.parse::<RunRef>().unwrap(), run, "{text}");
    }
}

#[test]
fn malformed_addresses_are_refused() {
    for bad in [
        "",
        "upstash:",
        "Upstash:wfr",
        "1x:wfr",
        "agno:workflow//r",
        "agno:workflow/w/",
        "agno:pipeline/w/r",
        "agno:a/b",
        "agno:a/b/c/d",
        "temporal://default",
        "temporal:///order",
        "x:r?session=",
        "x:r?session=a&session=b",
        "x:r?color=red",
        "x:r?session",
        "x:r%FF",
    ] {
        let err = bad.parse::<RunRef>().unwrap_err();
        assert!(err.to_string().starts_with("not a run address"), "{bad}: {err}");
    }
}

#[test]
fn a_bad_backend_name_is_refused_before_any_request() {
    let err = RunRef::new("r").backend("Not A Name").validate("memory").unwrap_err();
    assert!(
        matches!(err, wfcancel_core::CancelError::InvalidInput { field: "backend", .. }),
        "{err}"
    );
    assert!(RunRef::new("r").scope(" ").validate("memory").is_err());
    assert!(RunRef::new("r").sub_id("").validate("memory").is_err());
}
