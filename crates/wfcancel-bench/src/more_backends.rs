//! Items 1, 2 and 4 for Temporal, Restate and LangGraph: each canceller's single cancel against
//! raw reqwest sending the same requests, on the minimal server (throughput at concurrency 50,
//! latency at concurrency 1), measured as for Upstash and Agno.

use std::time::Instant;

use reqwest::header::CONTENT_TYPE;
use wfcancel_core::{CancelOutcome, RunRef, WorkflowCanceller};
use wfcancel_langgraph::LangGraphCanceller;
use wfcancel_restate::RestateCanceller;
use wfcancel_temporal::TemporalCanceller;

use crate::chart::{Bar, Kind};
use crate::measure::{Throughput, drive, median, percentile, us};
use crate::report::{Met, Row, thousands};
use crate::server::MinimalServer;
use crate::{CONCURRENCY, LATENCY_TARGET, Opts, Results, THROUGHPUT_TARGET, ratio};

/// One backend: its name, the request the raw client sends, and both clients.
pub struct Case<'a> {
    pub name: &'static str,
    request: &'static str,
    lib_name: &'static str,
    pub raw: Box<dyn Fn(usize) -> futures::future::BoxFuture<'a, bool> + 'a>,
    pub lib: Box<dyn Fn(usize) -> futures::future::BoxFuture<'a, bool> + 'a>,
}

fn uuid(kind: u8, i: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{i:012x}")
}

/// The three backends' clients and ids on the minimal server (both the raw reqwest client and
/// each canceller), for the measured rows and for `--profile`.
pub struct Clients {
    base: String,
    http: reqwest::Client,
    temporal: TemporalCanceller,
    restate: RestateCanceller,
    langgraph: LangGraphCanceller,
    t_ids: Vec<String>,
    t_runs: Vec<RunRef>,
    r_ids: Vec<String>,
    r_runs: Vec<RunRef>,
    l_pairs: Vec<(String, String)>,
    l_runs: Vec<RunRef>,
}

impl Clients {
    /// Clients of `minimal` with `n` ids per backend.
    pub fn new(minimal: &MinimalServer, n: usize) -> Result<Clients, String> {
        let base = minimal.url();
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        let temporal = TemporalCanceller::builder()
            .base_url(&base)
            .build()
            .map_err(|e| e.to_string())?;
        let restate = RestateCanceller::builder()
            .admin_url(&base)
            .build()
            .map_err(|e| e.to_string())?;
        let langgraph = LangGraphCanceller::builder()
            .base_url(&base)
            .build()
            .map_err(|e| e.to_string())?;
        // Temporal: `tp-…` workflows describe as running (the minimal server's rule).
        let t_ids: Vec<String> = (0..n).map(|i| format!("tp-{i:08}")).collect();
        let t_runs: Vec<RunRef> = t_ids.iter().map(RunRef::new).collect();
        let r_ids: Vec<String> = (0..n).map(|i| format!("inv_1tp{i:012}")).collect();
        let r_runs: Vec<RunRef> = r_ids.iter().map(RunRef::new).collect();
        let l_pairs: Vec<(String, String)> = (0..n).map(|i| (uuid(1, i), uuid(2, i))).collect();
        let l_runs: Vec<RunRef> = l_pairs.iter().map(|(t, r)| RunRef::new(r).thread(t)).collect();
        Ok(Clients {
            base,
            http,
            temporal,
            restate,
            langgraph,
            t_ids,
            t_runs,
            r_ids,
            r_runs,
            l_pairs,
            l_runs,
        })
    }

    /// Temporal, Restate and LangGraph: each one's raw request and canceller call, by index.
    pub fn cases(&self) -> [Case<'_>; 3] {
        let (http, base) = (&self.http, self.base.as_str());
        let (temporal, restate, langgraph) = (&self.temporal, &self.restate, &self.langgraph);
        let (t_ids, t_runs, r_ids, r_runs, l_pairs, l_runs) = (
            &self.t_ids,
            &self.t_runs,
            &self.r_ids,
            &self.r_runs,
            &self.l_pairs,
            &self.l_runs,
        );
        [
            Case {
                name: "Temporal",
                request: "`GET …/workflows/{id}` (describe) then `POST …/workflows/{id}/cancel` with its JSON body",
                lib_name: "`TemporalCanceller::cancel`",
                raw: Box::new(move |i| {
                    Box::pin(async move {
                        let id = &t_ids[i];
                        let url = format!("{base}/api/v1/namespaces/default/workflows/{id}");
                        let Ok(r) = http.get(&url).send().await else {
                            return false;
                        };
                        if r.status() != 200 || r.bytes().await.is_err() {
                            return false;
                        }
                        let body = serde_json::json!({
                            "workflowExecution": {"workflowId": id, "runId": crate::server::BENCH_RUN_ID},
                            "identity": "wfcancel-bench",
                            "requestId": uuid(3, i),
                        });
                        match http
                            .post(format!("{url}/cancel"))
                            .header(CONTENT_TYPE, "application/json")
                            .body(body.to_string())
                            .send()
                            .await
                        {
                            Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
                            Err(_) => false,
                        }
                    })
                }),
                lib: Box::new(move |i| {
                    Box::pin(async move { matches!(temporal.cancel(&t_runs[i]).await, Ok(CancelOutcome::Requested)) })
                }),
            },
            Case {
                name: "Restate",
                request: "`PATCH /invocations/{id}/cancel`",
                lib_name: "`RestateCanceller::cancel`",
                raw: Box::new(move |i| {
                    Box::pin(async move {
                        match http
                            .patch(format!("{base}/invocations/{}/cancel", r_ids[i]))
                            .send()
                            .await
                        {
                            Ok(r) => r.status() == 202 && r.bytes().await.is_ok(),
                            Err(_) => false,
                        }
                    })
                }),
                lib: Box::new(move |i| {
                    Box::pin(async move { matches!(restate.cancel(&r_runs[i]).await, Ok(CancelOutcome::Requested)) })
                }),
            },
            Case {
                name: "LangGraph",
                request: "`POST /threads/{t}/runs/{r}/cancel?wait=false&action=interrupt`",
                lib_name: "`LangGraphCanceller::cancel`",
                raw: Box::new(move |i| {
                    Box::pin(async move {
                        let (t, r) = &l_pairs[i];
                        match http
                            .post(format!(
                                "{base}/threads/{t}/runs/{r}/cancel?wait=false&action=interrupt"
                            ))
                            .send()
                            .await
                        {
                            Ok(r) => r.status() == 202 && r.bytes().await.is_ok(),
                            Err(_) => false,
                        }
                    })
                }),
                lib: Box::new(move |i| {
                    Box::pin(async move { matches!(langgraph.cancel(&l_runs[i]).await, Ok(CancelOutcome::Requested)) })
                }),
            },
        ]
    }
}

/// Measures the rows and adds them to `res`.
pub fn run(
    o: &Opts,
    client: &tokio::runtime::Runtime,
    minimal: &MinimalServer,
    res: &mut Results,
) -> Result<(), String> {
    let n = o.n(20_000);
    let reps = 7;
    let warm = o.n(2_000);
    let clients = Clients::new(minimal, n)?;
    let cases = clients.cases();
    let n_lat = o.n(5_000);
    for case in &cases {
        eprintln!(
            "bench: items 1, 2, 4 ({}): {n} cancels x {reps} reps per client, {CONCURRENCY} in flight; {n_lat} sequential",
            case.name
        );
        let (mut t_raw, mut t_lib): (Vec<Throughput>, Vec<Throughput>) = (vec![], vec![]);
        let (mut l_raw, mut l_lib) = (vec![], vec![]);
        client.block_on(async {
            drive(warm, CONCURRENCY, &case.raw).await;
            drive(warm, CONCURRENCY, &case.lib).await;
            for rep in 0..reps {
                if rep % 2 == 0 {
                    t_raw.push(drive(n, CONCURRENCY, &case.raw).await);
                    t_lib.push(drive(n, CONCURRENCY, &case.lib).await);
                } else {
                    t_lib.push(drive(n, CONCURRENCY, &case.lib).await);
                    t_raw.push(drive(n, CONCURRENCY, &case.raw).await);
                }
            }
            for i in 0..n_lat {
                for first in [i % 2 == 0, i % 2 != 0] {
                    let t = Instant::now();
                    if first {
                        (case.raw)(i).await;
                        l_raw.push(t.elapsed());
                    } else {
                        (case.lib)(i).await;
                        l_lib.push(t.elapsed());
                    }
                }
            }
        });
        let med = |v: &[Throughput]| median(v.iter().map(Throughput::per_sec).collect());
        let cpu = |v: &[Throughput]| median(v.iter().map(Throughput::cpu_us_per_op).collect());
        let errs = |v: &[Throughput]| v.iter().map(|t| t.errors).sum::<u64>();
        let all = |v: &[Throughput]| v.iter().map(|t| thousands(t.per_sec())).collect::<Vec<_>>().join(" / ");
        let paired = median(
            t_lib
                .iter()
                .zip(&t_raw)
                .map(|(l, r)| ratio(l.per_sec(), r.per_sec()))
                .collect(),
        );
        let figures = |v: &[Throughput]| {
            format!(
                "median {}/s (reps {}); client CPU {:.1} µs per cancel; {} errors",
                thousands(med(v)),
                all(v),
                cpu(v),
                errs(v)
            )
        };
        res.rows.push(Row::new(
            "1",
            format!(
                "LIMIT ({} request): raw reqwest {}, {n} ids, {CONCURRENCY} in flight",
                case.name, case.request
            ),
            figures(&t_raw),
            "1.00 (the limit)",
            "",
            Met::None,
        ));
        let cpu_ratio = ratio(cpu(&t_lib), cpu(&t_raw));
        res.rows.push(Row::new(
            "2",
            format!("{} × {n}, {CONCURRENCY} in flight", case.lib_name),
            figures(&t_lib),
            format!("{paired:.2} of the limit (client CPU per cancel {cpu_ratio:.2}× raw)"),
            format!("≥ {THROUGHPUT_TARGET}"),
            Met::from(paired >= THROUGHPUT_TARGET && errs(&t_lib) == 0),
        ));
        if paired < THROUGHPUT_TARGET || errs(&t_lib) > 0 {
            res.misses.push(format!(
                "item 2, {}: {paired:.2} of the limit (client CPU {:.1} vs {:.1} µs/cancel; {} errors)",
                case.name,
                cpu(&t_lib),
                cpu(&t_raw),
                errs(&t_lib)
            ));
        }
        res.bars.push(Bar {
            label: format!("raw reqwest ({} request)", case.name),
            value: med(&t_raw),
            kind: Kind::Raw,
            group_start: true,
            note: "the limit".into(),
        });
        res.bars.push(Bar {
            label: format!("wfcancel {}", case.lib_name.trim_matches('`')),
            value: med(&t_lib),
            kind: Kind::Wfcancel,
            group_start: false,
            note: format!("{paired:.2} of the limit"),
        });
        l_raw.sort();
        l_lib.sort();
        let (r50, r99) = (percentile(&l_raw, 0.5), percentile(&l_raw, 0.99));
        let (w50, w99) = (percentile(&l_lib, 0.5), percentile(&l_lib, 0.99));
        let p50 = ratio(us(w50), us(r50));
        let p99 = ratio(us(w99), us(r99));
        res.rows.push(Row::new(
            "4",
            format!(
                "{} latency, concurrency 1, {n_lat} cancels ({} request)",
                case.lib_name, case.name
            ),
            format!(
                "p50 {:.1} µs, p99 {:.1} µs; raw reqwest p50 {:.1} µs, p99 {:.1} µs",
                us(w50),
                us(w99),
                us(r50),
                us(r99)
            ),
            format!("p50 {p50:.3}×, p99 {p99:.3}×"),
            format!("p50 ≤ {LATENCY_TARGET}×"),
            Met::from(p50 <= LATENCY_TARGET),
        ));
        if p50 > LATENCY_TARGET {
            res.misses.push(format!(
                "item 4, {}: p50 {p50:.3}× raw reqwest ({:.1} vs {:.1} µs)",
                case.name,
                us(w50),
                us(r50)
            ));
        }
    }
    Ok(())
}
