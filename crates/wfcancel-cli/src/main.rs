//! `wfcancel`: cancel workflow runs on Upstash Workflow, Agno AgentOS, Temporal, Restate or
//! LangGraph from a terminal.
//!
//! ```text
//! wfcancel [-o text|json] [--json] [--color auto|always|never] [-v] <command>
//! connection flags (before or after cancel, bulk, status; not emulate):
//!          [--backend upstash|agno|temporal|restate|langgraph] [--url URL] [--token-env NAME]
//!          [--allow-insecure-http] [--timeout DURATION] [--retries N]
//!   cancel <RUN_ID>... [--workflow ID | --agent ID | --team ID | --thread ID] [--session ID] [--wait] [--wait-timeout DURATION]
//!          [--namespace NS] [--run-id RID] [--force] [--reason TEXT]
//!   bulk   [--ids-file PATH|-] [--url-exact URL | --url-prefix URL] [--label L]... [--from TIME] [--to TIME]
//!          [--caller-ip IP]... [--flow-control-key K]... [--host H]... [--path P]...
//!          [--state STATE]... [--handler NAME] [--key KEY]
//!          [--query QUERY] [--namespace NS] [--wait] [--force] [--reason TEXT]
//!          [--page-size N] [--drain] [--all] [--yes]
//!          [--workflow ID|TYPE|SERVICE | --agent ID | --team ID] [--session ID] [--concurrency N] [--dry-run]
//!   status <RUN_ID> [--workflow ID | --agent ID | --team ID | --thread ID] [--session ID] [--namespace NS] [--run-id RID]
//!   list   [the filter flags of bulk] [--workflow ID|TYPE|SERVICE] [--namespace NS] [--limit N] [--cursor C] [--count]
//!   emulate upstash|agno [--port P] [--seed N]      (Cargo feature `emulator`; token: WFCANCEL_EMULATOR_TOKEN)
//!   completions bash|zsh|fish|elvish|powershell
//!   man
//! ```
//!
//! Exit codes: 0 everything ended cancelled, requested or not active; 1 a provider or transport
//! failure; 2 usage, configuration or invalid input, or a bulk not confirmed (nothing sent); 3 a
//! bulk where some runs succeeded and some failed.

mod cli;
mod commands;
#[cfg(feature = "emulator")]
mod emulate;
mod error;
mod ids;
mod interrupt;
mod journal;
mod list;
mod output;
mod preview;
#[cfg_attr(not(feature = "emulator"), allow(dead_code))]
mod scenario;
mod setup;
mod timearg;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::error::Failure;
use crate::output::{EXIT_FAILURE, Output};

fn main() -> ExitCode {
    // Usage errors exit with 2 (clap's default), --help and --version with 0.
    let cli = Cli::parse().merge_connection();
    // Printed from the command line's own definition: no runtime, no configuration.
    match &cli.command {
        Command::Completions(a) => return print_completions(a.shell),
        Command::Man => return print_man(),
        _ => {}
    }
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
    let json = cli.json_output();
    if let Command::Emulate(a) = &cli.command {
        // It serves rather than connects: the connection flags do not apply to it.
        if let Some(flag) = cli.conn.given().first() {
            let f = Failure::usage(format!(
                "{flag} does not apply to emulate: it serves an emulator, it reaches no provider"
            ))
            .hint("leave it out (the connection flags are for cancel, bulk and status)");
            return finish(Err(f), &Output::new(json, None));
        }
        #[cfg(feature = "emulator")]
        return finish(emulate::emulate(a, json).await, &Output::new(json, None));
        #[cfg(not(feature = "emulator"))]
        {
            let _ = a;
            let f = Failure::usage("this wfcancel was built without the emulator (Cargo feature `emulator`)")
                .hint("cargo install wfcancel-cli (its default features include the emulator)");
            return finish(Err(f), &Output::new(json, None));
        }
    }
    if let Command::Bulk(a) = &cli.command {
        if let Err(f) = commands::precheck_bulk(a) {
            return finish(Err(f), &Output::new(json, None));
        }
    }
    let lookup = |name: &str| std::env::var(name).ok();
    let client = match setup::build_client(&cli, &lookup) {
        Ok(c) => c,
        Err(f) => return finish(Err(f), &Output::new(json, None)),
    };
    let mut out = Output::new(json, Some(client.name())).styled(cli.color, cli.verbose);
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
        Command::Emulate(_) | Command::Completions(_) | Command::Man => Ok(output::EXIT_OK),
    };
    let code = finish(result, &out);
    match &interrupt {
        Some(i) => i.exit_code(code),
        None => code,
    }
}

/// `wfcancel completions SHELL`: the script on stdout.
fn print_completions(shell: clap_complete::Shell) -> ExitCode {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    // Into memory first: clap_complete panics on a failed write, e.g. a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "wfcancel", &mut script);
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(&script);
    ExitCode::SUCCESS
}

/// `wfcancel man`: the man page (roff) on stdout, subcommands included.
fn print_man() -> ExitCode {
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut page = Vec::new();
    if let Err(e) = render_man(&cmd, &mut page) {
        eprintln!("error: cannot render the man page: {e}");
        return ExitCode::from(EXIT_FAILURE);
    }
    use std::io::Write;
    // A closed pipe (`| head`) is not an error worth reporting.
    let _ = std::io::stdout().lock().write_all(&page);
    ExitCode::SUCCESS
}

/// The page of `cmd`, then a section per subcommand (name, synopsis, options, examples).
fn render_man(cmd: &clap::Command, out: &mut Vec<u8>) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render(out)?;
    for sub in cmd.get_subcommands() {
        let name = format!("wfcancel {}", sub.get_name());
        let sub = sub.clone().bin_name(name);
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        let title = sub.get_name().to_uppercase();
        let man = clap_mangen::Man::new(sub);
        out.extend_from_slice(format!(".SH \"WFCANCEL {title}\"\n{about}\n").as_bytes());
        man.render_synopsis_section(out)?;
        man.render_options_section(out)?;
        man.render_extra_section(out)?;
    }
    Ok(())
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
