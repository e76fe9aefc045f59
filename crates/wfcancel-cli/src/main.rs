//! `wfcancel`: cancel workflow runs on Upstash Workflow, Agno AgentOS, Temporal, Restate or
//! LangGraph from a terminal.
//!
//! ```text
//! wfcancel [--backend upstash|agno|temporal|restate|langgraph] [--url URL] [--token-env NAME] [--allow-insecure-http] [--json]
//!          [--timeout SECS] [--retries N] [-v] <command>
//!   cancel <RUN_ID>... [--workflow ID | --agent ID | --team ID | --thread ID] [--session ID] [--wait] [--wait-timeout SECS]
//!          [--namespace NS] [--run-id RID] [--force] [--reason TEXT]
//!   bulk   [--ids-file PATH|-] [--url-exact URL | --url-prefix URL] [--label L]... [--from TIME] [--to TIME]
//!          [--caller-ip IP]... [--flow-control-key K]... [--host H]... [--path P]...
//!          [--state STATE]... [--handler NAME] [--key KEY]
//!          [--query QUERY] [--namespace NS] [--wait] [--force] [--reason TEXT]
//!          [--page-size N] [--drain] [--all] [--yes]
//!          [--workflow ID|TYPE|SERVICE | --agent ID | --team ID] [--session ID] [--concurrency N] [--dry-run]
//!   status <RUN_ID> [--workflow ID | --agent ID | --team ID | --thread ID] [--session ID] [--namespace NS] [--run-id RID]
//!   list   [the filter flags of bulk] [--workflow ID|TYPE|SERVICE] [--namespace NS] [--limit N] [--cursor C] [--count]
//!   emulate upstash|agno [--port P] [--token T] [--seed N]
//! ```
//!
//! Exit codes: 0 everything ended cancelled, requested or not active; 1 a provider or transport
//! failure; 2 usage, configuration or invalid input; 3 a bulk where some runs succeeded and some
//! failed.

mod cli;
mod commands;
mod emulate;
mod error;
mod ids;
mod interrupt;
mod list;
mod output;
mod setup;
mod timearg;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::Failure;
use crate::output::{EXIT_FAILURE, Output};

fn main() -> ExitCode {
    // Usage errors exit with 2 (clap's default), --help and --version with 0.
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let code = runtime.block_on(run(cli));
    // Do not wait for a reader thread blocked on stdin.
    runtime.shutdown_background();
    ExitCode::from(code)
}

async fn run(cli: Cli) -> u8 {
    if let Command::Emulate(a) = &cli.command {
        return finish(emulate::emulate(a, cli.json).await, &Output::new(cli.json, None));
    }
    if let Command::Bulk(a) = &cli.command {
        if let Err(f) = commands::precheck_bulk(a) {
            return finish(Err(f), &Output::new(cli.json, None));
        }
    }
    let lookup = |name: &str| std::env::var(name).ok();
    let client = match setup::build_client(&cli, &lookup) {
        Ok(c) => c,
        Err(f) => return finish(Err(f), &Output::new(cli.json, None)),
    };
    let mut out = Output::new(cli.json, Some(client.name()));
    tracing::debug!(backend = client.name(), base_url = %client.base_url(), "configured");
    // Ctrl-C and SIGTERM stop a bulk or a multi-id cancel cleanly (summary, exit 130/143).
    let stoppable = match &cli.command {
        Command::Cancel(a) => a.run_ids.len() > 1,
        Command::Bulk(a) => !a.dry_run,
        _ => false,
    };
    let interrupt = if stoppable {
        match interrupt::Interrupt::install() {
            Ok(i) => Some(i),
            Err(f) => return finish(Err(f), &out),
        }
    } else {
        None
    };
    let result = match &cli.command {
        Command::Cancel(a) => commands::cancel(&client, a, &out, interrupt.as_ref()).await,
        Command::Bulk(a) => commands::bulk(&client, a, &mut out, interrupt.as_ref()).await,
        Command::Status(a) => commands::status(&client, a, &out).await,
        Command::List(a) => list::list(&client, a, &out).await,
        Command::Emulate(_) => Ok(output::EXIT_OK),
    };
    let code = finish(result, &out);
    match &interrupt {
        Some(i) => i.exit_code(code),
        None => code,
    }
}

fn finish(result: Result<u8, Failure>, out: &Output) -> u8 {
    match result {
        Ok(code) => code,
        Err(f) => {
            out.fatal(&f);
            f.code
        }
    }
}

/// Logs to stderr: warnings only by default; `-v` one line per request (method, URL, status,
/// attempt, elapsed: the plumbing's `wfcancel::request` target); `-vv` the retries and their
/// waits and the rest of our debug output; `-vvv` everything (trace). `RUST_LOG` overrides. Only
/// our crates log by default, and they never log a token.
fn init_tracing(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let ours = [
        "wfcancel",
        "wfcancel_core",
        "wfcancel_upstash",
        "wfcancel_agno",
        "wfcancel_temporal",
        "wfcancel_restate",
        "wfcancel_langgraph",
        "wfcancel_emulator",
    ];
    let level = match verbose {
        0 | 1 => "warn",
        2 => "debug",
        _ => "trace",
    };
    let mut default = ours
        .iter()
        .map(|c| format!("{c}={level}"))
        .collect::<Vec<_>>()
        .join(",");
    if verbose == 1 {
        default.push_str(",wfcancel::request=debug");
    }
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if verbose > 0 && !v.trim().is_empty() => {
            EnvFilter::try_new(v).unwrap_or_else(|_| EnvFilter::new(&default))
        }
        _ => EnvFilter::new(format!("off,{default}")),
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(verbose > 2)
        .with_ansi(false)
        .try_init();
}
