//! Choosing the backend and building its canceller from the environment and the global flags.

use std::time::Duration;

use wfcancel::agno::{AgnoCanceller, AgnoCancellerBuilder};
use wfcancel::http::{DEFAULT_CONNECT_TIMEOUT, HttpConfig};
use wfcancel::upstash::{UpstashBuilder, UpstashCanceller};
use wfcancel::{BACKEND_ENV, Backend, BulkOptions, CancelError, SecretToken, Selector, WorkflowCanceller};

use crate::cli::{BackendArg, Cli};
use crate::error::Failure;

/// Reads one environment variable.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The canceller, with what the command line needs beyond the trait (plans for `--dry-run`).
#[derive(Debug)]
pub enum Client {
    Upstash(UpstashCanceller),
    Agno(AgnoCanceller),
}

/// One request a dry run shows: never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Sent repeatedly (drain), at most this many times.
    pub repeat: Option<u32>,
}

impl Client {
    pub fn canceller(&self) -> &dyn WorkflowCanceller {
        match self {
            Client::Upstash(c) => c,
            Client::Agno(c) => c,
        }
    }

    pub fn name(&self) -> &'static str {
        self.canceller().backend()
    }

    /// The base URL (safe to print: it never carries credentials).
    pub fn base_url(&self) -> String {
        match self {
            Client::Upstash(c) => c.base_url().to_string(),
            Client::Agno(c) => c.base_url().to_string(),
        }
    }

    /// The requests `cancel_many(selector, opts)` would send.
    pub fn plan(&self, selector: &Selector, opts: &BulkOptions) -> Result<Vec<Planned>, CancelError> {
        match self {
            Client::Upstash(c) => Ok(c
                .plan(selector, opts)?
                .into_iter()
                .map(|r| Planned {
                    method: r.method.to_string(),
                    path: r.path().to_owned(),
                    query: r.query().map(str::to_owned),
                    repeat: (r.max_sends > 1).then_some(r.max_sends),
                })
                .collect()),
            Client::Agno(c) => Ok(c
                .plan(selector)?
                .into_iter()
                .map(|r| Planned {
                    method: r.method.to_string(),
                    path: r.path().to_owned(),
                    query: r.query().map(str::to_owned),
                    repeat: None,
                })
                .collect()),
        }
    }
}

/// `--backend`, else `WFCANCEL_BACKEND`, else a clear error.
pub fn resolve_backend(arg: Option<BackendArg>, lookup: Lookup<'_>) -> Result<BackendArg, Failure> {
    if let Some(b) = arg {
        return Ok(b);
    }
    let Some(raw) = lookup(BACKEND_ENV).filter(|v| !v.trim().is_empty()) else {
        return Err(Failure::config("no backend chosen").hint(format!(
            "pass --backend upstash|agno, or set {BACKEND_ENV}=upstash or {BACKEND_ENV}=agno"
        )));
    };
    match raw.parse::<Backend>() {
        Ok(Backend::Upstash) => Ok(BackendArg::Upstash),
        Ok(Backend::Agno) => Ok(BackendArg::Agno),
        Ok(other) => Err(Failure::config(format!(
            "{BACKEND_ENV}={other}: the {other} backend lives inside one program; the command line cannot reach it"
        ))
        .hint("use upstash or agno; `wfcancel emulate upstash` serves a local Upstash to try things on")),
        Err(_) => Err(
            Failure::config(format!("unknown backend {:?} in {BACKEND_ENV}", raw.trim())).hint(format!(
                "expected {BACKEND_ENV}=upstash or {BACKEND_ENV}=agno (or pass --backend)"
            )),
        ),
    }
}

/// The HTTP settings from `--timeout` and `--retries`.
pub fn http_config(timeout: Option<Duration>, retries: Option<u32>) -> HttpConfig {
    let mut cfg = HttpConfig::default();
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

/// The token named by `--token-env`, if given.
fn token_from(name: Option<&str>, lookup: Lookup<'_>) -> Result<Option<SecretToken>, Failure> {
    let Some(name) = name else { return Ok(None) };
    if name.trim().is_empty() || name.contains('=') || name.contains('\0') {
        return Err(Failure::usage(format!(
            "--token-env {name:?}: not a valid environment variable name"
        )));
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
    let backend = resolve_backend(cli.backend, lookup)?;
    let token = token_from(cli.token_env.as_deref(), lookup)?;
    let http = http_config(cli.timeout, cli.retries);
    match backend {
        BackendArg::Upstash => {
            let mut b = UpstashBuilder::from_env_with(lookup).http_config(http);
            if let Some(url) = &cli.url {
                b = b.base_url(url.clone());
            }
            let explicit_token = token.is_some();
            if let Some(t) = token {
                b = b.token(t);
            }
            b.build()
                .map(Client::Upstash)
                .map_err(|e| config_failure(e, "upstash", explicit_token))
        }
        BackendArg::Agno => {
            let mut b = AgnoCancellerBuilder::from_env_with(lookup).http_config(http);
            if let Some(url) = &cli.url {
                b = b.base_url(url.clone());
            }
            let explicit_token = token.is_some();
            if let Some(t) = token {
                b = b.security_key(t);
            }
            b.build()
                .map(Client::Agno)
                .map_err(|e| config_failure(e, "agno", explicit_token))
        }
    }
}

fn config_failure(e: CancelError, backend: &str, explicit_token: bool) -> Failure {
    let message = e.to_string().replace(" or pass a token to the builder", "");
    let mut f = Failure::from(e);
    f.message = message;
    let about_token = f.message.contains("token");
    if about_token && !explicit_token {
        f.hint(format!(
            "export the variable named above, or read the {backend} token from another variable with --token-env NAME"
        ))
    } else if f.message.contains("URL") || f.message.contains("http") {
        let var = if backend == "upstash" {
            "QSTASH_URL"
        } else {
            "AGENTOS_URL"
        };
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
        let e = resolve_backend(None, &env(&[("WFCANCEL_BACKEND", "temporal")])).unwrap_err();
        assert!(e.render().contains("unknown backend \"temporal\""), "{}", e.render());
        assert!(resolve_backend(None, &env(&[("WFCANCEL_BACKEND", "memory")])).is_err());
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
        let cfg = http_config(Some(Duration::from_secs(2)), Some(0));
        assert_eq!(cfg.request_timeout, Duration::from_secs(2));
        assert_eq!(cfg.connect_timeout, Duration::from_secs(2));
        assert_eq!(cfg.retry.max_attempts, 1);
        let cfg = http_config(Some(Duration::from_secs(120)), Some(3));
        assert_eq!(cfg.retry.max_attempts, 4);
        assert!(cfg.retry.total_deadline >= Duration::from_secs(480));
    }
}
