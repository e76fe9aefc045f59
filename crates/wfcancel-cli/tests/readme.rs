//! README.md's CLI section, run as a test: the `sh` block that names this file is run line by
//! line against the emulator it starts (its first line, `wfcancel emulate …`), each line through
//! `sh -c` after the `export …` line the emulator printed, as a reader pastes it. Each line must
//! exit 0, or the code its comment names (`exit 2`). Needs `wfcancel emulate` (the default
//! feature `emulator`).
#![cfg(feature = "emulator")]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_wfcancel");
const MARKER: &str = "crates/wfcancel-cli/tests/readme.rs";

/// The lines of the fenced `sh` block holding the marker.
fn tested_block(readme: &str) -> Vec<String> {
    let mut blocks: Vec<Vec<String>> = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in readme.lines() {
        match &mut current {
            None if line.trim_start().starts_with("```sh") => current = Some(Vec::new()),
            Some(_) if line.trim_start().starts_with("```") => blocks.push(current.take().unwrap()),
            Some(lines) => lines.push(line.to_owned()),
            None => {}
        }
    }
    let mut found: Vec<Vec<String>> = blocks
        .into_iter()
        .filter(|b| b.iter().any(|l| l.contains(MARKER)))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "README.md must have exactly one sh block naming {MARKER}"
    );
    found.remove(0)
}

/// The exit code a line's comment names (`exit 2`), else 0.
fn expected_code(line: &str) -> i32 {
    let comment = line.split_once(" # ").map_or("", |(_, c)| c);
    comment
        .split("exit ")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_readme_cli_block_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let lines: Vec<String> = tested_block(&readme)
        .into_iter()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    let (first, rest) = lines.split_first().expect("an empty block");
    let command = first.split(" # ").next().unwrap().trim();
    let args: Vec<&str> = command
        .strip_prefix("wfcancel emulate ")
        .unwrap_or_else(|| panic!("the block starts with `wfcancel emulate …`, not {first:?}"))
        .split_whitespace()
        .collect();
    let bin_dir = std::path::Path::new(BIN)
        .parent()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let path = format!("{bin_dir}:{}", std::env::var("PATH").unwrap_or_default());
    let mut emulator = Command::new(BIN)
        .arg("emulate")
        .args(&args)
        .env_clear()
        .env("PATH", &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the emulator");
    let mut export = String::new();
    BufReader::new(emulator.stdout.take().unwrap())
        .read_line(&mut export)
        .unwrap();
    assert!(export.starts_with("export "), "{export:?}");
    let token = export
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("QSTASH_TOKEN="))
        .map(|t| t.trim_matches('\'').to_owned())
        .expect("a token in the export line");
    let mut failures = Vec::new();
    for line in rest {
        let script = format!("{}{}", export, line);
        let out = Command::new("sh")
            .args(["-c", &script])
            .env_clear()
            .env("PATH", &path)
            .stdin(Stdio::null())
            .output()
            .expect("run sh");
        let code = out.status.code().unwrap_or(-1);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stdout.contains(&token) && !stderr.contains(&token),
            "{line}: printed the token"
        );
        let want = expected_code(line);
        eprintln!("$ {line}\n  -> exit {code}");
        if code != want {
            failures.push(format!(
                "{line}\n  exit {code}, README says {want}\n--- stdout\n{stdout}--- stderr\n{stderr}"
            ));
        }
    }
    let _ = emulator.kill();
    let _ = emulator.wait();
    assert!(
        failures.is_empty(),
        "README lines that do not do what they say:\n{}",
        failures.join("\n")
    );
}

#[test]
fn a_comment_names_the_exit_code() {
    assert_eq!(expected_code("wfcancel bulk --label x   # refused: exit 2"), 2);
    assert_eq!(expected_code("wfcancel bulk --label x --yes   # cancels"), 0);
    assert_eq!(expected_code("wfcancel cancel wfr_1"), 0);
}
