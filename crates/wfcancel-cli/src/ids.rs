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

/// What `--ids-file -` prints to stderr when stdin is a terminal.
pub const STDIN_PROMPT: &str = "reading run ids from standard input, one per line; end with Ctrl-D (or pipe them in: ... | wfcancel bulk --ids-file -)";

/// Starts a thread that reads `source` (a path, or `-` for stdin) and sends batches of at most
/// `batch` ids. The channel holds one batch, so at most three batches exist at once (one being
/// read, one queued, one being cancelled), whatever the input's size.
pub fn spawn_reader(source: &str, batch: usize) -> Result<mpsc::Receiver<Batch>, Failure> {
    let reader: Box<dyn Read + Send> = if source == "-" {
        // Nothing piped in: say what the command waits for, or it looks hung.
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            eprintln!("{STDIN_PROMPT}");
        }
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

/// How many ids a file holds (lines that are not blank or `#` comments), read once before the
/// bulk for its progress bar's total; `None` for stdin or a file that cannot be read (the
/// reader then says why). Repeated ids are counted each time (the bar counts lines handled).
pub fn count_ids(source: &str) -> Option<u64> {
    if source == "-" {
        return None;
    }
    let file = std::fs::File::open(source).ok()?;
    let mut n = 0u64;
    for line in BufReader::with_capacity(64 * 1024, file).split(b'\n') {
        let line = line.ok()?;
        let text = String::from_utf8_lossy(&line);
        let id = text.trim_start_matches('\u{FEFF}').trim();
        if !id.is_empty() && !id.starts_with('#') {
            n += 1;
        }
    }
    Some(n)
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
        // A byte order mark opens files saved by some Windows editors: not part of the first id.
        let text = if line_no == 1 {
            text.strip_prefix('\u{FEFF}').unwrap_or(text)
        } else {
            text
        };
        let id = text.trim();
        if id.is_empty() || id.starts_with('#') {
            continue;
        }
        let bad = id.chars().find_map(|c| {
            if c.is_control() {
                Some(("a control character", c))
            } else if is_format_char(c) {
                Some(("an invisible format character", c))
            } else {
                None
            }
        });
        if let Some((what, c)) = bad {
            let _ = tx.blocking_send(Err(Failure::input(format!(
                "{name}: line {line_no}: the run id contains {what} (U+{:04X})",
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

/// Whether `c` is a Unicode format character (general category Cf, Unicode 15.1): invisible
/// characters such as U+200B ZERO WIDTH SPACE, U+200E LEFT-TO-RIGHT MARK or U+FEFF ZERO WIDTH
/// NO-BREAK SPACE, which a copy and paste can slip into an id where no one sees them.
pub fn is_format_char(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bar's total counts the ids the reader sends: blank lines, comments and a BOM aside.
    #[test]
    fn count_ids_agrees_with_the_reader() {
        let input = "\u{FEFF}wfr_1\r\n\n  # comment\nwfr_2\n   \nwfr_1\nlast-without-newline";
        let path = std::env::temp_dir().join(format!("wfcancel-count-ids-{}", std::process::id()));
        std::fs::write(&path, input).unwrap();
        let counted = count_ids(&path.to_string_lossy());
        let _ = std::fs::remove_file(&path);
        let sent: usize = collect(input, 100).into_iter().map(|b| b.unwrap().len()).sum();
        assert_eq!(counted, Some(sent as u64));
        assert_eq!(counted, Some(4));
        assert_eq!(count_ids("-"), None);
        assert_eq!(count_ids("/nonexistent/ids.txt"), None);
    }

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

    #[test]
    fn strips_a_leading_bom_and_handles_crlf() {
        let got = collect("\u{FEFF}wfr_1\r\nwfr_2\r\n\r\n# c\r\nwfr_3", 10);
        let ids: Vec<Vec<String>> = got.into_iter().map(|b| b.unwrap()).collect();
        assert_eq!(
            ids,
            vec![vec!["wfr_1".to_owned(), "wfr_2".to_owned(), "wfr_3".to_owned()]]
        );
        // A BOM before a comment on line 1 is stripped too.
        let got = collect("\u{FEFF}# ids\r\nwfr_1\r\n", 10);
        assert_eq!(
            got.into_iter().map(|b| b.unwrap()).collect::<Vec<_>>(),
            vec![vec!["wfr_1".to_owned()]]
        );
    }

    #[test]
    fn refuses_format_characters_with_the_line_number() {
        for (input, line, code) in [
            ("\u{FEFF}a\r\nb\u{200B}c\r\n", 2, "U+200B"),
            ("a\n\u{FEFF}b\n", 2, "U+FEFF"),
            ("a\nb\nc\u{FEFF}\n", 3, "U+FEFF"),
            ("\u{FEFF}\u{FEFF}a\n", 1, "U+FEFF"),
            ("a\u{200E}\n", 1, "U+200E"),
            ("\u{2060}x\n", 1, "U+2060"),
        ] {
            let got = collect(input, 10);
            let e = got.last().unwrap().as_ref().unwrap_err();
            assert!(
                e.message.contains(&format!("line {line}:")) && e.message.contains(code),
                "{input:?}: {}",
                e.message
            );
            assert!(e.message.contains("format character"), "{}", e.message);
        }
        assert!(!is_format_char('a') && !is_format_char('é') && !is_format_char('-'));
    }
}

/// The runs of a streamed bulk seen so far, as 64-bit hashes of their whole address (8 bytes a
/// run, so a million ids take about 16 MiB), to drop repeats across batches. Two different runs
/// share a hash with a probability of about n²/2⁶⁵ (3·10⁻⁸ for a million runs); the hasher is
/// keyed afresh for every process.
#[derive(Default)]
pub struct SeenRuns {
    hashes: std::collections::HashSet<u64>,
    state: std::collections::hash_map::RandomState,
}

impl SeenRuns {
    /// `runs` without the ones seen before (in this batch or an earlier one), and how many were
    /// dropped.
    pub fn keep_new(&mut self, runs: Vec<wfcancel::RunRef>) -> (Vec<wfcancel::RunRef>, u64) {
        use std::hash::BuildHasher;
        let before = runs.len();
        let kept: Vec<wfcancel::RunRef> = runs
            .into_iter()
            .filter(|r| self.hashes.insert(self.state.hash_one(r)))
            .collect();
        let dropped = (before - kept.len()) as u64;
        (kept, dropped)
    }
}
