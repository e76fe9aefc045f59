//! Hostile values never change a visibility query: every value becomes exactly one string
//! literal, whatever it holds (quotes, backslashes, `AND`/`OR`, parentheses, newlines).

use proptest::prelude::*;
use wfcancel_core::{RunFilter, RunState, Selector};
use wfcancel_temporal::{TemporalCanceller, list_query, quote};

/// Reads one double-quoted literal at the start of `s` the way the server's parser does (`\x`
/// stands for `x`); returns the value and the rest after the closing quote.
fn read_literal(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut value = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => value.push(chars.next()?.1),
            '"' => return Some((value, &s[i + 1..])),
            c => value.push(c),
        }
    }
    None
}

/// Strings rich in what could break a query.
fn hostile() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "\"",
        "\\",
        "'",
        "`",
        " AND ",
        " OR ",
        "(",
        ")",
        "\n",
        "\t",
        "=",
        "!=",
        "ExecutionStatus",
        "*",
        "%",
        "ü",
        "\\\"",
        "\"\"",
        "a",
        "1",
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
    fn a_filter_query_keeps_its_structure(a in hostile(), b in hostile()) {
        // Core refuses blank values and control characters in a filter before the backend.
        let a = format!("w{}", a.replace(char::is_control, " "));
        let b = format!("w{}", b.replace(char::is_control, " "));
        let c = TemporalCanceller::builder().build().unwrap();
        let q = c.batch_query(&Selector::filter(RunFilter::new().workflow(&a).workflow(&b))).unwrap();
        let rest = q.strip_prefix("WorkflowType IN (").expect("prefix");
        let (first, rest) = read_literal(rest).expect("first literal");
        let rest = rest.strip_prefix(", ").expect("separator");
        let (second, rest) = read_literal(rest).expect("second literal");
        prop_assert_eq!(first, a);
        prop_assert_eq!(second, b);
        prop_assert_eq!(rest, r#") AND ExecutionStatus = "Running""#);
    }

    #[test]
    fn a_list_query_keeps_its_structure(a in hostile(), b in hostile()) {
        let a = format!("w{}", a.replace(char::is_control, " "));
        let b = format!("w{}", b.replace(char::is_control, " "));
        let q = list_query(&RunFilter::new().workflow(&a).workflow(&b).state(RunState::Running)).unwrap();
        let rest = q.strip_prefix("WorkflowType IN (").expect("prefix");
        let (first, rest) = read_literal(rest).expect("first literal");
        let rest = rest.strip_prefix(", ").expect("separator");
        let (second, rest) = read_literal(rest).expect("second literal");
        prop_assert_eq!(first, a);
        prop_assert_eq!(second, b);
        prop_assert_eq!(rest, r#") AND ExecutionStatus IN ("Running")"#);
    }
}
