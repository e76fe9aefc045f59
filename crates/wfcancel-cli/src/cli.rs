//! The command line, as clap sees it.

use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::timearg::{parse_secs, parse_time};
use wfcancel::RunState;

const ENV_HELP: &str = "\
Configuration comes from the environment, as in the library:
  WFCANCEL_BACKEND            upstash | agno | temporal | restate | langgraph (overridden by --backend)
  QSTASH_URL, QSTASH_TOKEN    Upstash (QSTASH_REGION selects {REGION}_QSTASH_URL / _TOKEN)
  AGENTOS_URL, OS_SECURITY_KEY  Agno AgentOS (default URL http://localhost:7777)
  TEMPORAL_HTTP_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY  Temporal: the HTTP API's base URL
                              (default http://localhost:7243), namespace (default `default`), API key
  RESTATE_ADMIN_URL, RESTATE_AUTH_TOKEN  Restate: the admin API's base URL (default http://localhost:9070;
                              or RESTATE_HOST_SCHEME + RESTATE_HOST, port 9070), bearer token (optional)
  LANGGRAPH_API_URL, LANGGRAPH_API_KEY  LangGraph: the deployment's URL (default http://127.0.0.1:2024),
                              API key sent as x-api-key (optional; else LANGSMITH_API_KEY or LANGCHAIN_API_KEY)
  WFCANCEL_ALLOW_INSECURE_HTTP=1  same as --allow-insecure-http
A token is never taken on the command line: --token-env NAME reads it from another variable.
A run may be given as its address wherever a run id is (arguments, --ids-file lines), e.g.
restate:inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O or langgraph:thread/<thread-id>/<run-id>; runs that
name another backend than the configured one go to that backend, configured from its own variables.

Exit codes: 0 all cancelled / requested / not active; 1 provider or transport failure;
2 usage, configuration or invalid input; 3 a bulk where some runs succeeded and some failed.";

const GLOBAL: &str = "Global options";

/// Cancel workflow runs on Upstash Workflow, Agno AgentOS, Temporal, Restate or LangGraph.
#[derive(Debug, Parser)]
#[command(name = "wfcancel", version, about, after_help = ENV_HELP, propagate_version = true)]
pub struct Cli {
    /// The orchestrator (overrides WFCANCEL_BACKEND).
    #[arg(long, global = true, value_enum, value_name = "upstash|agno|temporal|restate|langgraph", hide_possible_values = true, help_heading = GLOBAL)]
    pub backend: Option<BackendArg>,

    /// The provider's base URL (overrides QSTASH_URL / AGENTOS_URL / TEMPORAL_HTTP_ADDRESS /
    /// RESTATE_ADMIN_URL / LANGGRAPH_API_URL; for Temporal, the HTTP API's base URL, not the gRPC
    /// address; for Restate, the admin API's, not the ingress).
    #[arg(long, global = true, value_name = "URL", help_heading = GLOBAL)]
    pub url: Option<String>,

    /// Read the token from this environment variable instead of QSTASH_TOKEN / OS_SECURITY_KEY /
    /// TEMPORAL_API_KEY / RESTATE_AUTH_TOKEN / LANGGRAPH_API_KEY.
    #[arg(long = "token-env", global = true, value_name = "NAME", help_heading = GLOBAL)]
    pub token_env: Option<String>,

    /// Allow plain http:// to a host that is not loopback (e.g. an AgentOS on a private network).
    /// The token then travels unencrypted. Also WFCANCEL_ALLOW_INSECURE_HTTP=1.
    #[arg(long = "allow-insecure-http", global = true, help_heading = GLOBAL)]
    pub allow_insecure_http: bool,

    /// One JSON object per result, then a summary object.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Timeout of each request, in seconds (default 30).
    #[arg(long, global = true, value_name = "SECS", value_parser = parse_secs, help_heading = GLOBAL)]
    pub timeout: Option<Duration>,

    /// How many times a failed request is retried (default 4; 0 = never).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100), help_heading = GLOBAL)]
    pub retries: Option<u32>,

    /// Log requests to stderr (-vv for more). Tokens are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// A backend the command can talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// Upstash Workflow (QStash REST API).
    Upstash,
    /// Agno AgentOS.
    Agno,
    /// Temporal (its HTTP API).
    Temporal,
    /// Restate (its admin API).
    Restate,
    /// LangGraph Platform (the Agent Server API).
    #[value(name = "langgraph")]
    LangGraph,
}

/// A provider `wfcancel emulate` can serve (Temporal runs for real: `temporal server start-dev`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmulatedArg {
    /// Upstash Workflow (QStash REST API).
    Upstash,
    /// Agno AgentOS.
    Agno,
}

/// The subcommands.
// Parsed once per process: the size of the largest variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cancel one or more runs by id.
    Cancel(CancelArgs),
    /// Cancel many runs: ids from a file or stdin, a filter, or everything.
    Bulk(BulkArgs),
    /// Show a run's state.
    Status(StatusArgs),
    /// See the runs a filter hits (the same filter flags as bulk), before cancelling them.
    List(ListArgs),
    /// Serve a local emulator of a provider (for trying wfcancel out) until Ctrl-C.
    Emulate(EmulateArgs),
}

/// What owns the runs (Agno and LangGraph need it; the others know runs by id alone).
#[derive(Debug, Clone, Default, Args)]
#[group(id = "owner", multiple = false)]
pub struct OwnerArgs {
    /// The runs belong to this workflow (Agno). With `bulk`: cancel the running workflows of this
    /// type (Temporal), the invocations of this service (Restate).
    #[arg(long, value_name = "ID|TYPE|SERVICE")]
    pub workflow: Option<String>,
    /// The runs belong to this agent (Agno).
    #[arg(long, value_name = "ID")]
    pub agent: Option<String>,
    /// The runs belong to this team (Agno).
    #[arg(long, value_name = "ID")]
    pub team: Option<String>,
    /// The runs belong to this thread (LangGraph: every plain run id needs it; a run address
    /// carries its own).
    #[arg(long, value_name = "THREAD_ID")]
    pub thread: Option<String>,
}

/// `wfcancel cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The runs to cancel: ids (Restate: invocation ids inv_…; LangGraph: run UUIDs with
    /// --thread) or run addresses (restate:inv_…, langgraph:thread/THREAD_ID/RUN_ID).
    #[arg(value_name = "RUN_ID", required = true)]
    pub run_ids: Vec<String>,

    #[command(flatten)]
    pub owner: OwnerArgs,

    /// The session the runs belong to (Agno; needed by --wait).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    #[command(flatten)]
    pub temporal: TemporalArgs,

    /// Wait until each run has reached a terminal state, and print it.
    #[arg(long)]
    pub wait: bool,

    /// How long --wait waits, in seconds (default 60).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub wait_timeout: Option<Duration>,

    #[command(flatten)]
    pub mode: ModeArgs,
}

/// Temporal's addressing: a namespace, and a run id under a workflow id.
#[derive(Debug, Args, Clone, Default)]
pub struct TemporalArgs {
    /// The namespace (Temporal; overrides TEMPORAL_NAMESPACE).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,

    /// This run of the workflow (Temporal; default: its current run). One workflow id only.
    #[arg(long = "run-id", id = "temporal_run_id", value_name = "RID")]
    pub run_id: Option<String>,
}

/// How runs are cancelled: graceful by default.
#[derive(Debug, Args, Clone, Default)]
pub struct ModeArgs {
    /// Stop the runs now, without cleanup (Temporal terminate, Restate kill); refused by a
    /// backend that has no such mode (Upstash, Agno, LangGraph).
    #[arg(long)]
    pub force: bool,

    /// Why, recorded with the cancel where the provider records one (Temporal); refused by a
    /// backend that would drop it (Upstash, Agno, Restate, LangGraph).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

impl Command {
    /// The `--namespace` of the command, if any.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Command::Cancel(a) => a.temporal.namespace.as_deref(),
            Command::Status(a) => a.temporal.namespace.as_deref(),
            Command::Bulk(a) => a.namespace.as_deref(),
            Command::List(a) => a.namespace.as_deref(),
            Command::Emulate(_) => None,
        }
    }
}

impl ModeArgs {
    /// The library's options for these flags.
    pub fn options(&self) -> wfcancel::CancelOptions {
        let mut o = if self.force {
            wfcancel::CancelOptions::forced()
        } else {
            wfcancel::CancelOptions::graceful()
        };
        if let Some(r) = &self.reason {
            o = o.reason(r.clone());
        }
        o
    }
}

/// `wfcancel bulk`.
#[derive(Debug, Args)]
pub struct BulkArgs {
    #[command(flatten)]
    pub mode: ModeArgs,

    /// Cancel the ids in this file, one per line (`-` for stdin; blank lines and # comments
    /// skipped). A line may be a run address (restate:inv_…, langgraph:thread/T/R, …).
    #[arg(long, value_name = "PATH|-", conflicts_with_all = FILTER_ARGS, conflicts_with = "all")]
    pub ids_file: Option<String>,

    #[command(flatten)]
    pub filter: FilterArgs,

    /// Runs cancelled per filtered request (default 100; Restate: invocations per page).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub page_size: Option<u32>,

    /// Repeat a filtered (or --all) cancel until nothing is left.
    #[arg(long)]
    pub drain: bool,

    /// Cancel the running workflows this visibility query selects, in one server-side batch
    /// operation (Temporal; needs --yes), e.g. 'WorkflowType = "Nightly" AND ExecutionStatus = "Running"'.
    #[arg(long, value_name = "QUERY", conflicts_with_all = FILTER_ARGS, conflicts_with_all = ["all", "ids_file", "workflow"])]
    pub query: Option<String>,

    /// Cancel EVERY active run the credentials reach (needs --yes) (Upstash, Temporal, Restate,
    /// LangGraph).
    #[arg(long, conflicts_with_all = FILTER_ARGS)]
    pub all: bool,

    /// Confirm --all (and, on Temporal, Restate and LangGraph, a filter or --query: it cannot be
    /// undone).
    #[arg(long)]
    pub yes: bool,

    /// Wait until the provider's background bulk action is over and print its counts
    /// (Temporal: the batch operation).
    #[arg(long, conflicts_with = "ids_file")]
    pub wait: bool,

    /// The namespace (Temporal; overrides TEMPORAL_NAMESPACE).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,

    #[command(flatten)]
    pub owner: OwnerArgs,

    /// The session every run belongs to (Agno).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    /// Requests in flight at once (default 32).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub concurrency: Option<u32>,

    /// Print the requests that would be sent, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// The filter flags `bulk` and `list` share (with `--workflow`, which is in [`OwnerArgs`]).
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Runs whose workflow URL is exactly this one (Upstash).
    #[arg(long, value_name = "URL", conflicts_with = "url_prefix")]
    pub url_exact: Option<String>,

    /// Runs whose workflow URL starts with this (Upstash).
    #[arg(long, value_name = "URL")]
    pub url_prefix: Option<String>,

    /// Runs with this label (repeat for any of several) (Upstash).
    #[arg(long = "label", value_name = "L")]
    pub labels: Vec<String>,

    /// Runs created (Temporal: started) at or after TIME: RFC 3339, epoch ms, or an age like 2h
    /// (Upstash, Temporal, Restate).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<SystemTime>,

    /// Runs created (Temporal: started) at or before TIME: RFC 3339, epoch ms, or an age like 30m
    /// (Upstash, Temporal, Restate).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<SystemTime>,

    /// Runs started from this caller IP (repeat for any of several) (Upstash).
    #[arg(long = "caller-ip", value_name = "IP")]
    pub caller_ips: Vec<String>,

    /// Runs with this flow-control key (repeat for any of several) (Upstash).
    #[arg(long = "flow-control-key", value_name = "K")]
    pub flow_control_keys: Vec<String>,

    /// Runs whose workflow URL host is H, e.g. api.example.com: no port, any case (repeat for
    /// any of several) (Upstash).
    #[arg(long = "host", value_name = "H")]
    pub hosts: Vec<String>,

    /// Runs whose workflow URL path is exactly P, e.g. /api/workflow: no query (repeat for any
    /// of several) (Upstash).
    #[arg(long = "path", value_name = "P")]
    pub paths: Vec<String>,

    /// Runs in this state (repeat for any of several). `bulk`: pending or running (LangGraph,
    /// needs --yes); pending, running or paused (Restate; default: every invocation not
    /// completed). `list`: any state the backend reports (default: every state).
    #[arg(long = "state", value_name = "STATE", value_parser = parse_state)]
    pub states: Vec<RunState>,

    /// Invocations of this handler of the service (Restate).
    #[arg(long, value_name = "NAME")]
    pub handler: Option<String>,

    /// Invocations of the virtual object or workflow with this key (Restate).
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

/// The filter flags (ids and --all conflict with each of them).
const FILTER_ARGS: [&str; 12] = [
    "states",
    "handler",
    "key",
    "url_exact",
    "url_prefix",
    "labels",
    "from",
    "to",
    "caller_ips",
    "flow_control_keys",
    "hosts",
    "paths",
];

/// A run state named on the command line (`--state`).
fn parse_state(s: &str) -> Result<RunState, String> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "pending" => RunState::Pending,
        "running" => RunState::Running,
        "paused" | "suspended" => RunState::Paused,
        "cancelling" => RunState::Cancelling,
        "completed" => RunState::Completed,
        "failed" => RunState::Failed,
        "cancelled" => RunState::Cancelled,
        "terminated" => RunState::Terminated,
        "timed-out" | "timed_out" => RunState::TimedOut,
        other => {
            return Err(format!(
                "{other:?} is not a state: pending, running, paused, cancelling, completed, failed, cancelled, \
                 terminated or timed-out"
            ));
        }
    })
}

/// `wfcancel list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,

    #[command(flatten)]
    pub owner: OwnerArgs,

    /// At most this many runs (one page; default 50, at most 1000).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,

    /// Continue after the page that printed this cursor.
    #[arg(long, value_name = "CURSOR", conflicts_with = "count")]
    pub cursor: Option<String>,

    /// Print how many runs the filter hits instead of listing them.
    #[arg(long)]
    pub count: bool,

    /// The namespace (Temporal; overrides TEMPORAL_NAMESPACE).
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
}

/// `wfcancel status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The run.
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,

    #[command(flatten)]
    pub owner: OwnerArgs,

    /// The session the run belongs to (Agno needs it to read a run).
    #[arg(long, value_name = "ID")]
    pub session: Option<String>,

    #[command(flatten)]
    pub temporal: TemporalArgs,
}

/// `wfcancel emulate`.
#[derive(Debug, Args)]
pub struct EmulateArgs {
    /// Which provider to emulate.
    #[arg(value_enum, value_name = "upstash|agno")]
    pub provider: EmulatedArg,

    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,

    /// The emulator's own token (default: a random one).
    #[arg(long, value_name = "T")]
    pub token: Option<String>,

    /// How many active runs to create at start.
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub seed: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
