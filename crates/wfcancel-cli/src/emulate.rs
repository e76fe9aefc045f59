//! `wfcancel emulate upstash|agno`: a local emulator of a provider, until Ctrl-C or SIGTERM;
//! `wfcancel emulate proxy --upstream URL --flavor NAME [fault flags]`: the emulators' fault
//! layer in front of any server, real or emulated.
//!
//! The one place the command prints a token: the emulator's own throwaway token, as `export`
//! lines a shell can `eval`.

use serde_json::{Value, json};
use wfcancel_emulator::{
    AgnoConfig, AgnoEmulator, FaultProxy, Faults, ProxyConfig, ProxyFlavor, Scenario, ScenarioRule, UpstashConfig,
    UpstashEmulator, UpstashState,
};

use crate::cli::{EmulateArgs, EmulatedArg, FlavorArg};
use crate::error::Failure;
use crate::output::{EXIT_OK, Output};
use crate::scenario::{ScenarioKind, ScenarioSpec};

/// Runs listed in text mode (all of them with --json).
const LISTED: usize = 20;

/// Quotes a value for a POSIX shell when it needs it.
fn shell_quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(&b));
    if plain {
        v.to_owned()
    } else {
        format!("'{}'", v.replace('\'', r"'\''"))
    }
}

fn random_token() -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..32)
        .map(|_| char::from(ALNUM[fastrand::usize(..ALNUM.len())]))
        .collect()
}

fn listen_failure(port: u16, e: &std::io::Error) -> Failure {
    Failure::config(format!("cannot listen on 127.0.0.1:{port}: {e}"))
        .hint("pick another --port, or 0 for any free port")
}

/// Ctrl-C (SIGINT) and SIGTERM, listened for from the moment this is made: a signal that
/// arrives while the emulator starts or prints is kept, not lost, and never takes the signal's
/// default action (which would end the process at once, with no clean stop and no exit 0).
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Installs the handlers now (not on first poll).
    fn install() -> Result<Self, Failure> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let fail = |what: &str, e: std::io::Error| Failure::config(format!("cannot listen for {what}: {e}"));
            Ok(StopSignals {
                term: signal(SignalKind::terminate()).map_err(|e| fail("SIGTERM", e))?,
                int: signal(SignalKind::interrupt()).map_err(|e| fail("Ctrl-C", e))?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// Waits for either signal.
    async fn wait(&mut self) {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => {}
                _ = self.int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// The environment variable the emulator's token is read from (default: a random token).
pub const TOKEN_ENV: &str = "WFCANCEL_EMULATOR_TOKEN";

/// Serves the emulator until a signal, then stops it cleanly.
pub async fn emulate(a: &EmulateArgs, json_mode: bool) -> Result<u8, Failure> {
    // First of all: from here on, Ctrl-C and SIGTERM stop the emulator cleanly.
    let mut signals = StopSignals::install()?;
    if a.token.is_some() {
        return Err(
            Failure::usage("emulate takes no token on its command line (other users can read it there)").hint(format!(
                "set {TOKEN_ENV}=<token> instead, or leave it unset for a random one"
            )),
        );
    }
    let token = std::env::var(TOKEN_ENV).ok();
    if let Some(t) = &token {
        if t.trim().is_empty() || t.chars().any(char::is_control) {
            return Err(Failure::usage(format!(
                "{TOKEN_ENV} must not be blank or contain control characters"
            )));
        }
    }
    check_proxy_flags(a)?;
    let out = Output::new(
        json_mode,
        Some(match a.provider {
            EmulatedArg::Upstash => "upstash",
            EmulatedArg::Agno => "agno",
            EmulatedArg::Proxy => "proxy",
        }),
    );
    let seed = a.seed as usize;
    match a.provider {
        EmulatedArg::Upstash => {
            let token = token.clone().unwrap_or_else(random_token);
            let cfg = UpstashConfig::default().with_port(a.port).with_token(token);
            let emu = UpstashEmulator::start(cfg)
                .await
                .map_err(|e| listen_failure(a.port, &e))?;
            let ids = emu.seed_random(seed, None);
            let env = [
                ("WFCANCEL_BACKEND", "upstash".to_owned()),
                ("QSTASH_URL", emu.url()),
                ("QSTASH_TOKEN", emu.token().to_owned()),
            ];
            if json_mode {
                let runs: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        let state = emu.state(id).map_or("unknown", UpstashState::as_str);
                        json!({ "run": id, "state": state })
                    })
                    .collect();
                announce_json(&out, &emu.url(), emu.token(), &env, runs);
            } else {
                announce_text(&out, "upstash", &emu.url(), &env, ids.len(), emu.active_count());
                for id in ids.iter().take(LISTED) {
                    let state = emu.state(id).map_or("unknown", UpstashState::as_str);
                    out.line(&format!("#   {id}  {state}"));
                }
                more(&out, ids.len());
            }
            signals.wait().await;
            out.note(&format!("stopping: the emulator cancelled {} runs", emu.cancelled()));
            emu.shutdown().await;
        }
        EmulatedArg::Agno => {
            let key = token.clone().unwrap_or_else(random_token);
            let cfg = AgnoConfig::default().with_port(a.port).with_security_key(key.clone());
            let emu = AgnoEmulator::start(cfg).await.map_err(|e| listen_failure(a.port, &e))?;
            let runs = emu.seed_random(seed, None);
            let env = [
                ("WFCANCEL_BACKEND", "agno".to_owned()),
                ("AGENTOS_URL", emu.url()),
                ("OS_SECURITY_KEY", key.clone()),
            ];
            if json_mode {
                let list: Vec<Value> = runs
                    .iter()
                    .map(|r| {
                        json!({
                            "run": r.run_id,
                            r.owner_kind.as_str(): r.owner_id,
                            "session": r.session_id,
                            "state": r.status.as_str(),
                        })
                    })
                    .collect();
                announce_json(&out, &emu.url(), &key, &env, list);
            } else {
                let active = emu.active_count();
                announce_text(&out, "agno", &emu.url(), &env, runs.len(), active);
                for r in runs.iter().take(LISTED) {
                    out.line(&format!(
                        "#   {}  --{} {} --session {}  {}",
                        r.run_id,
                        r.owner_kind,
                        r.owner_id,
                        r.session_id,
                        r.status.as_str()
                    ));
                }
                more(&out, runs.len());
            }
            signals.wait().await;
            out.note(&format!("stopping: the emulator accepted {} cancels", emu.cancelled()));
            emu.shutdown().await;
        }
        EmulatedArg::Proxy => {
            let (Some(upstream), Some(flavor)) = (&a.upstream, a.flavor) else {
                return Err(Failure::usage("emulate proxy needs --upstream URL and --flavor NAME"));
            };
            let mut faults = Faults::none()
                .errors(a.errors)
                .error_status(a.error_status)
                .throttle(a.throttle)
                .retry_after_secs(a.retry_after.as_secs().max(1))
                .drops(a.drops)
                .drop_after(a.drop_after);
            if let Some(l) = a.latency {
                faults = faults.latency(l);
            }
            if let Some(j) = a.jitter {
                faults = faults.jitter(j);
            }
            if let Some(seed) = a.fault_seed {
                faults = faults.seed(seed);
            }
            let flavor = match flavor {
                FlavorArg::Upstash => ProxyFlavor::Upstash,
                FlavorArg::Agno => ProxyFlavor::Agno,
                FlavorArg::Temporal => ProxyFlavor::Temporal,
                FlavorArg::Restate => ProxyFlavor::Restate,
                FlavorArg::LangGraph => ProxyFlavor::LangGraph,
            };
            let proxy = FaultProxy::start(ProxyConfig::new(upstream.clone(), flavor).port(a.port).faults(faults))
                .await
                .map_err(|e| {
                    if e.kind() == std::io::ErrorKind::InvalidInput {
                        Failure::usage(format!("--upstream {upstream:?}: {e}"))
                    } else {
                        listen_failure(a.port, &e)
                    }
                })?;
            // In the order given: the first rule that matches a request answers it.
            for spec in &a.scenarios {
                proxy.faults().add_scenario(scenario_rule(spec));
            }
            let scenarios: Vec<&str> = a.scenarios.iter().map(|s| s.text.as_str()).collect();
            let what = format!(
                "errors {:.0}% ({}), 429 {:.0}%, dropped {:.0}%, answers lost {:.0}%{}{}",
                a.errors * 100.0,
                a.error_status,
                a.throttle * 100.0,
                a.drops * 100.0,
                a.drop_after * 100.0,
                a.latency.map_or(String::new(), |l| format!(", latency {l:?}")),
                if scenarios.is_empty() {
                    String::new()
                } else {
                    format!(", scenarios (first match wins): {}", scenarios.join(" | "))
                }
            );
            if json_mode {
                let mut m = serde_json::Map::new();
                m.insert("url".into(), Value::String(proxy.url()));
                m.insert("upstream".into(), Value::String(upstream.clone()));
                m.insert("faults".into(), Value::String(what));
                m.insert(
                    "scenarios".into(),
                    Value::Array(scenarios.iter().map(|s| Value::String((*s).to_owned())).collect()),
                );
                out.object(crate::output::TYPE_EMULATOR, m);
            } else {
                out.line(&format!(
                    "# fault proxy on {} → {upstream}: {what}; Ctrl-C to stop",
                    proxy.url()
                ));
                out.line("# point wfcancel's --url (or the backend's URL variable) at it; tokens pass through unread");
            }
            signals.wait().await;
            let stats = proxy.stats();
            out.note(&format!(
                "stopping: the proxy saw {} requests and injected {} faults",
                stats.requests,
                stats.faults_total()
            ));
            proxy.shutdown().await;
        }
    }
    Ok(EXIT_OK)
}

/// The proxy's flags go with `proxy` only, and `proxy` needs `--upstream` and `--flavor`.
fn check_proxy_flags(a: &EmulateArgs) -> Result<(), Failure> {
    let proxy_only = [
        (a.upstream.is_some(), "--upstream"),
        (a.flavor.is_some(), "--flavor"),
        (a.errors > 0.0, "--errors"),
        (a.throttle > 0.0, "--throttle"),
        (a.drops > 0.0, "--drops"),
        (a.drop_after > 0.0, "--drop-after"),
        (a.latency.is_some(), "--latency"),
        (a.jitter.is_some(), "--jitter"),
        (a.fault_seed.is_some(), "--fault-seed"),
        (!a.scenarios.is_empty(), "--scenario"),
    ];
    if a.provider != EmulatedArg::Proxy {
        if let Some((_, flag)) = proxy_only.iter().find(|(set, _)| *set) {
            return Err(Failure::usage(format!("{flag} goes with emulate proxy only")));
        }
        return Ok(());
    }
    let Some(upstream) = &a.upstream else {
        return Err(
            Failure::usage("emulate proxy needs --upstream URL (the server to forward to)")
                .hint("e.g. --upstream http://127.0.0.1:7243 --flavor temporal"),
        );
    };
    if a.flavor.is_none() {
        return Err(Failure::usage(
            "emulate proxy needs --flavor upstash|agno|temporal|restate|langgraph (the error shape of its faults)",
        ));
    }
    // The proxy checks the rest (a host, a valid URL) when it starts: `InvalidInput`.
    if !upstream.starts_with("http://") {
        return Err(Failure::usage(format!(
            "--upstream {upstream:?}: the proxy forwards to plain http:// servers (e.g. http://127.0.0.1:7243)"
        )));
    }
    Ok(())
}

/// The emulator's rule for one `--scenario`.
fn scenario_rule(spec: &ScenarioSpec) -> ScenarioRule {
    let scenario = match &spec.kind {
        ScenarioKind::Hang => Scenario::Hang,
        ScenarioKind::Drop => Scenario::Drop,
        ScenarioKind::DropAfter => Scenario::DropAfterHandling,
        ScenarioKind::Trickle(interval) => Scenario::Trickle { interval: *interval },
        ScenarioKind::Huge(bytes) => Scenario::HugeBody { bytes: *bytes },
        ScenarioKind::NotJson => Scenario::not_json(),
        ScenarioKind::Html(status) => Scenario::html_error(*status),
        ScenarioKind::Redirect(location) => Scenario::redirect(location.clone()),
        ScenarioKind::EchoToken(status) => Scenario::echo_credential(*status),
    };
    let mut rule = ScenarioRule::new(scenario);
    if let Some(m) = &spec.method {
        rule = rule.method(m);
    }
    if let Some(p) = &spec.path {
        rule = rule.path_suffix(p.clone());
    }
    if let Some(p) = &spec.prefix {
        rule = rule.path_prefix(p.clone());
    }
    if let Some(n) = spec.times {
        rule = rule.times(n);
    }
    rule
}

fn announce_text(out: &Output, name: &str, url: &str, env: &[(&str, String)], seeded: usize, active: usize) {
    let exports: Vec<String> = env.iter().map(|(k, v)| format!("{k}={}", shell_quote(v))).collect();
    out.line(&format!("export {}", exports.join(" ")));
    out.line(&format!(
        "# {name} emulator on {url}; {seeded} runs seeded, {active} active; Ctrl-C to stop"
    ));
}

fn more(out: &Output, n: usize) {
    if n > LISTED {
        out.line(&format!("#   … and {} more", n - LISTED));
    }
}

fn announce_json(out: &Output, url: &str, token: &str, env: &[(&str, String)], runs: Vec<Value>) {
    let env: serde_json::Map<String, Value> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
        .collect();
    let mut m = serde_json::Map::new();
    m.insert("url".into(), Value::String(url.to_owned()));
    m.insert("token".into(), Value::String(token.to_owned()));
    m.insert("env".into(), Value::Object(env));
    m.insert("runs".into(), Value::Array(runs));
    out.object(crate::output::TYPE_EMULATOR, m);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc123"), "abc123");
        assert_eq!(shell_quote("http://127.0.0.1:80"), "http://127.0.0.1:80");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
