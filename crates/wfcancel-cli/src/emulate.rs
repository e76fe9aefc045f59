//! `wfcancel emulate upstash|agno`: a local emulator of a provider, until Ctrl-C or SIGTERM.
//!
//! The one place the command prints a token: the emulator's own throwaway token, as `export`
//! lines a shell can `eval`.

use serde_json::{Value, json};
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, UpstashConfig, UpstashEmulator, UpstashState};

use crate::cli::{EmulateArgs, EmulatedArg};
use crate::error::Failure;
use crate::output::{EXIT_OK, Output};

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
    let out = Output::new(
        json_mode,
        Some(if a.provider == EmulatedArg::Upstash {
            "upstash"
        } else {
            "agno"
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
    }
    Ok(EXIT_OK)
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
