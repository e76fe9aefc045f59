//! The command line, as clap sees it.

use std::time::{Duration, SystemTime};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::scenario::{ScenarioSpec, parse_scenario};
use crate::timearg::{parse_duration, parse_time};
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
  WFCANCEL_EMULATOR_TOKEN     the token `wfcancel emulate` serves with (default: a random one)
A token is never taken on the command line: --token-env NAME reads it from another variable.
A run may be given as its address wherever a run id is (arguments, --ids-file lines), e.g.
restate:inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O or langgraph:thread/<thread-id>/<run-id>; runs that
name another backend than the configured one go to that backend, configured from its own variables.

A bulk by filter, --query or --all shows what it will hit and asks [y/N] on a terminal; without
a terminal it needs --yes. NO_COLOR (any value) turns colours off, as --color never does.

Exit codes: 0 all cancelled / requested / not active; 1 provider or transport failure;
2 usage, configuration or invalid input, or a bulk not confirmed (nothing sent); 3 a bulk where
some runs succeeded and some failed.";

const CONNECTION: &str = "Connection options";
const GLOBAL: &str = "Output options";

/// Cancel workflow runs on Upstash Workflow, Agno AgentOS, Temporal, Restate or LangGraph.
#[derive(Debug, Parser)]
#[command(name = "wfcancel", version, about, after_help = ENV_HELP, propagate_version = true)]
pub struct Cli {
    /// How to reach the provider: given before the subcommand or after it (`cancel`, `bulk`,
    /// `status`; not `emulate`, which serves rather than connects). See [`Cli::merge_connection`].
    #[command(flatten)]
    pub conn: ConnArgs,

    /// Output format: text (default), or json: one JSON object per line, each with a "type".
    #[arg(short = 'o', long = "output", global = true, value_enum, value_name = "text|json", hide_possible_values = true, help_heading = GLOBAL)]
    pub output: Option<OutputFormat>,

    /// Same as -o json.
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Colour the outcomes: auto (when stdout is a terminal and NO_COLOR is not set), always or
    /// never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value = "auto", hide_possible_values = true, help_heading = GLOBAL)]
    pub color: crate::output::ColorChoice,

    /// Log requests to stderr, and a line per drain round (-vv for more). Tokens are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// `-o text|json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Lines for people.
    Text,
    /// One JSON object per line, each with a "type".
    Json,
}

/// The flags that say how to reach the provider. Not global (so that `emulate`, which reaches
/// no provider, does not show them): flattened into the top level and into each subcommand that
/// connects, then merged, so that `wfcancel --backend agno cancel X` and `wfcancel cancel X
/// --backend agno` both work.
#[derive(Debug, Clone, Default, Args)]
pub struct ConnArgs {
    /// The orchestrator (overrides WFCANCEL_BACKEND).
    #[arg(long, value_enum, value_name = "upstash|agno|temporal|restate|langgraph", hide_possible_values = true, help_heading = CONNECTION)]
    pub backend: Option<BackendArg>,

    /// The provider's base URL (overrides QSTASH_URL / AGENTOS_URL / TEMPORAL_HTTP_ADDRESS /
    /// RESTATE_ADMIN_URL / LANGGRAPH_API_URL; for Temporal, the HTTP API's base URL, not the gRPC
    /// address; for Restate, the admin API's, not the ingress).
    #[arg(long, value_name = "URL", help_heading = CONNECTION)]
    pub url: Option<String>,

    /// Read the token from this environment variable instead of QSTASH_TOKEN / OS_SECURITY_KEY /
    /// TEMPORAL_API_KEY / RESTATE_AUTH_TOKEN / LANGGRAPH_API_KEY.
    #[arg(long = "token-env", value_name = "NAME", help_heading = CONNECTION)]
    pub token_env: Option<String>,

    /// Allow plain http:// to a host that is not loopback (e.g. an AgentOS on a private network).
    /// The token then travels unencrypted. Also WFCANCEL_ALLOW_INSECURE_HTTP=1.
    #[arg(long = "allow-insecure-http", help_heading = CONNECTION)]
    pub allow_insecure_http: bool,

    /// Timeout of each request (default 30s), e.g. 30s, 2m, 1m30s; a bare number is seconds.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = CONNECTION)]
    pub timeout: Option<Duration>,

    /// How many times a failed request is retried (default 4; 0 = never).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100), help_heading = CONNECTION)]
    pub retries: Option<u32>,
}

impl ConnArgs {
    /// `later`'s flags over these (a flag after the subcommand wins over the same before it).
    fn merge(&mut self, later: &ConnArgs) {
        if later.backend.is_some() {
            self.backend = later.backend;
        }
        if later.url.is_some() {
            self.url.clone_from(&later.url);
        }
        if later.token_env.is_some() {
            self.token_env.clone_from(&later.token_env);
        }
        self.allow_insecure_http |= later.allow_insecure_http;
        if later.timeout.is_some() {
            self.timeout = later.timeout;
        }
        if later.retries.is_some() {
            self.retries = later.retries;
        }
    }

    /// The flags given, by name.
    pub fn given(&self) -> Vec<&'static str> {
        [
            (self.backend.is_some(), "--backend"),
            (self.url.is_some(), "--url"),
            (self.token_env.is_some(), "--token-env"),
            (self.allow_insecure_http, "--allow-insecure-http"),
            (self.timeout.is_some(), "--timeout"),
            (self.retries.is_some(), "--retries"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect()
    }
}

impl Cli {
    /// Whether to print JSON (`-o json` or `--json`).
    pub fn json_output(&self) -> bool {
        self.json || self.output == Some(OutputFormat::Json)
    }

    /// Folds the subcommand's connection flags into [`Cli::conn`]: after this, `conn` holds
    /// every connection flag wherever it was written.
    pub fn merge_connection(mut self) -> Self {
        let later = match &self.command {
            Command::Cancel(a) => Some(a.conn.clone()),
            Command::Bulk(a) => Some(a.conn.clone()),
            Command::Status(a) => Some(a.conn.clone()),
            Command::List(a) => Some(a.conn.clone()),
            _ => None,
        };
        if let Some(later) = later {
            self.conn.merge(&later);
        }
        self
    }
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
    /// A fault-injecting proxy in front of any provider's server, real or emulated
    /// (--upstream URL --flavor NAME, and the fault flags).
    Proxy,
}

/// Whose error shape the proxy's own fault answers take (`emulate proxy --flavor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlavorArg {
    /// `{"error": …}` and Upstash's rate-limit headers.
    Upstash,
    /// `{"detail": …}` (AgentOS).
    Agno,
    /// `{"code": <gRPC code>, "message": …}` (Temporal's HTTP API).
    Temporal,
    /// `{"message": …}` (Restate's admin API).
    Restate,
    /// `{"detail": …}` (LangGraph's Agent Server).
    #[value(name = "langgraph")]
    LangGraph,
}

/// The subcommands.
// Parsed once per process: the size of the largest variant costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Cancel one or more runs by id.
    #[command(after_help = CANCEL_EXAMPLES)]
    Cancel(CancelArgs),
    /// Cancel many runs: ids from a file or stdin, a filter, or everything.
    #[command(after_help = BULK_EXAMPLES)]
    Bulk(BulkArgs),
    /// Show a run's state.
    #[command(after_help = STATUS_EXAMPLES)]
    Status(StatusArgs),
    /// See the runs a filter hits (the same filter flags as bulk), before cancelling them.
    #[command(after_help = LIST_EXAMPLES)]
    List(ListArgs),
    /// Serve a local emulator of a provider (for trying wfcancel out) until Ctrl-C.
    #[command(after_help = EMULATE_EXAMPLES)]
    Emulate(EmulateArgs),
    /// Print a shell completion script to stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the man page (roff) to stdout.
    #[command(after_help = MAN_EXAMPLES)]
    Man,
}

const CANCEL_EXAMPLES: &str = "\
Examples:
  wfcancel cancel wfr_8a1f                              # Upstash (WFCANCEL_BACKEND=upstash)
  wfcancel cancel wfr_1 wfr_2 wfr_3 -o json              # several runs: one JSON record each, in this order
  wfcancel cancel run-9 --workflow nightly --wait --wait-timeout 2m   # Agno: wait until it is over
  wfcancel cancel order-42 --backend temporal --force --reason 'bad deploy'   # terminate, reason recorded
  wfcancel cancel restate:inv_1gthrFzPawmA6hIx3l7fcamBDa2GMa3l3O      # a run address names its backend";

const BULK_EXAMPLES: &str = "\
Examples:
  wfcancel bulk --label nightly                         # shows how many it hits, then asks [y/N]
  wfcancel bulk --ids-file stuck.txt                    # one id (or run address) per line
  grep -o 'wfr_[A-Za-z0-9]*' app.log | wfcancel bulk --ids-file -
  wfcancel bulk --ids-file stuck.txt --journal stuck.journal   # killed? the same command finishes the rest
  wfcancel bulk --url-prefix https://api.example.com/wf/ --from 2h --drain --yes   # in a script: no question
  wfcancel bulk --host api.example.com --path /api/orders --from 2026-11-27T10:00:00Z --to 30m --dry-run
  wfcancel bulk --all --dry-run                         # the requests --all would send; nothing is sent
  wfcancel bulk --all --drain --yes                     # every active run the token reaches
  wfcancel bulk --backend temporal --workflow Nightly --yes --wait --reason cleanup";

const STATUS_EXAMPLES: &str = "\
Examples:
  wfcancel status wfr_8a1f                              # prints: <state> <run>
  wfcancel status run-9 --workflow nightly --session s1 -o json
  wfcancel status langgraph:thread/<thread-id>/<run-id>";

const LIST_EXAMPLES: &str = "\
Examples:
  wfcancel --backend temporal list --workflow Checkout --state running   # what bulk would hit
  wfcancel --backend temporal list --workflow Checkout --count           # how many
  wfcancel --backend restate list --workflow Orders --from 2h -o json --limit 1000
  wfcancel --backend upstash list --label nightly --cursor '<cursor from the last page>'";

const EMULATE_EXAMPLES: &str = "\
Examples:
  wfcancel emulate upstash --seed 50                    # prints the export line to reach it
  eval \"$(wfcancel emulate agno | head -1)\"            # (in another terminal) then try wfcancel on it
  WFCANCEL_EMULATOR_TOKEN=dev-token wfcancel emulate upstash --port 8080 -o json
  wfcancel emulate proxy --upstream http://127.0.0.1:7243 --flavor temporal --errors 20% --throttle 5% --drops 2%
  wfcancel emulate proxy --upstream http://127.0.0.1:9070 --flavor restate --latency 20ms --jitter 30ms --fault-seed 7
  wfcancel emulate proxy --upstream http://127.0.0.1:8080 --flavor upstash --scenario html=503,times=2 --scenario echo-token,method=DELETE";

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  wfcancel completions bash > ~/.local/share/bash-completion/completions/wfcancel
  wfcancel completions zsh > \"${fpath[1]}/_wfcancel\"
  wfcancel completions fish > ~/.config/fish/completions/wfcancel.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  wfcancel man > /usr/local/share/man/man1/wfcancel.1
  wfcancel man | man -l -";

/// `wfcancel completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
    #[command(flatten)]
    pub conn: ConnArgs,

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

    /// How long --wait waits (default 60s), e.g. 90s, 5m, 1h30m; a bare number is seconds.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
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
            Command::Emulate(_) | Command::Completions(_) | Command::Man => None,
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
    pub conn: ConnArgs,

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
    /// operation (Temporal), e.g. 'WorkflowType = "Nightly" AND ExecutionStatus = "Running"'.
    #[arg(long, value_name = "QUERY", conflicts_with_all = FILTER_ARGS, conflicts_with_all = ["all", "ids_file", "workflow"])]
    pub query: Option<String>,

    /// Cancel EVERY active run the credentials reach (Upstash, Temporal, Restate, LangGraph).
    #[arg(long, conflicts_with_all = FILTER_ARGS)]
    pub all: bool,

    /// Go ahead without asking. A bulk by filter, --query or --all shows what it will hit and
    /// asks first on a terminal; without a terminal it refuses unless --yes is given. (Not for
    /// --ids-file, which needs no confirmation.)
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

    /// Show the runs it would hit (where the server can be asked) and print the requests that
    /// would be sent; send nothing. Needs neither --yes nor a token.
    #[arg(long)]
    pub dry_run: bool,

    /// With --ids-file: record each run's outcome in FILE as it happens (JSON lines, synced per
    /// batch); running the same command again with the same FILE skips the runs already done
    /// and finishes the rest.
    #[arg(long, value_name = "FILE")]
    pub journal: Option<String>,
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

    /// Runs created (Temporal: started) at or after TIME: RFC 3339 (2026-11-27T10:00:00Z), an
    /// age meaning that long ago (2h, 1h30m, 7d), or epoch ms (Upstash, Temporal, Restate).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<SystemTime>,

    /// Runs created (Temporal: started) at or before TIME: RFC 3339 (2026-11-27T10:00:00Z), an
    /// age meaning that long ago (30m, 1h30m), or epoch ms (Upstash, Temporal, Restate).
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

    /// Runs in this state (repeat for any of several). `bulk`: pending or running
    /// (LangGraph); pending, running or paused (Restate; default: every invocation not
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
    pub conn: ConnArgs,

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
    #[command(flatten)]
    pub conn: ConnArgs,

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
    /// Which provider to emulate, or `proxy`: faults in front of a real server.
    #[arg(value_enum, value_name = "upstash|agno|proxy")]
    pub provider: EmulatedArg,

    /// Port on 127.0.0.1 (0 = any free port).
    #[arg(long, value_name = "P", default_value_t = 0)]
    pub port: u16,

    /// Refused: the emulator's token is read from WFCANCEL_EMULATOR_TOKEN (default: a random
    /// one), never from the command line, where other users can read it.
    #[arg(long, value_name = "T", hide = true)]
    pub token: Option<String>,

    /// How many active runs to create at start (upstash, agno).
    #[arg(long, value_name = "N", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub seed: u32,

    /// proxy: the server to forward to (plain http, e.g. http://127.0.0.1:7243 for Temporal's
    /// HTTP API).
    #[arg(long, value_name = "URL", help_heading = PROXY)]
    pub upstream: Option<String>,

    /// proxy: whose error shape its fault answers take (required with proxy).
    #[arg(long, value_enum, value_name = "upstash|agno|temporal|restate|langgraph", hide_possible_values = true, help_heading = PROXY)]
    pub flavor: Option<FlavorArg>,

    /// proxy: fraction of requests answered with a 5xx (503 unless --error-status), 0 to 1.
    #[arg(long, value_name = "F", value_parser = parse_fraction, default_value_t = 0.0, help_heading = PROXY)]
    pub errors: f64,

    /// proxy: the status of those answers (500 to 599).
    #[arg(long, value_name = "CODE", value_parser = clap::value_parser!(u16).range(500..=599), default_value_t = 503, help_heading = PROXY)]
    pub error_status: u16,

    /// proxy: fraction of requests answered 429 (with Retry-After and the rate-limit headers).
    #[arg(long, value_name = "F", value_parser = parse_fraction, default_value_t = 0.0, help_heading = PROXY)]
    pub throttle: f64,

    /// proxy: the Retry-After of those 429s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1s", help_heading = PROXY)]
    pub retry_after: Duration,

    /// proxy: fraction of connections closed without an answer, before forwarding.
    #[arg(long, value_name = "F", value_parser = parse_fraction, default_value_t = 0.0, help_heading = PROXY)]
    pub drops: f64,

    /// proxy: fraction of requests forwarded (the upstream acts) whose answer is then lost.
    #[arg(long, value_name = "F", value_parser = parse_fraction, default_value_t = 0.0, help_heading = PROXY)]
    pub drop_after: f64,

    /// proxy: added latency per request (e.g. 20ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = PROXY)]
    pub latency: Option<Duration>,

    /// proxy: up to this much more latency, at random (e.g. 50ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help_heading = PROXY)]
    pub jitter: Option<Duration>,

    /// proxy: seed of the fault dice (the same seed, the same faults for the same requests).
    #[arg(long = "fault-seed", value_name = "N", help_heading = PROXY)]
    pub fault_seed: Option<u64>,

    /// proxy: a canned misbehaviour for the requests it matches (repeatable, first match wins),
    /// e.g. html=503,times=1 or echo-token,method=DELETE.
    ///
    /// Tried in the order given: the first rule matching a request answers it (a rule whose
    /// times=N are used up is gone). SPEC:
    /// NAME[=ARG][,method=METHOD][,path=SUFFIX][,prefix=PREFIX][,times=N], NAME one of hang,
    /// drop, drop-after (forwarded, answer lost), trickle[=INTERVAL] (100ms), huge[=BYTES]
    /// (10MiB; also 512KiB, 5MB or plain bytes), not-json, html[=STATUS] (502), redirect[=URL]
    /// (http://elsewhere.invalid/; no commas in it), echo-token[=STATUS] (401: the request's
    /// token echoed back, raw, \/-escaped, \u-escaped and percent-encoded).
    #[arg(long = "scenario", value_name = "SPEC", value_parser = parse_scenario, help_heading = PROXY)]
    pub scenarios: Vec<ScenarioSpec>,
}

const PROXY: &str = "Proxy options (emulate proxy)";

/// A fraction between 0 and 1 (`0.2`, or `20%`).
fn parse_fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let v = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .map_err(|_| format!("{s:?} is not a fraction: expected a number from 0 to 1 (0.2) or a percentage (20%)"))?;
    if !(0.0..=1.0).contains(&v) || v.is_nan() {
        return Err(format!("{s:?} is out of range: expected 0 to 1 (0.2) or 0% to 100%"));
    }
    Ok(v)
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
