"""A small AgentOS (agno 3.1.10) app for wfcancel's live tests. No language model, loopback only.

Usage:
    <venv>/bin/python tools/agno-live/server.py [--port P] [--db DIR] [--step-log FILE]
                                               [--steps N] [--step-seconds S] [--verbose]

Environment (flags win over env):
    WFCANCEL_AGNO_PORT  port (default 7777); also accepted as the first bare argument
    WFCANCEL_AGNO_DB    folder for the SQLite file (default: a fresh temp dir, removed at exit)
    WFCANCEL_STEP_LOG   file each step appends "<run_id> <step_name>\\n" to (default: no log)
    OS_SECURITY_KEY     when set, every route except /health needs "Authorization: Bearer <key>"
    WFCANCEL_AGNO_VERBOSE=1 (or --verbose) keeps agno's INFO logs; by default they are silenced

Workflows:
    slow-steps  N (default 5) async steps step1..stepN, each sleeping 1 s, then logging its line
    quick       one async step "quick1" that logs its line and returns at once
    long-steps  60 async steps of --step-seconds each (a run that stays RUNNING for a minute,
                for the conformance suite; cancelled, it stops at the next step boundary)
    failing     a workflow function that raises: its run ends ERROR

Prints nothing but errors; exits on SIGTERM / SIGINT.
"""

import argparse
import asyncio
import logging
import os
import sys
import tempfile

# Keep everything on loopback: no telemetry calls home.
os.environ.setdefault("AGNO_TELEMETRY", "false")

from agno.db.sqlite import SqliteDb  # noqa: E402
from agno.os import AgentOS  # noqa: E402
from agno.run.base import RunContext  # noqa: E402
from agno.workflow import Step, Workflow  # noqa: E402
from agno.workflow.types import StepInput, StepOutput  # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("port_pos", nargs="?", type=int, help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--db", default=None, help="folder for the SQLite database")
    p.add_argument("--step-log", default=None)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--step-seconds", type=float, default=1.0)
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args(argv)
    a.port = a.port or a.port_pos or int(os.environ.get("WFCANCEL_AGNO_PORT", "7777"))
    a.db = a.db or os.environ.get("WFCANCEL_AGNO_DB")
    # Without a folder: a temporary one, removed when the server exits (see main).
    a.tmp = None if a.db else tempfile.TemporaryDirectory(prefix="wfcancel-agno-")
    if a.tmp is not None:
        a.db = a.tmp.name
    a.step_log = a.step_log or os.environ.get("WFCANCEL_STEP_LOG")
    a.verbose = a.verbose or os.environ.get("WFCANCEL_AGNO_VERBOSE") == "1"
    return a


def make_step(name, seconds, log_path):
    # run_context is passed by agno when the executor declares a `run_context` parameter;
    # run_context.run_id is the workflow run id that the HTTP API returns and cancels.
    async def executor(step_input: StepInput, run_context: RunContext) -> StepOutput:
        if seconds > 0:
            await asyncio.sleep(seconds)
        if log_path:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(f"{run_context.run_id} {name}\n")
        return StepOutput(content=f"{name} done")

    executor.__name__ = f"exec_{name}"
    return Step(name=name, executor=executor)


def build_app(a):
    db = SqliteDb(db_file=os.path.join(a.db, "agno.db"))
    slow = Workflow(
        id="slow-steps",
        name="slow-steps",
        db=db,
        telemetry=False,
        steps=[make_step(f"step{i}", a.step_seconds, a.step_log) for i in range(1, a.steps + 1)],
    )
    quick = Workflow(id="quick", name="quick", db=db, telemetry=False,
                     steps=[make_step("quick1", 0, a.step_log)])
    long = Workflow(id="long-steps", name="long-steps", db=db, telemetry=False,
                    steps=[make_step(f"long{i}", a.step_seconds, None) for i in range(1, 61)])

    # A step's exception is retried and then swallowed (the run still ends COMPLETED); an
    # exception from the workflow function itself ends the run ERROR.
    async def explode(workflow, execution_input):
        raise RuntimeError("failing on purpose (wfcancel live test)")

    failing = Workflow(id="failing", name="failing", db=db, telemetry=False, steps=explode)
    agent_os = AgentOS(
        id="wfcancel-live",
        workflows=[slow, quick, long, failing],
        db=db,
        telemetry=False,
    )
    return agent_os.get_app()


def quiet_agno():
    # agno logs every cancel at INFO and every 4xx at ERROR; the tests read answers, not logs.
    for name in list(logging.Logger.manager.loggerDict):
        if name == "agno" or name.startswith(("agno.", "agno-")):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def fast_shutdown(seconds=1.0):
    # On shutdown agno waits up to 30 s for in-flight background runs before closing the db.
    # Tests stop the server with runs still going: wait 1 s, then agno cancels the rest.
    import agno.os.app as agno_app

    drain = agno_app._drain_cancel_persist_tasks

    async def short_drain(timeout: float = seconds) -> None:
        await drain(timeout=min(timeout, seconds))

    agno_app._drain_cancel_persist_tasks = short_drain


def main(argv):
    a = parse_args(argv)
    try:
        return serve(a)
    finally:
        if a.tmp is not None:
            a.tmp.cleanup()


def serve(a):
    os.makedirs(a.db, exist_ok=True)
    if not a.verbose:
        quiet_agno()
    app = build_app(a)
    fast_shutdown()
    if not a.verbose:
        quiet_agno()
    import uvicorn

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=a.port,
        log_level="info" if a.verbose else "error",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    # uvicorn's Server handles SIGTERM and SIGINT by shutting down cleanly.
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
