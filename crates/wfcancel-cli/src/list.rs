//! `wfcancel list`: the runs a filter hits (or how many), before cancelling them.

use serde_json::{Map, Value, json};
use wfcancel::{ListOptions, ListedRun, format_rfc3339};

use crate::cli::ListArgs;
use crate::commands::{filter_flag, filter_of};
use crate::error::Failure;
use crate::output::{EXIT_OK, Output, plural, printable};
use crate::setup::Client;

/// `wfcancel list [filter flags] [--workflow ID|TYPE|SERVICE] [--limit N] [--cursor C] [--count]`
pub async fn list(client: &Client, a: &ListArgs, out: &Output) -> Result<u8, Failure> {
    let c = client.canceller();
    let backend = c.backend();
    let caps = c.capabilities();
    // Refused before any request: a backend that cannot list (or count) at all.
    if a.count && !caps.count {
        return Err(
            Failure::usage(format!("cannot count runs on {backend}")).hint(if caps.list {
                "list them instead: wfcancel list (without --count)"
            } else {
                "its API has no way to list or count runs"
            }),
        );
    }
    if !a.count && !caps.list {
        return Err(Failure::usage(format!("cannot list runs on {backend}")).hint("its API has no way to list runs"));
    }
    if let Some(flag) = [
        (a.owner.agent.is_some(), "--agent"),
        (a.owner.team.is_some(), "--team"),
        (a.owner.thread.is_some(), "--thread"),
    ]
    .into_iter()
    .find_map(|(set, flag)| set.then_some(flag))
    {
        return Err(Failure::usage(format!(
            "{flag} has no effect with list: runs are listed by workflow (--workflow) and the filter flags"
        )));
    }
    let filter = filter_of(&a.filter, a.owner.workflow.as_deref()).unwrap_or_default();
    if let Some(field) = caps.list_filter.unsupported_field(&filter) {
        return Err(Failure::usage(format!(
            "{backend} cannot list runs filtered on {}",
            filter_flag(&field)
        )));
    }
    if !filter.is_empty() {
        filter.validate(backend)?;
    }
    if a.count {
        let n = c.count_runs(&filter).await?;
        if out.json {
            out.line(&json!({ "type": "count", "backend": backend, "count": n }).to_string());
        } else {
            out.line(&n.to_string());
        }
        return Ok(EXIT_OK);
    }
    let mut opts = ListOptions::new().limit(a.limit as usize);
    if let Some(cursor) = &a.cursor {
        opts = opts.cursor(cursor.clone());
    }
    let page = c.list_runs(&filter, &opts).await?;
    if out.json {
        for r in &page.runs {
            out.line(&Value::Object(run_json(backend, r)).to_string());
        }
        out.line(
            &json!({
                "type": "summary",
                "summary": {
                    "backend": backend,
                    "listed": page.runs.len(),
                    "next": page.next,
                },
            })
            .to_string(),
        );
    } else {
        print_table(out, &page.runs);
        let listed = plural(page.runs.len() as u64, "run");
        match &page.next {
            Some(next) => out.note(&format!(
                "{listed} listed; more follow: wfcancel list ... --cursor '{}'",
                printable(next)
            )),
            None => out.note(&format!("{listed} listed")),
        }
    }
    Ok(EXIT_OK)
}

/// `{"type": "run", "backend", "id", "address", "workflow", "state", "created"}` (`created` in
/// RFC 3339, `null` when the provider does not say).
pub(crate) fn run_json(backend: &str, r: &ListedRun) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("run"));
    m.insert("backend".into(), json!(backend));
    m.insert("id".into(), json!(r.run.run_id()));
    m.insert("address".into(), serde_json::to_value(&r.run).unwrap_or(Value::Null));
    if let Some(o) = r.run.owner() {
        m.insert(o.kind.as_str().into(), json!(&*o.id));
    }
    if let Some(s) = r.run.session_id() {
        m.insert("session".into(), json!(s));
    }
    m.insert("workflow".into(), json!(r.workflow));
    m.insert("state".into(), serde_json::to_value(&r.state).unwrap_or(Value::Null));
    m.insert("created".into(), json!(r.created.map(format_rfc3339)));
    m
}

/// One line per run under a header: id, workflow, state, created (RFC 3339), columns aligned;
/// every value printed escaped when it holds control characters.
fn print_table(out: &Output, runs: &[ListedRun]) {
    for line in table_lines(runs) {
        out.line(&line);
    }
}

/// The lines of [`print_table`]: a header, then one line per run.
pub(crate) fn table_lines(runs: &[ListedRun]) -> Vec<String> {
    let rows: Vec<[String; 4]> = runs
        .iter()
        .map(|r| {
            let mut id = printable(r.run.run_id()).into_owned();
            if let Some(o) = r.run.owner().filter(|o| Some(&*o.id) != r.workflow.as_deref()) {
                id = format!("{id} ({} {})", o.kind, printable(&o.id));
            }
            [
                id,
                r.workflow
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), |w| printable(w).into_owned()),
                r.state.to_string(),
                r.created.map_or_else(|| "-".to_owned(), format_rfc3339),
            ]
        })
        .collect();
    let header = ["RUN", "WORKFLOW", "STATE", "CREATED"];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
    };
    let mut lines = vec![line(header).trim_end().to_owned()];
    for row in &rows {
        lines.push(line([&row[0], &row[1], &row[2], &row[3]]).trim_end().to_owned());
    }
    lines
}
