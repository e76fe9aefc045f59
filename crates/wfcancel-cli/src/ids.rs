//! Reading run ids from a file or stdin in constant memory: line by line, in batches.

use std::io::{BufRead, BufReader, Read};

use tokio::sync::mpsc;

use crate::error::Failure;

/// Ids per batch handed to `cancel_many`.
pub const BATCH: usize = 5_000;

/// The longest line accepted (a run id is far shorter).
pub const MAX_LINE: usize = 64 * 1024;

/// A batch of ids, or why reading stopped.
pub type Batch = Result<Vec<String>, Failure>;

/// Starts a thread that reads `source` (a path, or `-` for stdin) and sends batches of at most
/// `batch` ids. The channel holds one batch, so at most three batches exist at once (one being
/// read, one queued, one being cancelled), whatever the input's size.
pub fn spawn_reader(source: &str, batch: usize) -> Result<mpsc::Receiver<Batch>, Failure> {
    let reader: Box<dyn Read + Send> = if source == "-" {
        Box::new(std::io::stdin())
    } else {
        let file = std::fs::File::open(source)
            .map_err(|e| Failure::input(format!("--ids-file {source}: cannot open it: {e}")))?;
        Box::new(file)
    };
    let name = if source == "-" {
        "stdin".to_owned()
    } else {
        source.to_owned()
    };
    let (tx, rx) = mpsc::channel(1);
    std::thread::Builder::new()
        .name("wfcancel-ids".into())
        .spawn(move || read_batches(BufReader::with_capacity(64 * 1024, reader), &name, batch, &tx))
        .map_err(|e| Failure::config(format!("cannot start the input reader: {e}")))?;
    Ok(rx)
}

/// Reads lines, skipping blank lines and `#` comments, trimming whitespace, and sends batches.
fn read_batches<R: BufRead>(mut reader: R, name: &str, batch: usize, tx: &mpsc::Sender<Batch>) {
    let mut ids = Vec::with_capacity(batch);
    let mut buf = Vec::new();
    let mut line_no: u64 = 0;
    loop {
        buf.clear();
        line_no += 1;
        let read = (&mut reader).take(MAX_LINE as u64 + 1).read_until(b'\n', &mut buf);
        match read {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(Failure::input(format!(
                    "{name}: read error at line {line_no}: {e}"
                ))));
                return;
            }
        }
        if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
            let _ = tx.blocking_send(Err(Failure::input(format!(
                "{name}: line {line_no} is longer than {MAX_LINE} bytes; expected one run id per line"
            ))));
            return;
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            let _ = tx.blocking_send(Err(Failure::input(format!(
                "{name}: line {line_no} is not valid UTF-8"
            ))));
            return;
        };
        let id = text.trim();
        if id.is_empty() || id.starts_with('#') {
            continue;
        }
        if let Some(c) = id.chars().find(|c| c.is_control()) {
            let _ = tx.blocking_send(Err(Failure::input(format!(
                "{name}: line {line_no}: the run id contains a control character (U+{:04X})",
                c as u32
            ))));
            return;
        }
        ids.push(id.to_owned());
        if ids.len() >= batch {
            let full = std::mem::replace(&mut ids, Vec::with_capacity(batch));
            if tx.blocking_send(Ok(full)).is_err() {
                return; // the receiver stopped: nothing more to do
            }
        }
    }
    if !ids.is_empty() {
        let _ = tx.blocking_send(Ok(ids));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &str, batch: usize) -> Vec<Batch> {
        let (tx, mut rx) = mpsc::channel(1000);
        read_batches(input.as_bytes(), "test", batch, &tx);
        drop(tx);
        let mut out = Vec::new();
        while let Ok(b) = rx.try_recv() {
            out.push(b);
        }
        out
    }

    #[test]
    fn skips_blanks_and_comments_and_trims() {
        let got = collect("a\n\n  b  \n# comment\n\t#x\nc\r\nd", 2);
        let ids: Vec<Vec<String>> = got.into_iter().map(|b| b.unwrap()).collect();
        assert_eq!(
            ids,
            vec![
                vec!["a".to_owned(), "b".to_owned()],
                vec!["c".to_owned(), "d".to_owned()]
            ]
        );
    }

    #[test]
    fn refuses_bad_lines() {
        let got = collect("a\nb\u{7}c\n", 10);
        let e = got.last().unwrap().as_ref().unwrap_err();
        assert!(e.message.contains("line 2"), "{}", e.message);
        let long = "x".repeat(MAX_LINE + 10);
        let got = collect(&long, 10);
        assert!(got[0].as_ref().unwrap_err().message.contains("longer than"));
        let (tx, mut rx) = mpsc::channel(10);
        read_batches(&b"ok\n\xff\xfe\n"[..], "test", 10, &tx);
        assert!(rx.try_recv().unwrap().unwrap_err().message.contains("UTF-8"));
    }
}
