//! The Agno emulator's endpoints, as a client sees them.

mod common;

use std::time::Duration;

use common::{client, eventually, send, send_json};
use serde_json::json;
use wfcancel_emulator::{AgnoConfig, AgnoEmulator, AgnoRun, AgnoStatus, Endpoint, OwnerKind};

async fn emu_with(cfg: AgnoConfig) -> AgnoEmulator {
    AgnoEmulator::start(cfg).await.unwrap()
}

async fn emu() -> AgnoEmulator {
    emu_with(AgnoConfig::default()).await
}

fn post(e: &AgnoEmulator, path: &str) -> reqwest::RequestBuilder {
    client().post(format!("{}{}", e.url(), path))
}

fn get(e: &AgnoEmulator, path: &str) -> reqwest::RequestBuilder {
    client().get(format!("{}{}", e.url(), path))
}

async fn status_of(e: &AgnoEmulator, kind: &str, owner: &str, run: &str, session: &str) -> (u16, serde_json::Value) {
    send_json(get(e, &format!("/{kind}/{owner}/runs/{run}?session_id={session}"))).await
}

#[tokio::test]
async fn cancel_is_cooperative_with_a_delay() {
    // Long enough that the status read below comes first on a loaded machine.
    let e = emu_with(AgnoConfig::default().with_cancel_delay(Duration::from_secs(3))).await;
    e.seed(AgnoRun::workflow("wf", "r1"));
    let (status, body) = send_json(post(&e, "/workflows/wf/runs/r1/cancel")).await;
    assert_eq!((status, body), (200, json!({})));
    // Requested, not yet stopped.
    let (status, body) = status_of(&e, "workflows", "wf", "r1", "sess-r1").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "RUNNING");
    assert_eq!(body["run_id"], "r1");
    assert_eq!(body["session_id"], "sess-r1");
    assert_eq!(body["workflow_id"], "wf");
    assert!(e.cancel_requested("r1"));
    assert!(
        eventually(Duration::from_secs(15), || e.status("r1")
            == Some(AgnoStatus::Cancelled))
        .await
    );
    let (_, body) = status_of(&e, "workflows", "wf", "r1", "sess-r1").await;
    assert_eq!(body["status"], "CANCELLED");
    assert_eq!(e.cancelled(), 1);
    // Cancelling again is a no-op 200.
    let (status, body) = send_json(post(&e, "/workflows/wf/runs/r1/cancel")).await;
    assert_eq!((status, body), (200, json!({})));
    assert_eq!(e.cancelled(), 1);
}

#[tokio::test]
async fn zero_delay_cancels_at_once_for_every_owner_kind() {
    let e = emu_with(AgnoConfig::default().with_cancel_delay(Duration::ZERO)).await;
    e.seed(AgnoRun::agent("ag", "a1").session("s-a"));
    e.seed(AgnoRun::team("tm", "t1").session("s-t"));
    e.seed(AgnoRun::workflow("wf", "w1").status(AgnoStatus::Paused));
    for (kind, owner, run) in [("agents", "ag", "a1"), ("teams", "tm", "t1"), ("workflows", "wf", "w1")] {
        let (status, _) = send(post(
            &e,
            &format!("/{kind}/{owner}/runs/{run}/cancel?session_id=whatever"),
        ))
        .await;
        assert_eq!(status, 200);
        assert_eq!(e.status(run), Some(AgnoStatus::Cancelled), "{kind}");
    }
    let (_, body) = status_of(&e, "agents", "ag", "a1", "s-a").await;
    assert_eq!(
        (body["agent_id"].as_str(), body["status"].as_str()),
        (Some("ag"), Some("CANCELLED"))
    );
    let (_, body) = status_of(&e, "teams", "tm", "t1", "s-t").await;
    assert_eq!(body["team_id"], "tm");
    assert_eq!(e.stats().endpoint(Endpoint::AgnoCancel), 3);
}

#[tokio::test]
async fn unknown_owner_is_404_by_kind() {
    let e = emu().await;
    for (kind, detail) in [
        ("workflows", "Workflow not found"),
        ("agents", "Agent not found"),
        ("teams", "Team not found"),
    ] {
        let (status, body) = send_json(post(&e, &format!("/{kind}/nope/runs/r/cancel"))).await;
        assert_eq!((status, body), (404, json!({ "detail": detail })));
        let (status, body) = status_of(&e, kind, "nope", "r", "s").await;
        assert_eq!((status, body), (404, json!({ "detail": detail })));
    }
}

#[tokio::test]
async fn unknown_run_stores_an_intent_that_cancels_it_later() {
    let e = emu_with(AgnoConfig::default().with_cancel_delay(Duration::ZERO)).await;
    e.seed_owner(OwnerKind::Workflow, "wf");
    let (status, body) = send_json(post(&e, "/workflows/wf/runs/later/cancel")).await;
    assert_eq!((status, body), (200, json!({})));
    assert!(e.cancel_requested("later"));
    assert_eq!(e.cancelled(), 0);
    e.seed(AgnoRun::workflow("wf", "later"));
    assert_eq!(e.status("later"), Some(AgnoStatus::Cancelled));
    assert_eq!(e.cancelled(), 1);
}

#[tokio::test]
async fn finished_runs_answer_200_and_stay_finished() {
    let e = emu().await;
    e.seed(AgnoRun::workflow("wf", "done").status(AgnoStatus::Completed));
    e.seed(AgnoRun::workflow("wf", "err").status(AgnoStatus::Error));
    for run in ["done", "err", "done"] {
        let (status, body) = send_json(post(&e, &format!("/workflows/wf/runs/{run}/cancel"))).await;
        assert_eq!((status, body), (200, json!({})));
    }
    assert_eq!(e.status("done"), Some(AgnoStatus::Completed));
    assert_eq!(e.status("err"), Some(AgnoStatus::Error));
    assert_eq!(e.cancelled(), 0);
}

#[tokio::test]
async fn status_needs_session_and_a_matching_run() {
    let e = emu().await;
    e.seed(AgnoRun::workflow("wf", "r1").session("s1"));
    e.seed_owner(OwnerKind::Workflow, "wf2");
    let (status, body) = send_json(get(&e, "/workflows/wf/runs/r1")).await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"detail":[{"type":"missing","loc":["query","session_id"],"msg":"Field required","input":null}]})
        )
    );
    let not_found = json!({"detail": "Run not found"});
    assert_eq!(
        status_of(&e, "workflows", "wf", "r1", "other").await,
        (404, not_found.clone())
    );
    assert_eq!(
        status_of(&e, "workflows", "wf", "nope", "s1").await,
        (404, not_found.clone())
    );
    assert_eq!(
        status_of(&e, "workflows", "wf2", "r1", "s1").await,
        (404, not_found.clone())
    );
    let (status, body) = status_of(&e, "workflows", "wf", "r1", "s1").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "RUNNING");
    assert!(body["created_at"].as_u64().is_some());
}

#[tokio::test]
async fn auth_with_a_security_key() {
    let e = emu_with(AgnoConfig::default().with_security_key("key")).await;
    e.seed(AgnoRun::workflow("wf", "r1"));
    assert_eq!(e.security_key(), Some("key"));
    let (status, body) = send_json(post(&e, "/workflows/wf/runs/r1/cancel")).await;
    assert_eq!(
        (status, body),
        (401, json!({"detail": "Authorization header required"}))
    );
    let (status, body) = send_json(post(&e, "/workflows/wf/runs/r1/cancel").bearer_auth("bad")).await;
    assert_eq!((status, body), (401, json!({"detail": "Invalid authentication token"})));
    let (status, _) = send(get(&e, "/workflows/wf/runs/r1?session_id=sess-r1")).await;
    assert_eq!(status, 401);
    assert!(!e.cancel_requested("r1"));
    assert_eq!(e.stats().unauthorized, 3);
    // /health needs no key.
    let (status, body) = send_json(get(&e, "/health")).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
    let (status, _) = send(post(&e, "/workflows/wf/runs/r1/cancel").bearer_auth("key")).await;
    assert_eq!(status, 200);
    assert!(e.cancel_requested("r1"));
}

#[tokio::test]
async fn without_a_key_no_auth_is_needed() {
    let e = emu().await;
    assert_eq!(e.security_key(), None);
    e.seed(AgnoRun::workflow("wf", "r1"));
    assert_eq!(
        send(post(&e, "/workflows/wf/runs/r1/cancel").bearer_auth("anything"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_run_that_never_stops_stays_running() {
    let e = emu_with(AgnoConfig::default().with_cancel_delay(Duration::ZERO)).await;
    e.seed(AgnoRun::workflow("wf", "stuck").never_stops());
    assert_eq!(send(post(&e, "/workflows/wf/runs/stuck/cancel")).await.0, 200);
    tokio::time::sleep(Duration::from_millis(30)).await;
    let (_, body) = status_of(&e, "workflows", "wf", "stuck", "sess-stuck").await;
    assert_eq!(body["status"], "RUNNING");
    assert_eq!(e.cancelled(), 0);
    assert!(e.set_status("stuck", AgnoStatus::Completed));
    assert_eq!(e.status("stuck"), Some(AgnoStatus::Completed));
}

#[tokio::test]
async fn runs_complete_by_themselves_unless_cancelled_first() {
    let e = emu_with(AgnoConfig::default().with_cancel_delay(Duration::from_millis(20))).await;
    e.seed(AgnoRun::workflow("wf", "quick").completes_after(Duration::from_millis(30)));
    e.seed(AgnoRun::workflow("wf", "slow").completes_after(Duration::from_secs(60)));
    assert_eq!(send(post(&e, "/workflows/wf/runs/slow/cancel")).await.0, 200);
    assert!(
        eventually(Duration::from_secs(3), || e.status("quick")
            == Some(AgnoStatus::Completed))
        .await
    );
    assert!(
        eventually(Duration::from_secs(3), || e.status("slow")
            == Some(AgnoStatus::Cancelled))
        .await
    );
}

#[tokio::test]
async fn legacy_2x_mode_answers_500_for_inactive_runs() {
    let e = emu_with(
        AgnoConfig::default()
            .with_legacy_2x(true)
            .with_cancel_delay(Duration::ZERO),
    )
    .await;
    e.seed(AgnoRun::workflow("wf", "live"));
    e.seed(AgnoRun::workflow("wf", "done").status(AgnoStatus::Completed));
    let legacy = json!({"detail": "Failed to cancel run - run not found or already completed"});
    assert_eq!(
        send_json(post(&e, "/workflows/wf/runs/ghost/cancel")).await,
        (500, legacy.clone())
    );
    assert!(!e.cancel_requested("ghost"));
    assert_eq!(
        send_json(post(&e, "/workflows/wf/runs/done/cancel")).await,
        (500, legacy.clone())
    );
    assert_eq!(
        send_json(post(&e, "/workflows/wf/runs/live/cancel")).await,
        (200, json!({}))
    );
    // Now cancelled: a second cancel is "not active" again.
    assert_eq!(
        send_json(post(&e, "/workflows/wf/runs/live/cancel")).await,
        (500, legacy)
    );
    // Unknown owners are still 404.
    assert_eq!(send(post(&e, "/workflows/nope/runs/live/cancel")).await.0, 404);
}

#[tokio::test]
async fn an_agent_that_cannot_cancel_answers_501() {
    let e = emu().await;
    e.seed(AgnoRun::agent("ag", "a1"));
    e.set_cancel_unsupported(OwnerKind::Agent, "ag", true);
    let (status, body) = send_json(post(&e, "/agents/ag/runs/a1/cancel")).await;
    assert_eq!(
        (status, body),
        (501, json!({"detail": "This agent does not support cancel_run"}))
    );
    assert_eq!(e.status("a1"), Some(AgnoStatus::Running));
    e.set_cancel_unsupported(OwnerKind::Agent, "ag", false);
    assert_eq!(send(post(&e, "/agents/ag/runs/a1/cancel")).await.0, 200);
}

#[tokio::test]
async fn wrong_method_and_unknown_path() {
    let e = emu().await;
    e.seed(AgnoRun::workflow("wf", "r1"));
    let (status, body) = send_json(get(&e, "/workflows/wf/runs/r1/cancel")).await;
    assert_eq!((status, body), (405, json!({"detail": "Method Not Allowed"})));
    let (status, body) = send_json(client().delete(format!("{}/workflows/wf/runs/r1", e.url()))).await;
    assert_eq!((status, body), (405, json!({"detail": "Method Not Allowed"})));
    let (status, body) = send_json(get(&e, "/nothing/here")).await;
    assert_eq!((status, body), (404, json!({"detail": "Not Found"})));
}

#[tokio::test]
async fn start_a_background_run_then_cancel_it() {
    let e = emu_with(AgnoConfig::default().with_cancel_delay(Duration::ZERO)).await;
    e.seed_owner(OwnerKind::Workflow, "wf");
    let (status, body) = send_json(post(&e, "/workflows/wf/runs").form(&[
        ("message", "go"),
        ("stream", "false"),
        ("background", "true"),
    ]))
    .await;
    assert_eq!(status, 202);
    assert_eq!(body["status"], "PENDING");
    let run = body["run_id"].as_str().unwrap().to_owned();
    let session = body["session_id"].as_str().unwrap().to_owned();
    let (_, st) = status_of(&e, "workflows", "wf", &run, &session).await;
    assert_eq!(st["status"], "RUNNING");
    assert_eq!(send(post(&e, &format!("/workflows/wf/runs/{run}/cancel"))).await.0, 200);
    let (_, st) = status_of(&e, "workflows", "wf", &run, &session).await;
    assert_eq!(st["status"], "CANCELLED");

    // Not in the background: completes at once.
    let (status, body) =
        send_json(post(&e, "/workflows/wf/runs").form(&[("message", "go"), ("stream", "false")])).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("COMPLETED")));
    // A given session id is kept.
    let (_, body) = send_json(post(&e, "/workflows/wf/runs").form(&[
        ("message", "go"),
        ("background", "true"),
        ("session_id", "mine"),
    ]))
    .await;
    assert_eq!(body["session_id"], "mine");

    let (status, body) = send_json(post(&e, "/workflows/wf/runs").form(&[("stream", "false")])).await;
    assert_eq!(
        (status, body),
        (
            422,
            json!({"detail":[{"type":"missing","loc":["body","message"],"msg":"Field required","input":null}]})
        )
    );
    assert_eq!(
        send(post(&e, "/workflows/nope/runs").form(&[("message", "go")]))
            .await
            .0,
        404
    );
    assert_eq!(e.stats().endpoint(Endpoint::AgnoStartRun), 5);
}

#[tokio::test]
async fn started_runs_can_complete_by_themselves() {
    let e = emu_with(AgnoConfig::default().with_started_run_duration(Duration::from_millis(20))).await;
    e.seed_owner(OwnerKind::Team, "tm");
    let (_, body) = send_json(post(&e, "/teams/tm/runs").form(&[("message", "go"), ("background", "true")])).await;
    let run = body["run_id"].as_str().unwrap().to_owned();
    assert!(eventually(Duration::from_secs(3), || e.status(&run) == Some(AgnoStatus::Completed)).await);
}

#[tokio::test]
async fn seed_random_at_scale_and_cheap_cancels() {
    let e = emu_with(AgnoConfig::default().with_cancel_delay(Duration::ZERO)).await;
    let runs = e.seed_random(20_000, Some(9));
    assert_eq!(e.len(), 20_000);
    let again = emu().await.seed_random(5, Some(9));
    let ids = |rs: &[AgnoRun]| {
        rs.iter()
            .map(|r| (r.run_id.clone(), r.owner_id.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&runs[..5]), ids(&again));
    let c = client();
    let mut accepted = 0;
    for run in runs.iter().filter(|r| r.status == AgnoStatus::Running).take(300) {
        let kind = match run.owner_kind {
            OwnerKind::Agent => "agents",
            OwnerKind::Team => "teams",
            _ => "workflows",
        };
        let url = format!("{}/{kind}/{}/runs/{}/cancel", e.url(), run.owner_id, run.run_id);
        assert_eq!(c.post(url).send().await.unwrap().status(), 200);
        accepted += 1;
        assert_eq!(e.status(&run.run_id), Some(AgnoStatus::Cancelled));
    }
    assert_eq!(e.cancelled(), accepted);
}

/// Regression: cancels of made-up run ids must not grow the emulator without limit; the oldest
/// intents are dropped past the cap.
#[tokio::test]
async fn intents_for_unknown_runs_are_capped_oldest_first() {
    assert_eq!(
        AgnoConfig::default().max_intents,
        wfcancel_emulator::DEFAULT_MAX_INTENTS
    );
    assert_eq!(wfcancel_emulator::DEFAULT_MAX_INTENTS, 100_000);
    let e = emu_with(
        AgnoConfig::default()
            .with_cancel_delay(Duration::ZERO)
            .with_max_intents(3),
    )
    .await;
    e.seed_owner(OwnerKind::Workflow, "wf");
    for i in 0..5 {
        let (status, body) = send_json(post(&e, &format!("/workflows/wf/runs/u{i}/cancel"))).await;
        assert_eq!((status, body), (200, json!({})), "every cancel is still answered 200");
    }
    assert_eq!(e.intents_len(), 3);
    assert!(!e.cancel_requested("u0") && !e.cancel_requested("u1"));
    assert!(e.cancel_requested("u2") && e.cancel_requested("u3") && e.cancel_requested("u4"));
    // A dropped intent no longer applies; a kept one does, and frees its slot.
    e.seed(AgnoRun::workflow("wf", "u0"));
    e.seed(AgnoRun::workflow("wf", "u4"));
    assert_eq!(e.status("u0"), Some(AgnoStatus::Running));
    assert_eq!(e.status("u4"), Some(AgnoStatus::Cancelled));
    assert_eq!(e.intents_len(), 2);
    // Many more made-up ids: still capped.
    for i in 0..50 {
        send(post(&e, &format!("/workflows/wf/runs/flood-{i}/cancel"))).await;
    }
    assert_eq!(e.intents_len(), 3);
    assert!(e.cancel_requested("flood-49") && !e.cancel_requested("flood-46"));
}

#[tokio::test]
async fn regenerated_runs_are_over() {
    let e = emu().await;
    e.seed(
        AgnoRun::agent("helper", "old")
            .session("s")
            .status(AgnoStatus::Regenerated),
    );
    let (status, body) = status_of(&e, "agents", "helper", "old", "s").await;
    assert_eq!((status, body["status"].clone()), (200, json!("REGENERATED")));
    assert!(!AgnoStatus::Regenerated.is_active());
    assert_eq!(
        wfcancel_core::RunState::from(AgnoStatus::Regenerated),
        wfcancel_core::RunState::Completed
    );
    // A cancel is answered 200 and changes nothing.
    assert_eq!(send(post(&e, "/agents/helper/runs/old/cancel")).await.0, 200);
    assert_eq!(e.status("old"), Some(AgnoStatus::Regenerated));
    assert_eq!(e.stats().cancelled, 0);
}

/// Cancel requests are counted per run held, whatever they answered; intents for unknown runs
/// are not counted.
#[tokio::test]
async fn cancel_requests_are_counted_per_run() {
    let e = emu().await;
    e.seed(AgnoRun::workflow("wf", "r1"));
    e.seed(AgnoRun::workflow("wf", "r2"));
    for _ in 0..2 {
        assert_eq!(send(post(&e, "/workflows/wf/runs/r1/cancel")).await.0, 200);
    }
    assert_eq!(send(post(&e, "/workflows/wf/runs/ghost/cancel")).await.0, 200);
    assert_eq!(send(post(&e, "/workflows/nope/runs/r2/cancel")).await.0, 404);
    assert_eq!(
        (
            e.cancel_requests("r1"),
            e.cancel_requests("r2"),
            e.cancel_requests("ghost")
        ),
        (2, 0, 0)
    );
    assert_eq!(
        e.cancel_requests_per_run().into_iter().collect::<Vec<_>>(),
        [("r1".to_owned(), 2)]
    );
}
