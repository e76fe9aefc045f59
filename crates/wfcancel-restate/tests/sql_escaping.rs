//! Hostile values never change a SQL query: every value becomes exactly one string literal,
//! whatever it holds (quotes, backslashes, `;`, `--`, `/*`, newlines, non-ASCII), and a hostile
//! run id never reaches a query at all.

use proptest::prelude::*;
use wfcancel_core::{CancelError, ListOptions, RunFilter, RunRef, RunState, Selector};
use wfcancel_restate::{RestateCanceller, quote};

/// Reads one single-quoted literal at the start of `s` the way DataFusion's tokenizer does (`''`
/// stands for `'`, a backslash is an ordinary character); returns the value and the rest after
/// the closing quote.
fn read_literal(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices().peekable();
    if chars.next()?.1 != '\'' {
        return None;
    }
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
                value.push('\'');
            } else {
                return Some((value, &s[i + 1..]));
            }
        } else {
            value.push(c);
        }
    }
    None
}

/// Strings rich in what could break a query.
fn hostile() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "'",
        "''",
        "\\",
        "\\'",
        "\"",
        ";",
        "--",
        "/*",
        "*/",
        "\n",
        "\r\n",
        "\t",
        " OR ",
        " AND ",
        "=",
        "1=1",
        "%",
        "_",
        "ü",
        "€",
        "😀",
        "\u{2028}",
        "\u{0}",
        "a",
        "1",
        ")",
        "(",
        "DROP TABLE sys_invocation",
    ]);
    prop::collection::vec(prop_oneof![atoms.prop_map(str::to_owned), ".{0,4}"], 0..12).prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn a_quoted_value_is_one_literal(v in hostile()) {
        let q = quote(&v);
        let (back, rest) = read_literal(&q).expect("a literal");
        prop_assert_eq!(back, v);
        prop_assert_eq!(rest, "");
    }

    #[test]
    fn filter_conditions_keep_their_structure(a in hostile(), b in hostile(), h in hostile()) {
        // Core refuses blank values and control characters in a filter before the backend.
        let clean = |v: &str| format!("w{}", v.replace(char::is_control, " "));
        let (a, b, h) = (clean(&a), clean(&b), clean(&h));
        let c = RestateCanceller::builder().build().unwrap();
        let f = RunFilter::new().workflow(&a).workflow(&b).custom_field("handler", &h);
        let q = c.bulk_query(&Selector::filter(f), 7).unwrap();
        let rest = q.strip_prefix("SELECT id FROM sys_invocation WHERE target_service_name IN (").expect("prefix");
        let (first, rest) = read_literal(rest).expect("first literal");
        let rest = rest.strip_prefix(", ").expect("separator");
        let (second, rest) = read_literal(rest).expect("second literal");
        let rest = rest.strip_prefix(") AND target_handler_name = ").expect("handler");
        let (handler, rest) = read_literal(rest).expect("handler literal");
        prop_assert_eq!(first, a);
        prop_assert_eq!(second, b);
        prop_assert_eq!(handler, h);
        prop_assert_eq!(rest, " AND status != 'completed' ORDER BY id LIMIT 7");
    }

    #[test]
    fn list_queries_keep_their_structure(a in hostile(), k in hostile()) {
        let clean = |v: &str| format!("w{}", v.replace(char::is_control, " "));
        let (a, k) = (clean(&a), clean(&k));
        let c = RestateCanceller::builder().build().unwrap();
        let f = RunFilter::new().workflow(&a).custom_field("key", &k).state(RunState::Running);
        let req = c.list_request(&f, &ListOptions::new().limit(4)).unwrap();
        let q = req.body.as_ref().unwrap()["query"].as_str().unwrap().to_owned();
        let rest = q
            .strip_prefix(
                "SELECT id, target_service_name, status, completion_result, completion_failure, created_at FROM \
                 sys_invocation WHERE target_service_name IN (",
            )
            .expect("prefix");
        let (service, rest) = read_literal(rest).expect("service literal");
        let rest = rest.strip_prefix(") AND target_service_key = ").expect("key");
        let (key, rest) = read_literal(rest).expect("key literal");
        prop_assert_eq!(service, a);
        prop_assert_eq!(key, k);
        prop_assert_eq!(rest, " AND (status IN ('running', 'backing-off')) ORDER BY id LIMIT 5");
    }

    #[test]
    fn a_hostile_cursor_never_becomes_a_query(v in hostile()) {
        let c = RestateCanceller::builder().build().unwrap();
        let cursor = format!("inv_1{v}");
        let listed = c.list_request(&RunFilter::new(), &ListOptions::new().cursor(&cursor));
        if cursor[4..].bytes().all(|b| b.is_ascii_alphanumeric()) {
            prop_assert!(listed.is_ok());
        } else {
            let refused = matches!(listed, Err(CancelError::InvalidInput { field: "cursor" | "run_id", .. }));
            prop_assert!(refused, "{:?}", listed);
        }
    }

    #[test]
    fn a_hostile_run_id_never_becomes_a_query(v in hostile()) {
        let c = RestateCanceller::builder().build().unwrap();
        let id = format!("inv_1{v}");
        let r = c.status_request(&RunRef::new(&id));
        if v.bytes().all(|b| b.is_ascii_alphanumeric()) {
            let req = r.unwrap();
            let body = req.body.unwrap();
            let sql = body["query"].as_str().unwrap();
            let rest = sql.strip_suffix(&quote(&id)).expect("the id is the last literal");
            prop_assert!(rest.ends_with("WHERE id = "));
        } else {
            let refused = matches!(r, Err(CancelError::InvalidInput { field, .. }) if field == "run_id");
            prop_assert!(refused, "{:?}", id);
        }
    }
}
