//! `wfcancel-bench`: how fast wfcancel cancels, as ratios to raw `reqwest` and to the official
//! clients, every figure measured in the same run against the same loopback server.
//!
//! ```text
//! cargo run -p wfcancel-bench --release            # full run, writes BENCHMARKS.md + docs/bench-throughput.png
//! cargo run -p wfcancel-bench --release -- --quick # a tenth of the work, writes under target/bench/
//! ```
//! Options: `--quick`, `--no-official` (skip node/python), `--no-cli` (skip the CLI memory
//! row), `--cli-bin PATH` (use this `wfcancel` instead of building it), `--out PATH`
//! (the Markdown file), `--chart PATH` (the PNG), `--only restate,langgraph` (only the live rows
//! 9 and 10, against real servers; written to `target/bench/BENCHMARKS.only.md` unless `--out`).
//!
//! Set-up: the servers (a minimal hyper server answering like the providers, and the
//! emulators) run on their own one-worker tokio runtime; the Rust clients run on a
//! current-thread runtime on the main thread. So on a 2-core machine the server has one core and
//! the client the other.

mod alloc;
mod chart;
mod external;
mod langgraph_bench;
mod live;
mod measure;
mod more_backends;
mod report;
mod restate_bench;
mod server;
mod temporal;

use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use wfcancel_agno::AgnoCanceller;
use wfcancel_core::{BulkOptions, CancelOutcome, RunFilter, RunRef, Selector, WorkflowCanceller};
use wfcancel_emulator::{UpstashConfig, UpstashEmulator, UpstashRun};
use wfcancel_upstash::UpstashCanceller;

use chart::{Bar, Kind};
use external::Paths;
use measure::{Throughput, drive, median, percentile, timed, us};
use report::{Met, Row, mib, thousands};
use server::{MinimalServer, ServerRuntime};

#[global_allocator]
static ALLOC: alloc::Counting = alloc::Counting;

const TOKEN: &str = "bench-token";
const WORKFLOW: &str = "bench-workflow";
const CONCURRENCY: usize = 50;
const THROUGHPUT_TARGET: f64 = 0.9;
const LATENCY_TARGET: f64 = 1.1;
const CLI_RSS_TARGET: u64 = 64 * 1024 * 1024;

/// Command-line options.
#[derive(Debug, Clone)]
struct Opts {
    quick: bool,
    official: bool,
    cli: bool,
    cli_bin: Option<PathBuf>,
    out: Option<PathBuf>,
    chart: Option<PathBuf>,
    profile: Option<(String, u64)>,
    /// Item 8 (a real Temporal dev server): on unless `--no-temporal`; `--only-temporal` skips the rest.
    temporal: bool,
    only_temporal: bool,
    /// Item 6 alone (the CLI's memory, every backend): `--only-cli`.
    only_cli: bool,
    /// Items 1, 2 and 4 of Temporal, Restate and LangGraph alone: `--only-minimal`.
    only_minimal: bool,
    only: Option<Vec<String>>,
}

impl Opts {
    fn parse() -> Result<Opts, String> {
        let mut o = Opts {
            quick: false,
            official: true,
            cli: true,
            cli_bin: None,
            out: None,
            chart: None,
            profile: None,
            temporal: true,
            only_temporal: false,
            only_cli: false,
            only_minimal: false,
            only: None,
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--quick" => o.quick = true,
                "--no-official" => o.official = false,
                "--no-cli" => o.cli = false,
                "--no-temporal" => o.temporal = false,
                "--only-temporal" => o.only_temporal = true,
                "--only-cli" => o.only_cli = true,
                "--only-minimal" => o.only_minimal = true,
                "--cli-bin" => o.cli_bin = Some(args.next().ok_or("--cli-bin needs a path")?.into()),
                "--out" => o.out = Some(args.next().ok_or("--out needs a path")?.into()),
                "--chart" => o.chart = Some(args.next().ok_or("--chart needs a path")?.into()),
                "--profile" => {
                    let mode = args.next().ok_or("--profile needs a client and a number of seconds")?;
                    let secs = args
                        .next()
                        .and_then(|s| s.parse().ok())
                        .ok_or("--profile needs a number of seconds")?;
                    o.profile = Some((mode, secs));
                }
                "--only" => {
                    let rows = args.next().ok_or("--only needs rows, e.g. restate,langgraph")?;
                    o.only = Some(rows.split(',').map(|r| r.trim().to_owned()).collect());
                }
                "-h" | "--help" => {
                    return Err(
                        "usage: wfcancel-bench [--quick] [--no-official] [--no-cli] [--no-temporal] [--only-temporal] [--only-cli] [--only-minimal] \
                                [--cli-bin PATH] [--out FILE.md] [--chart FILE.png] [--only restate,langgraph]"
                            .to_owned(),
                    );
                }
                other => return Err(format!("unknown argument {other:?} (try --help)")),
            }
        }
        Ok(o)
    }

    /// The workload, scaled down tenfold by `--quick`.
    fn n(&self, full: usize) -> usize {
        if self.quick { (full / 10).max(1) } else { full }
    }

    fn command_line(&self) -> String {
        let mut s = "cargo run -p wfcancel-bench --release".to_owned();
        let args: Vec<String> = std::env::args().skip(1).collect();
        if !args.is_empty() {
            s.push_str(" -- ");
            s.push_str(&args.join(" "));
        }
        s
    }
}

/// The raw-reqwest client: the same requests as the libraries, nothing else.
struct Raw {
    client: reqwest::Client,
    base: String,
    auth: HeaderValue,
}

impl Raw {
    fn new(base: &str) -> Raw {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Raw {
            client,
            base: base.trim_end_matches('/').to_owned(),
            auth: HeaderValue::from_static("Bearer bench-token"),
        }
    }

    /// Upstash's single cancel: `DELETE /v2/workflows/runs/<id>`.
    async fn upstash(&self, id: &str) -> bool {
        let url = format!("{}/v2/workflows/runs/{id}", self.base);
        match self
            .client
            .delete(url)
            .header(AUTHORIZATION, self.auth.clone())
            .send()
            .await
        {
            Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
            Err(_) => false,
        }
    }

    /// Agno's cancel: `POST /workflows/{workflow}/runs/{run}/cancel`.
    async fn agno(&self, id: &str) -> bool {
        let url = format!("{}/workflows/{WORKFLOW}/runs/{id}/cancel", self.base);
        match self.client.post(url).send().await {
            Ok(r) => r.status() == 200 && r.bytes().await.is_ok(),
            Err(_) => false,
        }
    }
}

/// What preparation found.
struct Prepared {
    temporal: Result<PathBuf, String>,
    cli: Result<PathBuf, String>,
    node: Result<PathBuf, String>,
    python: Result<PathBuf, String>,
    notes: Vec<String>,
}

fn prepare(o: &Opts, p: &Paths) -> Prepared {
    let mut notes = Vec::new();
    let cli = if !o.cli {
        Err("--no-cli".to_owned())
    } else if let Some(bin) = &o.cli_bin {
        Ok(bin.clone())
    } else {
        eprintln!("bench: cargo build -p wfcancel-cli --release ...");
        external::build_cli(p).map(|(bin, took)| {
            notes.push(format!(
                "`cargo build -p wfcancel-cli --release` (run by the benchmark before measuring): {:.1} s",
                took.as_secs_f64()
            ));
            bin
        })
    };
    let (node, python) = if !o.official {
        (Err("--no-official".to_owned()), Err("--no-official".to_owned()))
    } else {
        let node = if !external::have("node") || !external::have("npm") {
            Err("node/npm not found: row skipped".to_owned())
        } else {
            eprintln!("bench: tools/upstash-sdk/setup.sh target/bench/upstash-sdk ...");
            let t0 = Instant::now();
            let r = external::setup_node(p);
            notes.push(format!(
                "tools/upstash-sdk/setup.sh (npm ci, skipped when already installed): {:.1} s",
                t0.elapsed().as_secs_f64()
            ));
            r
        };
        let python = if !external::have("python3") {
            Err("python3 not found: row skipped".to_owned())
        } else {
            eprintln!("bench: tools/agno-live/setup.sh target/bench/agno-venv ...");
            let t0 = Instant::now();
            let r = external::setup_python(p);
            notes.push(format!(
                "tools/agno-live/setup.sh (venv + pip, skipped when already built): {:.1} s",
                t0.elapsed().as_secs_f64()
            ));
            r
        };
        (node, python)
    };
    let temporal = if !o.temporal {
        Err("--no-temporal".to_owned())
    } else if !external::have("python3") {
        Err("python3 not found: rows skipped".to_owned())
    } else {
        eprintln!("bench: tools/temporal-live/setup.sh target/bench/temporal-venv ...");
        let t0 = Instant::now();
        let r = temporal::setup(p);
        notes.push(format!(
            "tools/temporal-live/setup.sh (venv + pip, skipped when already built): {:.1} s",
            t0.elapsed().as_secs_f64()
        ));
        r
    };
    Prepared {
        temporal,
        cli,
        node,
        python,
        notes,
    }
}

/// Everything measured, for the table, the chart and the notes.
#[derive(Default)]
struct Results {
    rows: Vec<Row>,
    bars: Vec<Bar>,
    notes: Vec<String>,
    misses: Vec<String>,
    diagnostics: Vec<String>,
}

fn upstash_ids(prefix: &str, n: usize) -> Vec<String> {
    // 26 characters, like Upstash's `wfr_` + 22.
    (0..n)
        .map(|i| format!("wfr_{prefix}{i:0>w$}", w = 22 - prefix.len()))
        .collect()
}

fn agno_ids(n: usize) -> Vec<String> {
    // UUID-shaped, like AgentOS run ids.
    (0..n)
        .map(|i| format!("{:08x}-0000-4000-8000-{:012x}", i, i * 7919))
        .collect()
}

/// Times one `cancel_many` by ids: (runs accounted, runs not `Requested`).
async fn many<C: WorkflowCanceller + ?Sized>(c: &C, selector: &Selector, opts: &BulkOptions) -> Throughput {
    timed(|| async {
        match c.cancel_many(selector, opts).await {
            Ok(r) => {
                let n = r.requested + r.cancelled + r.not_active + r.failed_runs();
                (n, n - r.requested)
            }
            Err(_) => (0, 1),
        }
    })
    .await
}

fn ratio(x: f64, of: f64) -> f64 {
    if of > 0.0 { x / of } else { 0.0 }
}

struct Rates {
    raw_upstash: f64,
    lib_upstash: f64,
    raw_agno: f64,
    lib_agno: f64,
}

/// Items 1, 2 and 4: throughput at concurrency 50 and latency at concurrency 1, on the minimal server.
fn throughput_and_latency(
    o: &Opts,
    client: &tokio::runtime::Runtime,
    minimal: &MinimalServer,
    res: &mut Results,
) -> Result<Rates, String> {
    let n = o.n(20_000);
    let reps = 7;
    let warm = o.n(2_000);
    let upstash = UpstashCanceller::builder()
        .base_url(minimal.url())
        .token(TOKEN)
        .build()
        .map_err(|e| e.to_string())?;
    let agno = AgnoCanceller::builder()
        .base_url(minimal.url())
        .build()
        .map_err(|e| e.to_string())?;
    let raw = Raw::new(&minimal.url());
    let up_ids = upstash_ids("tp", n);
    let up_runs: Vec<RunRef> = up_ids.iter().map(RunRef::new).collect();
    let ag_ids = agno_ids(n);
    let ag_runs: Vec<RunRef> = ag_ids.iter().map(|id| RunRef::new(id).workflow(WORKFLOW)).collect();
    let ag_selector = Selector::Ids(ag_runs.clone());
    let ag_warm = Selector::Ids(ag_runs[..warm].to_vec());
    let ag_opts = BulkOptions::new().concurrency(CONCURRENCY);

    let raw_up = |i: usize| raw.upstash(&up_ids[i]);
    let raw_ag = |i: usize| raw.agno(&ag_ids[i]);
    let lib_up = |i: usize| {
        let run = &up_runs[i];
        let upstash = &upstash;
        async move { matches!(upstash.cancel(run).await, Ok(CancelOutcome::Cancelled)) }
    };
    let lib_ag = |sel| many(&agno, sel, &ag_opts);

    eprintln!("bench: items 1, 2: {n} cancels x {reps} reps per client, {CONCURRENCY} in flight");
    let (mut t_raw_up, mut t_lib_up, mut t_raw_ag, mut t_lib_ag) = (vec![], vec![], vec![], vec![]);
    client.block_on(async {
        // Warm-up: connections opened, code paths hot.
        drive(warm, CONCURRENCY, raw_up).await;
        drive(warm, CONCURRENCY, lib_up).await;
        drive(warm, CONCURRENCY, raw_ag).await;
        lib_ag(&ag_warm).await;
        // Pairs run back to back, in alternating order, so that both halves of a pair see the
        // same background load on the shared cores.
        for rep in 0..reps {
            if rep % 2 == 0 {
                t_raw_up.push(drive(n, CONCURRENCY, raw_up).await);
                t_lib_up.push(drive(n, CONCURRENCY, lib_up).await);
                t_raw_ag.push(drive(n, CONCURRENCY, raw_ag).await);
                t_lib_ag.push(lib_ag(&ag_selector).await);
            } else {
                t_lib_up.push(drive(n, CONCURRENCY, lib_up).await);
                t_raw_up.push(drive(n, CONCURRENCY, raw_up).await);
                t_lib_ag.push(lib_ag(&ag_selector).await);
                t_raw_ag.push(drive(n, CONCURRENCY, raw_ag).await);
            }
        }
    });
    // Allocations per cancel: a separate, untimed pass with the counting allocator on.
    alloc::set_counting(true);
    let (al_raw_up, al_lib_up, al_raw_ag, (al_lib_ag, heap_lib_ag)) = client.block_on(async {
        (
            drive(warm, CONCURRENCY, raw_up).await.allocs_per_op(),
            drive(warm, CONCURRENCY, lib_up).await.allocs_per_op(),
            drive(warm, CONCURRENCY, raw_ag).await.allocs_per_op(),
            {
                // The whole 20,000-id call, for its peak heap too.
                let base = alloc::reset_peak();
                let t = lib_ag(&ag_selector).await;
                (t.allocs_per_op(), alloc::peak() - base)
            },
        )
    });
    alloc::set_counting(false);
    let med = |v: &[Throughput]| median(v.iter().map(Throughput::per_sec).collect());
    let cpu = |v: &[Throughput]| median(v.iter().map(Throughput::cpu_us_per_op).collect());
    let errs = |v: &[Throughput]| v.iter().map(|t| t.errors).sum::<u64>();
    let all = |v: &[Throughput]| v.iter().map(|t| thousands(t.per_sec())).collect::<Vec<_>>().join(" / ");
    // The ratio: the median of the paired ratios.
    let paired = |lib: &[Throughput], raw: &[Throughput]| {
        median(
            lib.iter()
                .zip(raw)
                .map(|(l, r)| ratio(l.per_sec(), r.per_sec()))
                .collect(),
        )
    };
    let rates = Rates {
        raw_upstash: med(&t_raw_up),
        lib_upstash: med(&t_lib_up),
        raw_agno: med(&t_raw_ag),
        lib_agno: med(&t_lib_ag),
    };
    for (name, v) in [
        ("raw upstash", &t_raw_up),
        ("wfcancel upstash", &t_lib_up),
        ("raw agno", &t_raw_ag),
        ("wfcancel agno", &t_lib_ag),
    ] {
        if errs(v) > 0 {
            res.notes.push(format!(
                "{name}: {} failed requests during the throughput runs",
                errs(v)
            ));
        }
    }
    let figures = |v: &[Throughput], allocs: f64| {
        format!(
            "median {}/s (reps {}); client CPU {:.1} µs and {allocs:.1} heap allocations per cancel; {} errors",
            thousands(med(v)),
            all(v),
            cpu(v),
            errs(v)
        )
    };
    res.rows.push(Row::new(
        "1",
        format!(
            "LIMIT (Upstash request): raw reqwest `DELETE /v2/workflows/runs/<id>`, {n} ids, {CONCURRENCY} in flight"
        ),
        figures(&t_raw_up, al_raw_up),
        "1.00 (the limit)",
        "",
        Met::None,
    ));
    res.rows.push(Row::new(
        "1",
        format!("LIMIT (Agno request): raw reqwest `POST /workflows/{{id}}/runs/{{run}}/cancel`, {n} ids, {CONCURRENCY} in flight"),
        figures(&t_raw_ag, al_raw_ag),
        "1.00 (the limit)",
        "",
        Met::None,
    ));
    let up_ratio = paired(&t_lib_up, &t_raw_up);
    let ag_ratio = paired(&t_lib_ag, &t_raw_ag);
    let up_cpu = ratio(cpu(&t_lib_up), cpu(&t_raw_up));
    let ag_cpu = ratio(cpu(&t_lib_ag), cpu(&t_raw_ag));
    res.rows.push(Row::new(
        "2",
        format!("`UpstashCanceller::cancel` × {n}, {CONCURRENCY} in flight"),
        figures(&t_lib_up, al_lib_up),
        format!("{up_ratio:.2} of the limit (client CPU per cancel {up_cpu:.2}× raw)"),
        format!("≥ {THROUGHPUT_TARGET}"),
        Met::from(up_ratio >= THROUGHPUT_TARGET && errs(&t_lib_up) == 0),
    ));
    res.rows.push(Row::new(
        "2",
        format!("`AgnoCanceller::cancel_many` over {n} ids, concurrency {CONCURRENCY}"),
        figures(&t_lib_ag, al_lib_ag),
        format!("{ag_ratio:.2} of the limit (client CPU per cancel {ag_cpu:.2}× raw)"),
        format!("≥ {THROUGHPUT_TARGET}"),
        Met::from(ag_ratio >= THROUGHPUT_TARGET && errs(&t_lib_ag) == 0),
    ));
    if up_ratio < THROUGHPUT_TARGET {
        res.misses.push(format!(
            "item 2, Upstash: {up_ratio:.2} of the limit (client CPU {:.1} vs {:.1} µs/cancel, {:.1} vs {:.1} allocations/cancel)",
            cpu(&t_lib_up),
            cpu(&t_raw_up),
            al_lib_up,
            al_raw_up
        ));
    }
    if ag_ratio < THROUGHPUT_TARGET {
        res.misses.push(format!(
            "item 2, Agno: {ag_ratio:.2} of the limit (client CPU {:.1} vs {:.1} µs/cancel, {:.1} vs {:.1} allocations/cancel)",
            cpu(&t_lib_ag),
            cpu(&t_raw_ag),
            al_lib_ag,
            al_raw_ag
        ));
    }
    // Diagnosis of the Agno figure: the same fan-out (core's `fan_out` and `HttpClient`) with
    // each URL built once, paired with raw reqwest as above.
    let one_build = OneBuildAgno {
        http: wfcancel_core::http::HttpClient::new(
            "agno",
            &minimal.url(),
            None,
            wfcancel_core::http::HttpConfig::default(),
        )
        .map_err(|e| e.to_string())?,
    };
    let (mut d_raw, mut d_one) = (vec![], vec![]);
    let (al_one, heap_one) = client.block_on(async {
        let one = |sel| many(&one_build, sel, &ag_opts);
        alloc::set_counting(true);
        let base = alloc::reset_peak();
        let t = one(&ag_selector).await;
        let heap = alloc::peak() - base;
        alloc::set_counting(false);
        for rep in 0..reps {
            if rep % 2 == 0 {
                d_raw.push(drive(n, CONCURRENCY, raw_ag).await);
                d_one.push(one(&ag_selector).await);
            } else {
                d_one.push(one(&ag_selector).await);
                d_raw.push(drive(n, CONCURRENCY, raw_ag).await);
            }
        }
        (t.allocs_per_op(), heap)
    });
    res.diagnostics.push(format!(
        "Agno, the same fan-out with each request URL built once (the benchmark's `OneBuildAgno`: core's `fan_out` over \
         `HttpClient::endpoint` + `send_with`, i.e. what `AgnoCanceller::cancel_many` does, written by hand as its reference): {:.2} of the limit, client CPU {:.1} µs/cancel (raw {:.1}, \
         `AgnoCanceller::cancel_many` {:.1}), {al_one:.1} heap allocations per cancel (`AgnoCanceller::cancel_many` \
         {al_lib_ag:.1}), measured in {reps} more pairs right after item 2.",
        paired(&d_one, &d_raw),
        cpu(&d_one),
        cpu(&d_raw),
        cpu(&t_lib_ag)
    ));
    res.diagnostics.push(format!(
        "Agno, peak client heap during one `cancel_many` over {n} ids (above the input): `AgnoCanceller` {} ({:.0} bytes \
         per id), the one-build fan-out {} ({:.0} bytes per id; what is left is core's `fan_out` keeping a clone of every \
         `RunRef` in `BulkReport::outcomes`).",
        mib(heap_lib_ag as f64),
        ratio(heap_lib_ag as f64, n as f64),
        mib(heap_one as f64),
        ratio(heap_one as f64, n as f64)
    ));
    res.bars.push(Bar {
        label: "raw reqwest (Upstash request)".into(),
        value: rates.raw_upstash,
        kind: Kind::Raw,
        group_start: false,
        note: "the limit".into(),
    });
    res.bars.push(Bar {
        label: "wfcancel UpstashCanceller::cancel".into(),
        value: rates.lib_upstash,
        kind: Kind::Wfcancel,
        group_start: false,
        note: format!("{up_ratio:.2} of the limit"),
    });
    res.bars.push(Bar {
        label: "raw reqwest (Agno request)".into(),
        value: rates.raw_agno,
        kind: Kind::Raw,
        group_start: true,
        note: "the limit".into(),
    });
    res.bars.push(Bar {
        label: "wfcancel AgnoCanceller::cancel_many".into(),
        value: rates.lib_agno,
        kind: Kind::Wfcancel,
        group_start: false,
        note: format!("{ag_ratio:.2} of the limit"),
    });

    // Item 4: latency at concurrency 1, raw and wfcancel alternating request by request (and
    // which goes first alternating too), so that both see the same conditions.
    let n_lat = o.n(5_000);
    eprintln!("bench: item 4: {n_lat} sequential cancels per client");
    let (mut l_raw_up, mut l_lib_up, mut l_raw_ag, mut l_lib_ag) = (vec![], vec![], vec![], vec![]);
    let mut l_one_ag = vec![];
    client.block_on(async {
        for i in 0..n_lat {
            for first in [i % 2 == 0, i % 2 != 0] {
                let t = Instant::now();
                if first {
                    raw.upstash(&up_ids[i]).await;
                    l_raw_up.push(t.elapsed());
                } else {
                    let _ = upstash.cancel(&up_runs[i]).await;
                    l_lib_up.push(t.elapsed());
                }
            }
            for k in 0..3 {
                let t = Instant::now();
                match (i + k) % 3 {
                    0 => {
                        raw.agno(&ag_ids[i]).await;
                        l_raw_ag.push(t.elapsed());
                    }
                    1 => {
                        let _ = agno.cancel(&ag_runs[i]).await;
                        l_lib_ag.push(t.elapsed());
                    }
                    _ => {
                        let _ = one_build.cancel(&ag_runs[i]).await;
                        l_one_ag.push(t.elapsed());
                    }
                }
            }
        }
    });
    l_one_ag.sort();
    let one_p50 = percentile(&l_one_ag, 0.5);
    for (backend, raw_l, lib_l, what) in [
        ("Upstash", &mut l_raw_up, &mut l_lib_up, "`UpstashCanceller::cancel`"),
        ("Agno", &mut l_raw_ag, &mut l_lib_ag, "`AgnoCanceller::cancel`"),
    ] {
        raw_l.sort();
        lib_l.sort();
        let (r50, r99) = (percentile(raw_l, 0.5), percentile(raw_l, 0.99));
        let (w50, w99) = (percentile(lib_l, 0.5), percentile(lib_l, 0.99));
        let p50 = ratio(us(w50), us(r50));
        let p99 = ratio(us(w99), us(r99));
        res.rows.push(Row::new(
            "4",
            format!("{what} latency, concurrency 1, {n_lat} cancels ({backend} request)"),
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
                "item 4, {backend}: p50 {p50:.3}× raw reqwest ({:.1} vs {:.1} µs)",
                us(w50),
                us(r50)
            ));
        }
    }
    res.diagnostics.push(format!(
        "Agno, single-cancel latency of the one-build canceller (same requests, interleaved with item 4): p50 {:.1} µs, \
         {:.3}× raw reqwest's p50 (`AgnoCanceller::cancel`: {:.3}×).",
        us(one_p50),
        ratio(us(one_p50), us(percentile(&l_raw_ag, 0.5))),
        ratio(us(percentile(&l_lib_ag, 0.5)), us(percentile(&l_raw_ag, 0.5)))
    ));
    Ok(rates)
}

fn start_emulator(srv: &ServerRuntime) -> Result<UpstashEmulator, String> {
    srv.block_on(UpstashEmulator::start(UpstashConfig::default().with_token(TOKEN)))
        .map_err(|e| format!("cannot start the Upstash emulator: {e}"))
}

/// Item 3: bulk by 100,000 ids on the Upstash emulator.
fn bulk_ids(
    o: &Opts,
    client: &tokio::runtime::Runtime,
    srv: &ServerRuntime,
    limit: f64,
    res: &mut Results,
) -> Result<(), String> {
    let n = o.n(100_000);
    eprintln!("bench: item 3: cancel_many by {n} ids on the Upstash emulator");
    let emu = start_emulator(srv)?;
    alloc::set_counting(true);
    let before_input = alloc::current();
    let ids = upstash_ids("bulk", n);
    alloc::track_this_thread(false); // the emulator's store is the server's memory, not the client's
    emu.seed_many(
        ids.iter()
            .map(|id| UpstashRun::new(id.clone(), "https://app.example.com/api/bench")),
    );
    alloc::track_this_thread(true);
    let selector = Selector::Ids(ids.iter().map(RunRef::new).collect());
    drop(ids);
    let input = alloc::current() - before_input;
    let c = UpstashCanceller::builder()
        .base_url(emu.url())
        .token(emu.token())
        .build()
        .map_err(|e| e.to_string())?;
    let opts = BulkOptions::new();
    let warm = Selector::Ids(
        upstash_ids("bulkwarm", o.n(5_000))
            .into_iter()
            .map(RunRef::new)
            .collect(),
    );
    let mut report = None;
    let base = client.block_on(async {
        let _ = c.cancel_many(&warm, &opts).await;
        emu.reset_stats();
        alloc::reset_peak()
    });
    let t = client.block_on(timed(|| async {
        let r = c.cancel_many(&selector, &opts).await;
        let out = match &r {
            Ok(r) => (
                r.cancelled + r.not_active,
                r.failed_runs() + r.not_attempted.len() as u64,
            ),
            Err(_) => (0, n as u64),
        };
        report = r.ok();
        out
    }));
    let peak = alloc::peak() - base;
    alloc::set_counting(false);
    let report = report.ok_or("cancel_many by ids failed before sending")?;
    let server_requests = emu.requests();
    let cancelled_server = emu.cancelled();
    let per_req = ratio(n as f64, report.requests_sent as f64);
    let runs_per_sec = ratio(report.cancelled as f64, t.secs);
    res.rows.push(Row::new(
        "3",
        format!(
            "`UpstashCanceller::cancel_many(Selector::Ids)`, {n} ids, default options (concurrency {}, URLs ≤ {} bytes), Upstash emulator",
            opts.concurrency,
            c.max_url_bytes()
        ),
        format!(
            "{} requests sent ({} seen by the server, {:.0} ids each), {:.2} s wall, {} cancelled ({} by the server's count), {} failed; peak client heap +{} above the input (the {n} RunRefs: {}); client CPU {:.2} s",
            report.requests_sent,
            server_requests,
            per_req,
            t.secs,
            thousands(report.cancelled as f64),
            thousands(cancelled_server as f64),
            report.failed_runs(),
            mib(peak as f64),
            mib(input as f64),
            t.cpu_secs
        ),
        format!(
            "{:.1}× the single-cancel limit ({} runs/s); heap {:.2}× the input",
            ratio(runs_per_sec, limit),
            thousands(runs_per_sec),
            ratio(peak as f64, input as f64)
        ),
        "",
        Met::None,
    ));
    if report.cancelled != n as u64 {
        res.notes.push(format!(
            "item 3: expected {n} cancelled, the report says {} (server: {cancelled_server})",
            report.cancelled
        ));
    }
    srv.block_on(emu.shutdown());
    Ok(())
}

/// Item 5: drain 50,000 runs by label, page sizes 100 and 1,000.
fn drain(
    o: &Opts,
    client: &tokio::runtime::Runtime,
    srv: &ServerRuntime,
    limit: f64,
    res: &mut Results,
) -> Result<(), String> {
    let n = o.n(50_000);
    let emu = start_emulator(srv)?;
    let c = UpstashCanceller::builder()
        .base_url(emu.url())
        .token(emu.token())
        .build()
        .map_err(|e| e.to_string())?;
    for page in [100usize, 1_000] {
        eprintln!("bench: item 5: drain {n} runs by label, page size {page}");
        let label = format!("bench-drain-{page}");
        alloc::track_this_thread(false);
        emu.seed_many(
            upstash_ids(&format!("d{page}x"), n)
                .into_iter()
                .map(|id| UpstashRun::new(id, "https://app.example.com/api/bench").label(label.clone())),
        );
        alloc::track_this_thread(true);
        emu.reset_stats();
        let selector = Selector::filter(RunFilter::new().label(label.clone()));
        let opts = BulkOptions::new().page_size(page).drain(true);
        let mut report = None;
        let t = client.block_on(timed(|| async {
            let r = c.cancel_many(&selector, &opts).await;
            let out = match &r {
                Ok(r) => (r.cancelled, r.failed.len() as u64),
                Err(_) => (0, 1),
            };
            report = r.ok();
            out
        }));
        let report = report.ok_or("the drain failed before sending")?;
        let pages = n.div_ceil(page);
        // The pages, then one round that cancels nothing (confirmed by a logs read).
        let ideal = pages + 1;
        let runs_per_sec = ratio(report.cancelled as f64, t.secs);
        res.rows.push(Row::new(
            "5",
            format!("Drain {n} runs by label, page size {page} (`cancel_many(Filter)`, drain), Upstash emulator"),
            format!(
                "{} rounds (fewest possible: {pages} pages, then the zero round a logs read confirms = {ideal}), {:.2} s wall, {} cancelled, drained: {}, {} still active; client CPU {:.2} s",
                report.rounds,
                t.secs,
                thousands(report.cancelled as f64),
                report.drained,
                emu.active_count(),
                t.cpu_secs
            ),
            format!(
                "{:.1}× the single-cancel limit ({} runs/s); rounds {:.2}× the fewest",
                ratio(runs_per_sec, limit),
                thousands(runs_per_sec),
                ratio(report.rounds as f64, ideal as f64)
            ),
            "",
            Met::None,
        ));
    }
    srv.block_on(emu.shutdown());
    Ok(())
}

/// Item 6: the CLI streaming 1,000,000 ids from stdin.
fn cli_memory(
    o: &Opts,
    srv: &ServerRuntime,
    minimal: &MinimalServer,
    bin: &std::path::Path,
    p: &Paths,
    res: &mut Results,
) -> Result<(), String> {
    let n = o.n(1_000_000) as u64;
    eprintln!("bench: item 6: {} ids through `wfcancel bulk --ids-file -`", n);
    let emu = start_emulator(srv)?;
    let env = [("QSTASH_URL", emu.url()), ("QSTASH_TOKEN", emu.token().to_owned())];
    let run = external::cli_stream(
        bin,
        n,
        &env,
        &p.bench_dir().join("cli-stderr.log"),
        Duration::from_secs(120),
    )?;
    let server_requests = emu.requests();
    srv.block_on(emu.shutdown());
    let accounted = accounted(run.summary.as_ref());
    let ok = run.exit == Some(0) && accounted == n && run.ids == n;
    res.rows.push(Row::new(
        "6",
        format!(
            "CLI: `wfcancel --backend upstash --json bulk --ids-file -`, {} ids on stdin, Upstash emulator (ids unknown to it: answered as not active)",
            thousands(n as f64)
        ),
        format!(
            "peak RSS {} (VmHWM read at its exit; highest polled while running {}); {:.2} s wall, {} requests, {} ids accounted, exit {}",
            mib(run.peak() as f64),
            mib(run.hwm_polled as f64),
            run.secs,
            server_requests,
            thousands(accounted as f64),
            run.exit.map_or("signal".to_owned(), |c| c.to_string())
        ),
        format!(
            "{:.2} of the 64 MiB budget; {} ids/s",
            ratio(run.peak() as f64, CLI_RSS_TARGET as f64),
            thousands(ratio(n as f64, run.secs))
        ),
        "< 64 MiB",
        Met::from(run.peak() < CLI_RSS_TARGET && ok),
    ));
    if !ok {
        res.notes.push(format!(
            "item 6: the CLI run was not clean: exit {:?}, {} ids written, {accounted} accounted; see target/bench/cli-stderr.log",
            run.exit, run.ids
        ));
    }
    if run.peak() >= CLI_RSS_TARGET {
        res.misses
            .push(format!("item 6: CLI peak RSS {}", mib(run.peak() as f64)));
    }
    if run.hwm_at_exit.is_none() {
        res.notes.push(
            "item 6: the CLI's exit stop was not seen (ptrace refused?): its peak is the highest VmHWM polled every 2 ms"
                .to_owned(),
        );
    }
    res.notes.push(format!(
        "item 6: `wait4`'s ru_maxrss for the CLI said {}: Linux carries the largest RSS across fork and exec, so it \
         includes the forked copy of the benchmark process and is not the CLI's own; the CLI's peak is its VmHWM read at \
         its exit stop",
        mib(run.ru_maxrss as f64)
    ));
    cli_memory_others(n, minimal, bin, p, res);
    Ok(())
}

/// Item 6 for the other backends: the same million ids through `wfcancel bulk --ids-file -`,
/// against the minimal server (it answers each backend's cancel as accepted, and Temporal's
/// describe as "no such workflow"), each line in the form the backend takes.
fn cli_memory_others(n: u64, minimal: &MinimalServer, bin: &std::path::Path, p: &Paths, res: &mut Results) {
    type Line = fn(u64) -> String;
    let url = minimal.url();
    let cases: [(&str, &[&str], Line, &str, &str); 4] = [
        (
            "agno",
            &[
                "--backend",
                "agno",
                "--json",
                "bulk",
                "--ids-file",
                "-",
                "--workflow",
                "nightly",
            ],
            |i| format!("run-cli-{i:016}"),
            "AGENTOS_URL",
            "`POST /workflows/nightly/runs/{run}/cancel` answered `200 {}`: requested",
        ),
        (
            "temporal",
            &["--backend", "temporal", "--json", "bulk", "--ids-file", "-"],
            |i| format!("wf-cli-{i:016}"),
            "TEMPORAL_HTTP_ADDRESS",
            "a visibility list per 100 ids answered `{}`, then a describe per id answered gRPC NotFound: not active",
        ),
        (
            "restate",
            &["--backend", "restate", "--json", "bulk", "--ids-file", "-"],
            |i| format!("inv_1cli{i:016}"),
            "RESTATE_ADMIN_URL",
            "`PATCH /invocations/{id}/cancel` answered `202`: requested",
        ),
        (
            "langgraph",
            &["--backend", "langgraph", "--json", "bulk", "--ids-file", "-"],
            |i| format!("langgraph:thread/00000000-0000-4000-8000-{i:012}/10000000-0000-4000-8000-{i:012}"),
            "LANGGRAPH_API_URL",
            "one run per thread (`langgraph:thread/T/R` lines): `POST /threads/T/runs/R/cancel` answered `202`: requested",
        ),
    ];
    for (backend, args, line, var, what) in cases {
        eprintln!("bench: item 6: {n} ids through `wfcancel --backend {backend} bulk --ids-file -`");
        let before = minimal.requests();
        let env = [(var, url.clone())];
        let log = p.bench_dir().join(format!("cli-{backend}-stderr.log"));
        let title = format!(
            "CLI: `wfcancel --backend {backend} --json bulk --ids-file -`, {} ids on stdin, minimal server ({what})",
            thousands(n as f64)
        );
        let run = match external::cli_stream_with(bin, args, n, line, &env, &log, Duration::from_secs(300)) {
            Ok(r) => r,
            Err(e) => {
                res.rows.push(Row::skipped("6", title, e));
                continue;
            }
        };
        let requests = minimal.requests() - before;
        let accounted = accounted(run.summary.as_ref());
        let failed = run.summary.as_ref().map_or(0, |s| s["failed"].as_u64().unwrap_or(0));
        let ok = run.exit == Some(0) && accounted == n && run.ids == n && failed == 0;
        res.rows.push(Row::new(
            "6",
            title,
            format!(
                "peak RSS {} (VmHWM at exit); {:.2} s wall, {} requests, {} ids accounted, exit {}",
                mib(run.peak() as f64),
                run.secs,
                thousands(requests as f64),
                thousands(accounted as f64),
                run.exit.map_or("signal".to_owned(), |c| c.to_string())
            ),
            format!(
                "{:.2} of the 64 MiB budget; {} ids/s",
                ratio(run.peak() as f64, CLI_RSS_TARGET as f64),
                thousands(ratio(n as f64, run.secs))
            ),
            "< 64 MiB",
            Met::from(run.peak() < CLI_RSS_TARGET && ok),
        ));
        if !ok {
            res.notes.push(format!(
                "item 6 ({backend}): the CLI run was not clean: exit {:?}, {} ids written, {accounted} accounted, {failed} failed; see {}",
                run.exit,
                run.ids,
                log.display()
            ));
        }
        if run.peak() >= CLI_RSS_TARGET {
            res.misses
                .push(format!("item 6 ({backend}): CLI peak RSS {}", mib(run.peak() as f64)));
        }
    }
}

/// Item 7: the official clients on the same minimal server.
fn official(o: &Opts, prep: &Prepared, p: &Paths, minimal: &MinimalServer, rates: &Rates, res: &mut Results) {
    let conc = CONCURRENCY.to_string();
    // Upstash SDK (node).
    let what_node = format!("`@upstash/workflow` `client.cancel(id)` (node), {CONCURRENCY} in flight");
    match &prep.node {
        Err(why) => res.rows.push(Row::skipped("7", what_node, why.clone())),
        Ok(dir) => {
            eprintln!("bench: item 7: @upstash/workflow client.cancel");
            let mut cmd = Command::new("node");
            cmd.arg(p.scripts().join("upstash_sdk_cancel.mjs"))
                .arg(dir)
                .arg(o.n(8_000).to_string())
                .arg(&conc)
                .arg("25")
                .env("QSTASH_URL", minimal.url())
                .env("QSTASH_TOKEN", TOKEN)
                .env_remove("QSTASH_DEV");
            match external::run_driver(cmd, &p.bench_dir().join("node-driver.log"), Duration::from_secs(90)) {
                Ok(r) => official_row(
                    res,
                    what_node,
                    &r,
                    rates.lib_upstash,
                    "`UpstashCanceller::cancel`",
                    true,
                ),
                Err(e) => res
                    .rows
                    .push(Row::skipped("7", what_node, format!("driver failed: {e}"))),
            }
        }
    }
    // agno (python).
    let what_py = format!("`agno` `AgentOSClient.cancel_workflow_run` (python, asyncio), {CONCURRENCY} in flight");
    match &prep.python {
        Err(why) => res.rows.push(Row::skipped("7", what_py, why.clone())),
        Ok(py) => {
            eprintln!("bench: item 7: agno AgentOSClient.cancel_workflow_run");
            let mut cmd = Command::new(py);
            cmd.arg(p.scripts().join("agno_client_cancel.py"))
                .arg(minimal.url())
                .arg(WORKFLOW)
                .arg(o.n(4_000).to_string())
                .arg(&conc)
                .arg("25");
            match external::run_driver(cmd, &p.bench_dir().join("python-driver.log"), Duration::from_secs(120)) {
                Ok(r) => official_row(res, what_py, &r, rates.lib_agno, "`AgnoCanceller::cancel_many`", false),
                Err(e) => res.rows.push(Row::skipped("7", what_py, format!("driver failed: {e}"))),
            }
        }
    }
}

fn official_row(res: &mut Results, what: String, r: &external::Official, ours: f64, ours_name: &str, upstash: bool) {
    let rate = r.per_sec();
    res.rows.push(Row::new(
        "7",
        what,
        format!(
            "{}/s over {} cancels ({}); process CPU {:.0} µs/cancel; {} errors{}",
            thousands(rate),
            thousands(r.n as f64),
            r.client,
            ratio(r.cpu_secs * 1e6, r.n as f64),
            r.errors,
            r.first_error
                .as_ref()
                .map(|e| format!(" (first: {e})"))
                .unwrap_or_default()
        ),
        format!(
            "{:.2}× {ours_name} ({:.1}× slower)",
            ratio(rate, ours),
            ratio(ours, rate)
        ),
        "",
        Met::None,
    ));
    let bar = Bar {
        label: if upstash {
            "@upstash/workflow client.cancel (node)".into()
        } else {
            "agno AgentOSClient (python)".into()
        },
        value: rate,
        kind: Kind::Official,
        group_start: false,
        note: format!("{:.2}× wfcancel: {:.0}× slower", ratio(rate, ours), ratio(ours, rate)),
    };
    // Put each official bar under its provider's group: right after wfcancel's bar of that
    // provider (the groups of the other backends follow).
    let ours_label = if upstash { "UpstashCanceller" } else { "AgnoCanceller" };
    let at = res
        .bars
        .iter()
        .position(|b| b.kind == Kind::Wfcancel && b.label.contains(ours_label))
        .map_or(res.bars.len(), |i| i + 1);
    res.bars.insert(at, bar);
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "{cores} cores ({cpu}), {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

/// An experiment, for `--profile agno-one-build` only: what `AgnoCanceller::cancel_many` costs
/// when each request URL is built once (core's `HttpClient` and `fan_out`, as the library uses
/// them, written by hand as the reference for the library's own fan-out).
#[derive(Debug)]
struct OneBuildAgno {
    http: wfcancel_core::http::HttpClient,
}

#[wfcancel_core::async_trait]
impl WorkflowCanceller for OneBuildAgno {
    fn backend(&self) -> &'static str {
        "agno"
    }

    fn capabilities(&self) -> wfcancel_core::Capabilities {
        wfcancel_core::Capabilities::default()
    }

    async fn cancel_run(
        &self,
        run: &RunRef,
        _opts: &wfcancel_core::CancelOptions,
    ) -> Result<CancelOutcome, wfcancel_core::CancelError> {
        let owner = run
            .owner()
            .ok_or_else(|| wfcancel_core::CancelError::invalid_input("agno", "owner", "missing"))?;
        let url = self.http.endpoint(&[
            ("path", "workflows"),
            ("owner_id", &*owner.id),
            ("path", "runs"),
            ("run_id", run.run_id()),
            ("path", "cancel"),
        ])?;
        let resp = self
            .http
            .send_with("cancel", wfcancel_core::http::Method::POST, url, &|_| {
                wfcancel_core::http::RetryDecision::Never
            })
            .await?;
        if resp.is_success() {
            Ok(CancelOutcome::Requested)
        } else {
            Err(wfcancel_core::CancelError::provider(
                "agno",
                Some(resp.status),
                resp.readable_body(),
            ))
        }
    }
}

/// `--profile MODE SECS`: one client against the minimal server, 50 in flight, batches of 20,000
/// for about SECS seconds; prints the rate. For `perf record` (or `valgrind --tool=callgrind`
/// with SECS 1: one batch). MODE: `upstash`, `agno`, `temporal`, `restate`, `langgraph`, each
/// also as `raw-…` (raw reqwest sending the same requests), and `agno-one-build`.
fn profile(mode: &str, secs: u64) -> Result<(), String> {
    let srv = ServerRuntime::new(1).map_err(|e| e.to_string())?;
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let minimal = MinimalServer::start(&srv).map_err(|e| e.to_string())?;
    let n = 20_000;
    let raw = Raw::new(&minimal.url());
    let upstash = UpstashCanceller::builder()
        .base_url(minimal.url())
        .token(TOKEN)
        .build()
        .map_err(|e| e.to_string())?;
    let agno = AgnoCanceller::builder()
        .base_url(minimal.url())
        .build()
        .map_err(|e| e.to_string())?;
    let lean = OneBuildAgno {
        http: wfcancel_core::http::HttpClient::new(
            "agno",
            &minimal.url(),
            None,
            wfcancel_core::http::HttpConfig::default(),
        )
        .map_err(|e| e.to_string())?,
    };
    let up_ids = upstash_ids("pr", n);
    let up_runs: Vec<RunRef> = up_ids.iter().map(RunRef::new).collect();
    let ag_ids = agno_ids(n);
    let selector = Selector::Ids(ag_ids.iter().map(|id| RunRef::new(id).workflow(WORKFLOW)).collect());
    let opts = BulkOptions::new().concurrency(CONCURRENCY);
    let clients = more_backends::Clients::new(&minimal, n)?;
    let more = clients.cases();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut total = Throughput::default();
    let mut first = true;
    let mut allocs = 0.0;
    client.block_on(async {
        // The first batch is counted by the allocator (and not timed); the rest is timed.
        while first || Instant::now() < deadline {
            alloc::set_counting(first);
            let t = match mode {
                "raw-upstash" => drive(n, CONCURRENCY, |i| raw.upstash(&up_ids[i])).await,
                "upstash" => {
                    drive(n, CONCURRENCY, |i| {
                        let run = &up_runs[i];
                        let upstash = &upstash;
                        async move { upstash.cancel(run).await.is_ok() }
                    })
                    .await
                }
                "raw-agno" => drive(n, CONCURRENCY, |i| raw.agno(&ag_ids[i])).await,
                "agno" => {
                    timed(|| async {
                        let ok = agno.cancel_many(&selector, &opts).await.is_ok_and(|r| r.is_success());
                        (n as u64, u64::from(!ok))
                    })
                    .await
                }
                "agno-one-build" => {
                    timed(|| async {
                        let ok = lean.cancel_many(&selector, &opts).await.is_ok_and(|r| r.is_success());
                        (n as u64, u64::from(!ok))
                    })
                    .await
                }
                // `temporal`, `raw-restate`, …: items 1 and 2's clients of the other backends.
                other => {
                    let (raw, name) = match other.strip_prefix("raw-") {
                        Some(name) => (true, name),
                        None => (false, other),
                    };
                    let case = more
                        .iter()
                        .find(|c| c.name.eq_ignore_ascii_case(name))
                        .ok_or_else(|| format!("unknown --profile client {other:?}"))?;
                    if raw {
                        drive(n, CONCURRENCY, &case.raw).await
                    } else {
                        drive(n, CONCURRENCY, &case.lib).await
                    }
                }
            };
            alloc::set_counting(false);
            if first {
                first = false;
                allocs = t.allocs_per_op();
                continue;
            }
            total.n += t.n;
            total.errors += t.errors;
            total.secs += t.secs;
            total.cpu_secs += t.cpu_secs;
        }
        Ok::<(), String>(())
    })?;
    println!(
        "{mode}: {}/s, client CPU {:.2} µs and {:.1} allocations per cancel, {} errors",
        thousands(total.per_sec()),
        total.cpu_us_per_op(),
        allocs,
        total.errors
    );
    Ok(())
}

/// Item 8: Temporal, on a real dev server (rows skipped, with why, when it cannot run).
fn item8(prep: &Prepared, p: &Paths, rt: &tokio::runtime::Runtime, res: &mut Results) {
    const WHAT: &str = "Temporal: 1,000 workflows by ids vs the Python SDK, by type vs the CLI";
    match &prep.temporal {
        Err(why) => res.rows.push(Row::skipped("8", WHAT, why.clone())),
        Ok(venv) => {
            if let Err(e) = temporal::measure(rt, p, venv, &mut res.rows, &mut res.misses) {
                res.rows.push(Row::skipped("8", WHAT, e));
            }
        }
    }
}

/// `--only-temporal`: item 8 alone, printed (BENCHMARKS.md is not rewritten).
fn temporal_only(
    o: &Opts,
    p: &Paths,
    prep: &Prepared,
    rt: &tokio::runtime::Runtime,
    started: Instant,
) -> Result<(), String> {
    let mut res = Results::default();
    item8(prep, p, rt, &mut res);
    print_rows(&res);
    eprintln!(
        "bench: {} done in {:.1} s",
        o.command_line(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A partial run's rows, misses and notes, on stdout (`--only-temporal`, `--only-cli`,
/// `--only-minimal`: BENCHMARKS.md is written by the full run only).
fn print_rows(res: &Results) {
    println!("\n{}", report::markdown(&res.rows));
    for m in &res.misses {
        println!("missed: {m}");
    }
    for n in &res.notes {
        println!("note: {n}");
    }
}

/// Runs a CLI summary accounts for: cancelled + requested + not active + failed + not attempted.
fn accounted(summary: Option<&serde_json::Value>) -> u64 {
    summary.map_or(0, |s| {
        ["cancelled", "requested", "not_active", "failed", "not_attempted"]
            .iter()
            .map(|k| s[*k].as_u64().unwrap_or(0))
            .sum::<u64>()
    })
}

fn run() -> Result<(), String> {
    let o = Opts::parse()?;
    if let Some((mode, secs)) = &o.profile {
        alloc::track_this_thread(true);
        return profile(mode, *secs);
    }
    let p = Paths::detect();
    if let Some(only) = &o.only {
        return live::run_only(&o, &p, only);
    }
    alloc::track_this_thread(true);
    let started = Instant::now();
    let prep = prepare(&o, &p);
    let measuring = Instant::now();

    let srv = ServerRuntime::new(1).map_err(|e| e.to_string())?;
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let minimal = MinimalServer::start(&srv).map_err(|e| e.to_string())?;
    let mut res = Results::default();

    if o.only_temporal {
        return temporal_only(&o, &p, &prep, &client, started);
    }
    if o.only_minimal {
        more_backends::run(&o, &client, &minimal, &mut res)?;
        print_rows(&res);
        return Ok(());
    }
    if o.only_cli {
        let bin = prep.cli.as_ref().map_err(Clone::clone)?;
        cli_memory(&o, &srv, &minimal, bin, &p, &mut res)?;
        print_rows(&res);
        return Ok(());
    }
    let rates = throughput_and_latency(&o, &client, &minimal, &mut res)?;
    if let Err(e) = more_backends::run(&o, &client, &minimal, &mut res) {
        res.rows
            .push(Row::skipped("2", "Temporal, Restate and LangGraph single cancels", e));
    }
    if let Err(e) = bulk_ids(&o, &client, &srv, rates.raw_upstash, &mut res) {
        res.rows.push(Row::skipped("3", "bulk by ids", e));
    }
    if let Err(e) = drain(&o, &client, &srv, rates.raw_upstash, &mut res) {
        res.rows.push(Row::skipped("5", "drain by label", e));
    }
    match &prep.cli {
        Ok(bin) => {
            if let Err(e) = cli_memory(&o, &srv, &minimal, bin, &p, &mut res) {
                res.rows.push(Row::skipped("6", "CLI streaming ids from stdin", e));
            }
        }
        Err(e) => res
            .rows
            .push(Row::skipped("6", "CLI streaming ids from stdin", e.clone())),
    }
    official(&o, &prep, &p, &minimal, &rates, &mut res);
    item8(&prep, &p, &client, &mut res);
    restate_bench::run(&o, &p, &mut res);
    langgraph_bench::run(&o, &p, &mut res);
    let minimal_requests = minimal.requests();
    drop(minimal);
    let measured = measuring.elapsed();
    let total = started.elapsed();

    // Sort rows by item.
    res.rows.sort_by_key(|r| report::item_order(r.item));
    let table = report::markdown(&res.rows);
    println!("\n{table}");
    for d in &res.diagnostics {
        println!("diagnostic: {d}");
    }
    for m in &res.misses {
        println!("missed: {m}");
    }

    let (out, chart_path) = if o.quick {
        (
            o.out
                .clone()
                .unwrap_or_else(|| p.bench_dir().join("BENCHMARKS.quick.md")),
            o.chart
                .clone()
                .unwrap_or_else(|| p.bench_dir().join("bench-throughput.quick.png")),
        )
    } else {
        (
            o.out.clone().unwrap_or_else(|| p.root.join("BENCHMARKS.md")),
            o.chart
                .clone()
                .unwrap_or_else(|| p.root.join("docs/bench-throughput.png")),
        )
    };
    if let Some(dir) = chart_path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let chart_note = match chart::draw(
        &chart_path,
        "Cancels per second, 50 in flight, same loopback server",
        &format!(
            "{}; server: 1 tokio worker thread; Rust clients: current-thread runtime",
            machine()
        ),
        &res.bars,
    ) {
        Ok(true) => String::new(),
        Ok(false) => " (no TrueType font was found, so the chart has no text: bars in table order)".to_owned(),
        Err(e) => format!(" (the chart could not be drawn: {e})"),
    };
    let chart_rel = chart_path
        .strip_prefix(out.parent().unwrap_or(&p.root))
        .map_or_else(|_| chart_path.display().to_string(), |r| r.display().to_string());

    let mut md = String::new();
    md.push_str("# wfcancel benchmarks\n\n");
    md.push_str("Written by the benchmark itself (`crates/wfcancel-bench`); do not edit by hand, run it again.\n\n");
    md.push_str(&format!("Command: `{}`\n\n", o.command_line()));
    md.push_str(&format!(
        "Machine: {}. Measured in {:.0} s ({:.0} s with preparation).\n\n",
        machine(),
        measured.as_secs_f64(),
        total.as_secs_f64()
    ));
    md.push_str(&format!(
        "Set-up: every figure comes from this one run, against servers on 127.0.0.1 in the same process: a minimal \
         hyper HTTP/1.1 server that answers like the providers (Upstash `200 OK` to `DELETE /v2/workflows/runs/{{id}}` \
         and `200 {{\"cancelled\":N}}` to `DELETE /v2/workflows/runs?workflowRunIds=…`, Agno `200 {{}}` to `POST /workflows/{{id}}/runs/{{run}}/cancel`; no \
         state, no auth check: the cheapest possible answer, so it is the ceiling) for items 1, 2, 4 and 7, and the \
         Upstash emulator (`wfcancel-emulator`, which keeps state) for items 3, 5 and 6. The servers run on their own \
         tokio runtime with {} worker thread; the Rust clients (raw reqwest and wfcancel) run on a current-thread \
         runtime on the main thread, so on 2 cores the server has one core and the client the other (other work on \
         the machine shares them too). Throughput runs come in 7 pairs (raw, then wfcancel, or the other way round, alternating), after a \
         warm-up; a ratio is the median of the 7 paired ratios, a rate the median of 7 runs. Latencies alternate raw \
         and wfcancel request by request. Peak heap (item 3) is \
         measured by a counting global allocator in the benchmark binary that counts only the client thread's \
         allocations (the servers' threads are not counted). The CLI's peak memory (item 6) is the child's `VmHWM` \
         (peak resident set size) read from `/proc/<pid>/status` when it stops at its exit (ptrace exit stop). The minimal server answered {} requests in all.\n\n",
        srv.threads(),
        thousands(minimal_requests as f64)
    ));
    md.push_str("## By backend\n\n");
    md.push_str(
        "Each backend's figures from the table below, in one place (`cargo run -p wfcancel-bench --release` \
         measures them all; the last column runs a backend's rows alone and prints them). Reliability \
         per backend: RELIABILITY.md.\n\n",
    );
    md.push_str(&report::by_backend(&res.rows));
    md.push_str("\n## Results\n\n");
    md.push_str(&table);
    md.push_str(&format!(
        "\n![Cancels per second per client]({chart_rel}){chart_note}\n\n"
    ));
    if !res.diagnostics.is_empty() {
        md.push_str("## Diagnostics measured in this run\n\n");
        for d in &res.diagnostics {
            md.push_str(&format!("- {d}\n"));
        }
        md.push('\n');
    }
    md.push_str("## Targets missed in this run\n\n");
    if res.misses.is_empty() {
        md.push_str("None.\n\n");
    } else {
        for m in &res.misses {
            md.push_str(&format!("- {m}\n"));
        }
        md.push('\n');
    }
    if !res.notes.is_empty() || !prep.notes.is_empty() {
        md.push_str("## Run notes\n\n");
        for n in res.notes.iter().chain(&prep.notes) {
            md.push_str(&format!("- {n}\n"));
        }
        md.push('\n');
    }
    md.push_str(include_str!("../FINDINGS.md"));
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    std::fs::write(&out, md).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    eprintln!(
        "bench: wrote {} and {} (measured in {:.1} s, {:.1} s with preparation)",
        out.display(),
        chart_path.display(),
        measured.as_secs_f64(),
        total.as_secs_f64()
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wfcancel-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
