//! Choosing the backend and building its canceller from the environment and the global flags.

use std::time::Duration;

use std::sync::Arc;
use wfcancel::HttpConfig;
use wfcancel::agno::{AgnoCanceller, AgnoCancellerBuilder};
use wfcancel::backend::http::DEFAULT_CONNECT_TIMEOUT;
use wfcancel::langgraph::{LangGraphCanceller, LangGraphCancellerBuilder};
use wfcancel::restate::{RestateCanceller, RestateCancellerBuilder};
use wfcancel::temporal::{TemporalCanceller, TemporalCancellerBuilder};
use wfcancel::upstash::{UpstashBuilder, UpstashCanceller};

use wfcancel::{
    BACKEND_ENV, Backend, BulkOptions, CancelError, ConfigProblem, ConfigSetting, Router, RunRef, SecretToken,
    Selector, WorkflowCanceller,
};

use crate::cli::{BackendArg, Cli, Command};
use crate::error::Failure;

/// Reads one environment variable.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The canceller, with what the command line needs beyond the trait (plans for `--dry-run`).
#[derive(Debug)]
pub struct Client {
    inner: Inner,
    /// Set when the canceller was built with a placeholder token for a dry run (no token was
    /// configured): it may plan requests, never send them. Holds why (the missing-token message).
    planning_only: Option<String>,
    /// The HTTP settings of the command, for the other backends that run addresses name.
    http: HttpConfig,
    /// `--timeout`, when given (a bulk's preview is bounded by it, else by its own default).
    timeout_flag: Option<Duration>,
    /// The other backends built so far (from their own environment), by name.
    others: std::sync::Mutex<std::collections::BTreeMap<&'static str, Arc<dyn WorkflowCanceller>>>,
}

#[derive(Debug)]
enum Inner {
    Upstash(UpstashCanceller),
    Agno(AgnoCanceller),
    Temporal(TemporalCanceller),
    Restate(RestateCanceller),
    LangGraph(LangGraphCanceller),
}

/// One request a dry run shows: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Sent repeatedly (drain), at most this many times.
    pub repeat: Option<u32>,
    /// The JSON body, where it says what the request does (a Temporal batch's query).
    pub body: Option<String>,
}

/// The token a dry run plans with when none is configured. It is never sent: a client holding
/// it is `planning_only`, and the commands refuse to send with such a client.
const DRY_RUN_PLACEHOLDER_TOKEN: &str = "wfcancel-dry-run-placeholder";

/// The backends a run's address may name on the command line: an argument or a line of
/// `--ids-file` that starts with `upstash:`, `agno:`, `temporal:`, `restate:` or `langgraph:` is
/// read as an address.
pub const ADDRESS_BACKENDS: &[&str] = &["upstash", "agno", "temporal", "restate", "langgraph"];

impl Client {
    fn new(inner: Inner) -> Self {
        Client {
            inner,
            planning_only: None,
            http: HttpConfig::default(),
            timeout_flag: None,
            others: std::sync::Mutex::default(),
        }
    }

    fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// `--timeout`, when given.
    pub fn timeout_flag(&self) -> Option<Duration> {
        self.timeout_flag
    }

    /// The configured canceller, shared.
    pub fn shared(&self) -> Arc<dyn WorkflowCanceller> {
        match &self.inner {
            Inner::Upstash(c) => Arc::new(c.clone()),
            Inner::Agno(c) => Arc::new(c.clone()),
            Inner::Temporal(c) => Arc::new(c.clone()),
            Inner::Restate(c) => Arc::new(c.clone()),
            Inner::LangGraph(c) => Arc::new(c.clone()),
        }
    }

    /// The canceller for `runs`: the configured one when no run names a backend (an address);
    /// otherwise a [`Router`] holding it and every other backend the addresses name, each built
    /// from its own environment (`QSTASH_*`, `AGENTOS_URL`, …; `--url` and `--token-env` apply to
    /// the configured backend only). Runs given as plain ids are the configured backend's.
    pub fn for_runs(&self, runs: &mut [RunRef]) -> Result<Arc<dyn WorkflowCanceller>, Failure> {
        if runs.iter().all(|r| r.backend_name().is_none()) {
            return Ok(self.shared());
        }
        let main = self.name();
        let mut router = Router::new().with(self.shared());
        let mut others = match self.others.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for run in runs.iter_mut() {
            let Some(name) = run.backend_name() else {
                *run = run.clone().backend(main);
                continue;
            };
            if name == main {
                continue;
            }
            let name: &'static str = match ADDRESS_BACKENDS.iter().find(|b| **b == name) {
                Some(b) => b,
                None => {
                    return Err(Failure::usage(format!(
                        "{run}: the command reaches {} only",
                        ADDRESS_BACKENDS.join(", ")
                    )));
                }
            };
            if !others.contains_key(name) {
                let c = build_from_env(name, self.http.clone())?;
                others.insert(name, c);
            }
        }
        for c in others.values() {
            router = router.with(c.clone());
        }
        Ok(Arc::new(router))
    }

    pub fn canceller(&self) -> &dyn WorkflowCanceller {
        match &self.inner {
            Inner::Upstash(c) => c,
            Inner::Agno(c) => c,
            Inner::Temporal(c) => c,
            Inner::Restate(c) => c,
            Inner::LangGraph(c) => c,
        }
    }

    /// Whether a bulk by filter, query or `--all` is one server-side batch that cannot be undone
    /// (Temporal): `--wait` waits for it, and it has no rounds or pages.
    pub fn runs_batches(&self) -> bool {
        matches!(self.inner, Inner::Temporal(_))
    }

    /// The Temporal canceller, when that is the backend (a bulk's preview counts with the
    /// batch's own visibility query).
    pub fn temporal(&self) -> Option<&TemporalCanceller> {
        match &self.inner {
            Inner::Temporal(c) => Some(c),
            _ => None,
        }
    }

    /// Whether the backend's bulk by ids answers counts per request rather than outcomes per
    /// run (Upstash): the command then prints a line per request.
    pub fn bulk_counts_only(&self) -> bool {
        matches!(self.inner, Inner::Upstash(_))
    }

    /// Checks the runs a command names before any request, each with the rules of the backend
    /// it goes to (Restate: an invocation id; LangGraph: run and thread UUIDs): a malformed run
    /// is a usage error (exit 2) and nothing is sent, not even for the well-formed ones.
    pub fn check_runs(&self, runs: &[RunRef]) -> Result<(), Failure> {
        for run in runs {
            let checked = match run.backend_name().unwrap_or(self.name()) {
                "restate" => RestateCanceller::check_run(run),
                "langgraph" => LangGraphCanceller::check_run(run),
                _ => Ok(()),
            };
            if let Err(e) = checked {
                let mut f = Failure::from(e);
                if run.backend_name().is_some() {
                    // The message names the id; the address says which line or argument it was.
                    f.message = format!("{}: {}", crate::output::printable(&run.to_string()), f.message);
                }
                if run.backend_name().unwrap_or(self.name()) == "langgraph" && run.owner().is_none() {
                    // The library's words name its API; the command's name the flag and the address.
                    f.message = format!(
                        "{}: langgraph needs the thread of each run given by its id",
                        crate::output::printable(&run.to_string())
                    );
                    f = f.hint("pass --thread THREAD_ID, or give the run as langgraph:thread/THREAD_ID/RUN_ID");
                }
                return Err(f);
            }
        }
        Ok(())
    }

    /// Whether a run may name its run id under the workflow id (`--run-id`: Temporal).
    pub fn takes_run_ids(&self) -> bool {
        matches!(self.inner, Inner::Temporal(_))
    }

    pub fn name(&self) -> &'static str {
        self.canceller().backend()
    }

    /// Why this client may only plan (no token configured), or `None` when it may send.
    pub fn planning_only(&self) -> Option<&str> {
        self.planning_only.as_deref()
    }

    /// The base URL (safe to print: it never carries credentials).
    pub fn base_url(&self) -> String {
        match &self.inner {
            Inner::Upstash(c) => c.base_url().to_string(),
            Inner::Agno(c) => c.base_url().to_string(),
            Inner::Temporal(c) => c.base_url().to_string(),
            Inner::Restate(c) => c.admin_url().to_string(),
            Inner::LangGraph(c) => c.base_url().to_string(),
        }
    }

    /// The requests `cancel_many(selector, opts)` would send.
    pub fn plan(&self, selector: &Selector, opts: &BulkOptions) -> Result<Vec<Planned>, CancelError> {
        match &self.inner {
            Inner::Upstash(c) => Ok(c
                .plan(selector, opts)?
                .into_iter()
                .map(|r| Planned {
                    method: r.method.to_string(),
                    path: r.path().to_owned(),
                    query: r.query().map(str::to_owned),
                    repeat: (r.max_sends > 1).then_some(r.max_sends),
                    body: None,
                })
                .collect()),
            Inner::Agno(c) => Ok(c
                .plan(selector)?
                .into_iter()
                .map(|r| Planned {
                    method: r.method.to_string(),
                    path: r.path().to_owned(),
                    query: r.query().map(str::to_owned),
                    repeat: None,
                    body: None,
                })
                .collect()),
            Inner::Temporal(c) => {
                let planned = |r: wfcancel::temporal::PlannedRequest| Planned {
                    method: r.method.to_string(),
                    path: r.path().to_owned(),
                    query: r.url.query().map(str::to_owned),
                    repeat: None,
                    body: r.body.as_ref().map(ToString::to_string),
                };
                match selector {
                    // Graceful: a describe, then (when it runs) the cancel; forced: the terminate.
                    Selector::Ids(runs) => {
                        let mut out = Vec::new();
                        for run in runs {
                            if opts.cancel.mode != wfcancel::CancelMode::Forced {
                                out.push(planned(c.describe_request(run)?));
                            }
                            out.push(planned(c.cancel_request(run, &opts.cancel)?));
                        }
                        Ok(out)
                    }
                    other => Ok(vec![planned(c.batch_request(other, &opts.cancel)?)]),
                }
            }
            Inner::Restate(c) => {
                let planned = |r: wfcancel::restate::PlannedRequest| Planned {
                    method: r.method.to_string(),
                    path: r.path().to_owned(),
                    query: r.url.query().map(str::to_owned),
                    repeat: None,
                    body: r.body.as_ref().map(ToString::to_string),
                };
                match selector {
                    Selector::Ids(runs) => runs
                        .iter()
                        .map(|run| c.cancel_request(run, &opts.cancel).map(planned))
                        .collect(),
                    other => Ok(vec![planned(
                        c.bulk_request(other, opts.page_size_or(wfcancel::restate::BULK_PAGE_SIZE))?,
                    )]),
                }
            }
            Inner::LangGraph(c) => Ok(c
                .plan(selector)?
                .into_iter()
                .map(|r| Planned {
                    method: r.method.to_string(),
                    path: r.path().to_owned(),
                    query: r.url.query().map(str::to_owned),
                    repeat: None,
                    body: r.body.as_ref().map(ToString::to_string),
                })
                .collect()),
        }
    }
}

/// Another backend than the configured one, from its own environment, for run addresses.
fn build_from_env(name: &str, http: HttpConfig) -> Result<Arc<dyn WorkflowCanceller>, Failure> {
    let built: Result<Arc<dyn WorkflowCanceller>, CancelError> = match name {
        "upstash" => UpstashBuilder::from_env()
            .http_config(http)
            .build()
            .map(|c| Arc::new(c) as Arc<dyn WorkflowCanceller>),
        "temporal" => TemporalCancellerBuilder::from_env()
            .http_config(http)
            .build()
            .map(|c| Arc::new(c) as Arc<dyn WorkflowCanceller>),
        "restate" => RestateCancellerBuilder::from_env()
            .http_config(http)
            .build()
            .map(|c| Arc::new(c) as Arc<dyn WorkflowCanceller>),
        "langgraph" => LangGraphCancellerBuilder::from_env()
            .http_config(http)
            .build()
            .map(|c| Arc::new(c) as Arc<dyn WorkflowCanceller>),
        _ => AgnoCancellerBuilder::from_env()
            .http_config(http)
            .build()
            .map(|c| Arc::new(c) as Arc<dyn WorkflowCanceller>),
    };
    built.map_err(|e| {
        Failure::config(format!(
            "runs given by address name {name}, which is not configured: {}",
            e.message()
        ))
        .hint(format!(
            "set {name}'s variables (see `wfcancel --help`), or give those runs to a separate command"
        ))
    })
}

/// `--backend`, else `WFCANCEL_BACKEND`, else a clear error.
pub fn resolve_backend(arg: Option<BackendArg>, lookup: Lookup<'_>) -> Result<BackendArg, Failure> {
    if let Some(b) = arg {
        return Ok(b);
    }
    let Some(raw) = lookup(BACKEND_ENV).filter(|v| !v.trim().is_empty()) else {
        return Err(Failure::config("no backend chosen").hint(format!(
            "pass --backend upstash|agno|temporal|restate|langgraph, or set {BACKEND_ENV} to upstash, agno, \
             temporal, restate or langgraph"
        )));
    };
    match raw.parse::<Backend>() {
        Ok(Backend::Upstash) => Ok(BackendArg::Upstash),
        Ok(Backend::Agno) => Ok(BackendArg::Agno),
        Ok(Backend::Temporal) => Ok(BackendArg::Temporal),
        Ok(Backend::Restate) => Ok(BackendArg::Restate),
        Ok(Backend::LangGraph) => Ok(BackendArg::LangGraph),
        Ok(other) => Err(Failure::config(format!(
            "{BACKEND_ENV}={other}: the {other} backend lives inside one program; the command line cannot reach it"
        ))
        .hint(
            "use upstash, agno, temporal, restate or langgraph; `wfcancel emulate upstash` serves a local Upstash \
             to try things on",
        )),
        Err(_) => Err(
            Failure::config(format!("unknown backend {:?} in {BACKEND_ENV}", raw.trim())).hint(format!(
                "expected {BACKEND_ENV}=upstash, agno, temporal, restate or langgraph (or pass --backend)"
            )),
        ),
    }
}

/// The variable that opts in to plain `http://` for hosts that are not loopback (`1` or `true`).
pub const ALLOW_INSECURE_HTTP_ENV: &str = "WFCANCEL_ALLOW_INSECURE_HTTP";

/// `--allow-insecure-http`, else `WFCANCEL_ALLOW_INSECURE_HTTP` (`1`/`true` on, `0`/`false` or
/// unset off; anything else is an error rather than a guess).
pub fn allow_insecure_http(flag: bool, lookup: Lookup<'_>) -> Result<bool, Failure> {
    if flag {
        return Ok(true);
    }
    let Some(raw) = lookup(ALLOW_INSECURE_HTTP_ENV) else {
        return Ok(false);
    };
    let v = raw.trim();
    if v == "1" || v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.is_empty() || v == "0" || v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(Failure::config(format!(
            "{ALLOW_INSECURE_HTTP_ENV}={v:?}: expected 1 or true (or 0, false, or unset)"
        )))
    }
}

/// The HTTP settings from `--timeout`, `--retries` and `--allow-insecure-http`.
pub fn http_config(timeout: Option<Duration>, retries: Option<u32>, allow_insecure: bool) -> HttpConfig {
    let mut cfg = HttpConfig::default().allow_insecure_http(allow_insecure);
    if let Some(t) = timeout {
        cfg = cfg.request_timeout(t).connect_timeout(t.min(DEFAULT_CONNECT_TIMEOUT));
    }
    let mut retry = cfg.retry;
    if let Some(r) = retries {
        retry = retry.max_attempts(r.saturating_add(1));
    }
    // Leave every attempt its whole timeout (plus backoff) within the retry deadline.
    let budget = cfg.request_timeout.saturating_mul(retry.max_attempts) + Duration::from_secs(30);
    if budget > retry.total_deadline {
        retry = retry.total_deadline(budget);
    }
    cfg.retry(retry)
}

/// Whether `name` may be printed: it has the shape of an environment variable name
/// (`[A-Za-z_][A-Za-z0-9_]*`, shorter than 64 characters). Anything else may be the token itself,
/// pasted by mistake (`--token-env "$QSTASH_TOKEN"`), and is never echoed.
fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() < 64
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The token named by `--token-env`, if given. The argument is echoed only when it has the
/// shape of a variable name: otherwise it may be the token itself.
fn token_from(name: Option<&str>, lookup: Lookup<'_>) -> Result<Option<SecretToken>, Failure> {
    let Some(name) = name else { return Ok(None) };
    if !is_variable_name(name) {
        return Err(Failure::usage(
            "the value given to --token-env is not a variable name (not shown: it may be a token)",
        )
        .hint(
            "--token-env takes the NAME of the variable that holds the token, e.g. --token-env MY_QSTASH_TOKEN \
             (not \"$MY_QSTASH_TOKEN\"); if that was a real token, treat it as exposed in your shell history",
        ));
    }
    match lookup(name).filter(|v| !v.trim().is_empty()) {
        Some(v) => Ok(Some(SecretToken::new(v))),
        None => Err(Failure::config(format!(
            "--token-env {name}: the environment variable {name} is not set or is empty"
        ))
        .hint(format!(
            "export {name}=<token>, or leave out --token-env to use the backend's usual variable"
        ))),
    }
}

/// Builds the canceller the flags and the environment describe.
pub fn build_client(cli: &Cli, lookup: Lookup<'_>) -> Result<Client, Failure> {
    let http = http_config(
        cli.conn.timeout,
        cli.conn.retries,
        allow_insecure_http(cli.conn.allow_insecure_http, lookup)?,
    );
    build_configured(cli, lookup).map(|c| Client {
        timeout_flag: cli.conn.timeout,
        ..c.with_http(http)
    })
}

fn build_configured(cli: &Cli, lookup: Lookup<'_>) -> Result<Client, Failure> {
    let backend = resolve_backend(cli.conn.backend, lookup)?;
    let token = token_from(cli.conn.token_env.as_deref(), lookup)?;
    let insecure = allow_insecure_http(cli.conn.allow_insecure_http, lookup)?;
    let http = http_config(cli.conn.timeout, cli.conn.retries, insecure);
    let dry_run = matches!(&cli.command, Command::Bulk(a) if a.dry_run);
    let explicit_token = token.is_some();
    let namespace = cli.command.namespace();
    if namespace.is_some() && backend != BackendArg::Temporal {
        return Err(Failure::usage(format!(
            "--namespace has no effect with {}: it has no namespaces; leave it out",
            backend_name(backend)
        )));
    }
    match backend {
        BackendArg::Upstash => {
            let mut b = UpstashBuilder::from_env_with(lookup).http_config(http);
            if let Some(url) = &cli.conn.url {
                b = b.base_url(url.clone());
            }
            if let Some(t) = token {
                b = b.token(t);
            }
            match b.clone().build() {
                Ok(c) => Ok(Client::new(Inner::Upstash(c))),
                // A dry run sends nothing, so it needs no token: plan with a placeholder.
                Err(e) if dry_run && !explicit_token && is_missing_token(&e) => {
                    let why = match &e {
                        CancelError::Config { message, .. } => message.replace(" or pass a token to the builder", ""),
                        _ => e.message(),
                    };
                    let c = b
                        .token(SecretToken::new(DRY_RUN_PLACEHOLDER_TOKEN))
                        .build()
                        .map_err(|e| config_failure(e, "upstash", explicit_token))?;
                    Ok(Client {
                        planning_only: Some(why),
                        ..Client::new(Inner::Upstash(c))
                    })
                }
                Err(e) => Err(config_failure(e, "upstash", explicit_token)),
            }
        }
        BackendArg::Agno => {
            let mut b = AgnoCancellerBuilder::from_env_with(lookup).http_config(http);
            if let Some(url) = &cli.conn.url {
                b = b.base_url(url.clone());
            }
            if let Some(t) = token {
                b = b.security_key(t);
            }
            b.build()
                .map(|c| Client::new(Inner::Agno(c)))
                .map_err(|e| config_failure(e, "agno", explicit_token))
        }
        BackendArg::Temporal => {
            let mut b = TemporalCancellerBuilder::from_env_with(lookup).http_config(http);
            if let Some(url) = &cli.conn.url {
                b = b.base_url(url.clone());
            }
            if let Some(t) = token {
                b = b.api_key(t);
            }
            if let Some(ns) = namespace {
                b = b.namespace(ns);
            }
            b.build()
                .map(|c| Client::new(Inner::Temporal(c)))
                .map_err(|e| config_failure(e, "temporal", explicit_token))
        }
        BackendArg::Restate => {
            let mut b = RestateCancellerBuilder::from_env_with(lookup).http_config(http);
            if let Some(url) = &cli.conn.url {
                b = b.admin_url(url.clone());
            }
            if let Some(t) = token {
                b = b.auth_token(t);
            }
            b.build()
                .map(|c| Client::new(Inner::Restate(c)))
                .map_err(|e| config_failure(e, "restate", explicit_token))
        }
        BackendArg::LangGraph => {
            let mut b = LangGraphCancellerBuilder::from_env_with(lookup).http_config(http);
            if let Some(url) = &cli.conn.url {
                b = b.base_url(url.clone());
            }
            if let Some(t) = token {
                b = b.api_key(t);
            }
            b.build()
                .map(|c| Client::new(Inner::LangGraph(c)))
                .map_err(|e| config_failure(e, "langgraph", explicit_token))
        }
    }
}

fn backend_name(b: BackendArg) -> &'static str {
    match b {
        BackendArg::Upstash => "upstash",
        BackendArg::Agno => "agno",
        BackendArg::Temporal => "temporal",
        BackendArg::Restate => "restate",
        BackendArg::LangGraph => "langgraph",
    }
}

/// Whether a configuration error says the token is missing or empty (and nothing else).
fn is_missing_token(e: &CancelError) -> bool {
    e.config_problem() == Some((ConfigSetting::Token, ConfigProblem::Missing))
}

fn config_failure(e: CancelError, backend: &str, explicit_token: bool) -> Failure {
    let missing_token = is_missing_token(&e);
    let problem = e.config_problem();
    let message = e.to_string().replace(" or pass a token to the builder", "");
    let mut f = Failure::from(e);
    f.message = message;
    let var = match backend {
        "upstash" => "QSTASH_URL",
        "temporal" => "TEMPORAL_HTTP_ADDRESS",
        "restate" => "RESTATE_ADMIN_URL",
        "langgraph" => "LANGGRAPH_API_URL",
        _ => "AGENTOS_URL",
    };
    if missing_token {
        if explicit_token {
            f
        } else {
            f.hint(format!(
                "export the variable named above, or read the {backend} token from another variable with --token-env NAME"
            ))
        }
    } else if problem == Some((ConfigSetting::BaseUrl, ConfigProblem::InsecureHttp)) {
        f.message = f
            .message
            .replace("opt in with allow_insecure_http", "opt in with --allow-insecure-http");
        f.hint(format!(
            "use https:// in --url or {var}; if the server is only reachable over plain http (a private network), \
             pass --allow-insecure-http or set {ALLOW_INSECURE_HTTP_ENV}=1 (the token then travels unencrypted)"
        ))
    } else if problem.is_some_and(|(setting, _)| setting == ConfigSetting::BaseUrl) {
        f.hint(format!("check --url or {var}"))
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(
            std::iter::once("wfcancel")
                .chain(args.iter().copied())
                .chain(["status", "x"]),
        )
        .unwrap()
        .merge_connection()
    }

    fn full(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("wfcancel").chain(args.iter().copied()))
            .unwrap()
            .merge_connection()
    }

    #[test]
    fn backend_choice() {
        assert_eq!(
            resolve_backend(Some(BackendArg::Agno), &env(&[("WFCANCEL_BACKEND", "upstash")])).unwrap(),
            BackendArg::Agno
        );
        assert_eq!(
            resolve_backend(None, &env(&[("WFCANCEL_BACKEND", "Upstash")])).unwrap(),
            BackendArg::Upstash
        );
        let e = resolve_backend(None, &env(&[])).unwrap_err();
        assert!(e.render().contains("--backend"), "{}", e.render());
        assert_eq!(
            resolve_backend(None, &env(&[("WFCANCEL_BACKEND", "temporal")])).unwrap(),
            BackendArg::Temporal
        );
        let e = resolve_backend(None, &env(&[("WFCANCEL_BACKEND", "prefect")])).unwrap_err();
        assert!(e.render().contains("unknown backend \"prefect\""), "{}", e.render());
        assert!(resolve_backend(None, &env(&[("WFCANCEL_BACKEND", "memory")])).is_err());
    }

    #[test]
    fn restate_and_langgraph_are_chosen_and_configured_from_their_variables() {
        for (name, want) in [("restate", BackendArg::Restate), ("LangGraph", BackendArg::LangGraph)] {
            assert_eq!(
                resolve_backend(None, &env(&[("WFCANCEL_BACKEND", name)])).unwrap(),
                want
            );
        }
        let vars = [
            ("RESTATE_ADMIN_URL", "http://127.0.0.1:9070"),
            ("MY_TOKEN", "tok-SECRET-rs"),
            ("LANGGRAPH_API_URL", "http://127.0.0.1:2024"),
            ("LANGSMITH_API_KEY", "key-SECRET-lg"),
        ];
        let c = build_client(&cli(&["--backend", "restate", "--token-env", "MY_TOKEN"]), &env(&vars)).unwrap();
        assert_eq!((c.name(), c.base_url().as_str()), ("restate", "http://127.0.0.1:9070/"));
        assert!(!format!("{c:?}").contains("SECRET"), "{c:?}");
        let c = build_client(
            &cli(&["--backend", "langgraph", "--url", "http://127.0.0.1:3"]),
            &env(&vars),
        )
        .unwrap();
        assert_eq!((c.name(), c.base_url().as_str()), ("langgraph", "http://127.0.0.1:3/"));
        assert!(!format!("{c:?}").contains("SECRET"), "{c:?}");
        for (backend, var) in [("restate", "RESTATE_ADMIN_URL"), ("langgraph", "LANGGRAPH_API_URL")] {
            let e = build_client(&cli(&["--backend", backend]), &env(&[(var, "http://10.0.0.5:1")])).unwrap_err();
            assert_eq!(e.code, 2);
            assert!(e.render().contains(var), "{}", e.render());
        }
    }

    #[test]
    fn malformed_restate_and_langgraph_runs_are_usage_errors() {
        let c = build_client(&cli(&["--backend", "upstash"]), &env(&[("QSTASH_TOKEN", "t")])).unwrap();
        let run = "1ef4a9b8-7c2d-6e3f-8a1b-2c3d4e5f6a7b";
        assert!(c.check_runs(&["restate:inv_1a".parse().unwrap()]).is_ok());
        assert!(
            c.check_runs(&[format!("langgraph:thread/{run}/{run}").parse().unwrap()])
                .is_ok()
        );
        for bad in [
            "restate:inv_",
            "restate:wfr_1",
            "langgraph:thread/t/r",
            &format!("langgraph:{run}"),
        ] {
            let e = c
                .check_runs(&[RunRef::new("wfr_ok"), bad.parse().unwrap()])
                .unwrap_err();
            assert_eq!(e.code, 2, "{bad}");
        }
        let e = c
            .check_runs(&[format!("langgraph:{run}").parse().unwrap()])
            .unwrap_err();
        assert!(e.render().contains("--thread"), "{}", e.render());
    }

    #[test]
    fn missing_upstash_token_names_the_variable() {
        let e = build_client(&cli(&["--backend", "upstash"]), &env(&[])).unwrap_err();
        assert_eq!(e.code, 2);
        assert!(e.message.contains("QSTASH_TOKEN"), "{}", e.message);
        assert!(!e.message.contains("builder"), "{}", e.message);
    }

    #[test]
    fn token_env_reads_another_variable_and_never_shows_it() {
        let vars = [("MY_TOKEN", "tok-SECRET-123")];
        let c = build_client(&cli(&["--backend", "upstash", "--token-env", "MY_TOKEN"]), &env(&vars)).unwrap();
        assert!(!format!("{c:?}").contains("SECRET"));
        let e = build_client(&cli(&["--backend", "upstash", "--token-env", "NOPE"]), &env(&vars)).unwrap_err();
        assert!(e.message.contains("NOPE is not set"), "{}", e.message);
    }

    #[test]
    fn url_flag_overrides_the_environment() {
        let vars = [("QSTASH_URL", "http://127.0.0.1:1"), ("QSTASH_TOKEN", "t")];
        let c = build_client(
            &cli(&["--backend", "upstash", "--url", "http://127.0.0.1:2"]),
            &env(&vars),
        )
        .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:2/");
        let c = build_client(
            &cli(&["--backend", "agno"]),
            &env(&[("AGENTOS_URL", "http://127.0.0.1:3")]),
        )
        .unwrap();
        assert_eq!(c.base_url(), "http://127.0.0.1:3/");
    }

    #[test]
    fn retries_and_timeout_map_onto_the_http_config() {
        let cfg = http_config(Some(Duration::from_secs(2)), Some(0), false);
        assert_eq!(cfg.request_timeout, Duration::from_secs(2));
        assert_eq!(cfg.connect_timeout, Duration::from_secs(2));
        assert_eq!(cfg.retry.max_attempts, 1);
        let cfg = http_config(Some(Duration::from_secs(120)), Some(3), true);
        assert!(cfg.allow_insecure_http);
        assert_eq!(cfg.retry.max_attempts, 4);
        assert!(cfg.retry.total_deadline >= Duration::from_secs(480));
    }

    #[test]
    fn token_env_never_echoes_what_may_be_a_token() {
        let vars = [("QSTASH_TOKEN", "t")];
        for bad in [
            "eyJVc2VySUQiOiJhYmMiLCJQYXNzd29yZCI6IjEyMyJ9==",
            "a=b",
            "1ABC",
            "has space",
            "tok-with-dash",
            &"A".repeat(64),
            "",
        ] {
            let e = build_client(&cli(&["--backend", "upstash", "--token-env", bad]), &env(&vars)).unwrap_err();
            let shown = format!("{}\n{:?}", e.render(), e);
            assert!(
                shown.contains("not a variable name (not shown: it may be a token)"),
                "{shown}"
            );
            if !bad.is_empty() {
                assert!(!shown.contains(bad), "{bad:?} echoed: {shown}");
            }
            assert_eq!(e.code, 2);
        }
        for good in ["MY_TOKEN", "_x", &format!("A{}", "1".repeat(62))] {
            let e = build_client(&cli(&["--backend", "upstash", "--token-env", good]), &env(&vars)).unwrap_err();
            assert!(e.message.contains(&format!("{good} is not set")), "{}", e.message);
        }
    }

    #[test]
    fn insecure_http_needs_the_opt_in_and_the_refusal_names_it() {
        let vars = [("AGENTOS_URL", "http://10.0.0.5:7777")];
        let e = build_client(&cli(&["--backend", "agno"]), &env(&vars)).unwrap_err();
        assert_eq!(e.code, 2);
        let r = e.render();
        assert!(r.contains("--allow-insecure-http"), "{r}");
        assert!(r.contains("WFCANCEL_ALLOW_INSECURE_HTTP=1"), "{r}");
        assert!(!r.contains("--token-env"), "{r}");
        let c = build_client(&cli(&["--backend", "agno", "--allow-insecure-http"]), &env(&vars)).unwrap();
        assert_eq!(c.base_url(), "http://10.0.0.5:7777/");
        for on in ["1", "true", "TRUE"] {
            let vars = [
                ("AGENTOS_URL", "http://10.0.0.5:7777"),
                ("WFCANCEL_ALLOW_INSECURE_HTTP", on),
            ];
            assert!(build_client(&cli(&["--backend", "agno"]), &env(&vars)).is_ok(), "{on}");
        }
        for off in ["0", "false", ""] {
            let vars = [
                ("AGENTOS_URL", "http://10.0.0.5:7777"),
                ("WFCANCEL_ALLOW_INSECURE_HTTP", off),
            ];
            assert!(
                build_client(&cli(&["--backend", "agno"]), &env(&vars)).is_err(),
                "{off}"
            );
        }
        let vars = [("WFCANCEL_ALLOW_INSECURE_HTTP", "yes please")];
        let e = build_client(&cli(&["--backend", "agno"]), &env(&vars)).unwrap_err();
        assert!(e.message.contains("expected 1 or true"), "{}", e.message);
    }

    #[test]
    fn the_token_hint_is_only_for_a_missing_token() {
        let vars = [
            ("QSTASH_URL", "https://user:pw@qstash.example.com"),
            ("QSTASH_TOKEN", "t"),
        ];
        let e = build_client(&cli(&["--backend", "upstash"]), &env(&vars)).unwrap_err();
        let r = e.render();
        assert!(r.contains("credentials"), "{r}");
        assert!(!r.contains("--token-env"), "{r}");
        assert!(r.contains("check --url or QSTASH_URL"), "{r}");
        let e = build_client(&cli(&["--backend", "upstash"]), &env(&[])).unwrap_err();
        assert!(e.render().contains("--token-env"), "{}", e.render());
    }

    #[test]
    fn an_upstash_dry_run_needs_no_token_and_cannot_send() {
        let c = build_client(
            &full(&["--backend", "upstash", "bulk", "--label", "x", "--dry-run"]),
            &env(&[]),
        )
        .unwrap();
        assert!(c.planning_only().is_some_and(|why| why.contains("QSTASH_TOKEN")));
        assert!(!format!("{c:?}").contains(DRY_RUN_PLACEHOLDER_TOKEN));
        let real = build_client(&full(&["--backend", "upstash", "bulk", "--label", "x"]), &env(&[])).unwrap_err();
        assert!(real.message.contains("QSTASH_TOKEN"), "{}", real.message);
        let with_token = build_client(
            &full(&["--backend", "upstash", "bulk", "--label", "x", "--dry-run"]),
            &env(&[("QSTASH_TOKEN", "t")]),
        )
        .unwrap();
        assert!(with_token.planning_only().is_none());
        // Other configuration errors still fail a dry run.
        let bad_url = build_client(
            &full(&[
                "--backend",
                "upstash",
                "--url",
                "ftp://x",
                "bulk",
                "--label",
                "x",
                "--dry-run",
            ]),
            &env(&[]),
        );
        assert!(bad_url.is_err());
    }
}
