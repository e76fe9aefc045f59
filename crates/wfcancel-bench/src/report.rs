//! The table, as printed and as written to BENCHMARKS.md.

/// Whether a row met its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Met {
    /// Met.
    Yes,
    /// Missed.
    No,
    /// No target.
    None,
    /// Not measured in this run.
    Skipped,
}

impl Met {
    fn text(self) -> &'static str {
        match self {
            Met::Yes => "yes",
            Met::No => "**NO**",
            Met::None => "",
            Met::Skipped => "skipped",
        }
    }

    /// Yes when `ok`, else No.
    pub fn from(ok: bool) -> Met {
        if ok { Met::Yes } else { Met::No }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Item of the issue (1–7).
    pub item: &'static str,
    /// What was measured.
    pub what: String,
    /// The raw figures.
    pub measured: String,
    /// The ratio (the point of the row).
    pub ratio: String,
    /// The target, if any.
    pub target: String,
    /// Whether it was met.
    pub met: Met,
}

impl Row {
    /// A row.
    pub fn new(
        item: &'static str,
        what: impl Into<String>,
        measured: impl Into<String>,
        ratio: impl Into<String>,
        target: impl Into<String>,
        met: Met,
    ) -> Row {
        Row {
            item,
            what: what.into(),
            measured: measured.into(),
            ratio: ratio.into(),
            target: target.into(),
            met,
        }
    }

    /// A row that was not measured, with why.
    pub fn skipped(item: &'static str, what: impl Into<String>, why: impl Into<String>) -> Row {
        Row::new(item, what, why, "—", "", Met::Skipped)
    }
}

/// The table in Markdown.
pub fn markdown(rows: &[Row]) -> String {
    let mut s = String::from("| # | measured | figures | ratio | target | met |\n|---|---|---|---|---|---|\n");
    for r in rows {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            r.item,
            cell(&r.what),
            cell(&r.measured),
            cell(&r.ratio),
            cell(&r.target),
            r.met.text()
        ));
    }
    s
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `12345.6` → `12,346`.
pub fn thousands(x: f64) -> String {
    let n = x.round() as i64;
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

/// Sort key of an item label: its number, then the rest (`"9"` before `"10"`, `"2"` before `"2b"`).
pub fn item_order(item: &str) -> (u32, &str) {
    let digits = item.len() - item.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    (item[..digits].parse().unwrap_or(u32::MAX), &item[digits..])
}

/// The backend a row is about: the first backend name in its description.
fn backend_of(row: &Row) -> Option<&'static str> {
    let what = row.what.to_ascii_lowercase();
    BACKENDS
        .iter()
        .filter_map(|(key, name)| what.find(key).map(|at| (at, *name)))
        .min_by_key(|(at, _)| *at)
        .map(|(_, name)| name)
}

const BACKENDS: [(&str, &str); 5] = [
    ("upstash", "Upstash"),
    ("agno", "Agno"),
    ("temporal", "Temporal"),
    ("restate", "Restate"),
    ("langgraph", "LangGraph"),
];

/// One table with a row per backend: the ratio of each item (and whether its target was met),
/// taken from the rows above, and the command that measures it alone.
pub fn by_backend(rows: &[Row]) -> String {
    let columns: [(&str, &[&str]); 4] = [
        ("throughput vs raw reqwest (item 2, ≥ 0.9)", &["2"]),
        ("single-cancel p50 vs raw (item 4, ≤ 1.1×)", &["4"]),
        ("CLI, 1,000,000 ids: peak RSS (item 6, < 64 MiB)", &["6"]),
        (
            "vs the official client, real server where one runs (items 7–10)",
            &["7", "8", "9", "10"],
        ),
    ];
    let mut s = String::from("| backend | ");
    for (title, _) in &columns {
        s.push_str(title);
        s.push_str(" | ");
    }
    s.push_str("measured alone by |\n|---|");
    for _ in &columns {
        s.push_str("---|");
    }
    s.push_str("---|\n");
    for (_, name) in BACKENDS {
        s.push_str(&format!("| {name} | "));
        for (_, items) in &columns {
            let cells: Vec<String> = rows
                .iter()
                .filter(|r| items.contains(&r.item) && !r.what.starts_with("LIMIT") && backend_of(r) == Some(name))
                .map(|r| {
                    let ratio = if r.item == "6" {
                        r.measured.split(" (").next().unwrap_or_default().to_owned()
                    } else {
                        r.ratio.clone()
                    };
                    match r.met {
                        Met::Yes => format!("{ratio} (met)"),
                        Met::No => format!("{ratio} (**missed**)"),
                        Met::Skipped => "skipped".to_owned(),
                        Met::None => ratio,
                    }
                })
                .collect();
            s.push_str(&cell(&if cells.is_empty() {
                "—".to_owned()
            } else {
                cells.join("; ")
            }));
            s.push_str(" | ");
        }
        let alone = match name {
            "Upstash" | "Agno" => "the full run (items 1–7)",
            "Temporal" => "`--only-minimal`, `--only-cli`, `--only-temporal`",
            "Restate" => "`--only-minimal`, `--only-cli`, `--only restate`",
            _ => "`--only-minimal`, `--only-cli`, `--only langgraph`",
        };
        s.push_str(alone);
        s.push_str(" |\n");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1000.0), "-1,000");
        assert_eq!(mib(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        let t = markdown(&[Row::new("1", "a|b", "x", "1.00", "", Met::None)]);
        assert!(t.contains("a\\|b"), "{t}");
    }

    #[test]
    fn items_sort_by_number() {
        let mut items = vec!["10", "9", "2b", "1", "2"];
        items.sort_by_key(|i| super::item_order(i));
        assert_eq!(items, ["1", "2", "2b", "9", "10"]);
    }
}
