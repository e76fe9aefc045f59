"""The live Temporal tests' worker: slow workflows whose activities heartbeat and log each step.

Usage: python worker.py --address 127.0.0.1:PORT --namespace NS --task-queue Q --step-log FILE
                        [--ready-file FILE]

Workflow types (each takes one optional JSON argument, an object; missing keys take their
defaults):
- ``SlowSteps``   {"steps": 5, "step_seconds": 1.0}: runs activity ``step`` once per step, in
  order. Each activity heartbeats every 100 ms and writes ``<workflow id> <run id> stepN start``
  then ``... stepN end`` to the step log, so a test can prove that the steps after a cancel never
  ran. A cancel reaches the running activity through its heartbeat; the workflow then ends
  CANCELED (it does not catch the cancellation).
- ``OtherSlowSteps``: the same code under another type name (a batch by type must leave it alone).
- ``Waiting``: waits for nothing, forever, with no timer and no activity; a cancel ends it
  CANCELED at its next workflow task (the benchmark's workflows: light for the worker).
- ``Quick``: completes at once (seeds a COMPLETED run).
- ``Failing``: fails at once with a non-retryable error (seeds a FAILED run).

Once the worker polls its task queue it writes ``ready`` to --ready-file (if given). It runs
until SIGTERM/SIGINT.
"""

import argparse
import asyncio
import os
import signal
from datetime import timedelta
from typing import Optional

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

STEP_LOG = os.environ.get("WFCANCEL_STEP_LOG", "")


def log_step(line: str) -> None:
    if not STEP_LOG:
        return
    # One write per line, O_APPEND: lines of concurrent activities never interleave.
    fd = os.open(STEP_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


@activity.defn(name="step")
async def step(arg: dict) -> str:
    info = activity.info()
    who = f"{info.workflow_id} {info.workflow_run_id} step{arg['n']}"
    log_step(f"{who} start")
    deadline = asyncio.get_running_loop().time() + float(arg["seconds"])
    try:
        while asyncio.get_running_loop().time() < deadline:
            activity.heartbeat()
            await asyncio.sleep(0.1)
    except asyncio.CancelledError:
        log_step(f"{who} cancelled")
        raise
    log_step(f"{who} end")
    return who


async def run_steps(arg: dict) -> int:
    steps = int(arg.get("steps", 5))
    seconds = float(arg.get("step_seconds", 1.0))
    for n in range(1, steps + 1):
        await workflow.execute_activity(
            step,
            {"n": n, "seconds": seconds},
            start_to_close_timeout=timedelta(seconds=seconds + 30),
            heartbeat_timeout=timedelta(seconds=2),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )
    return steps


@workflow.defn(name="SlowSteps")
class SlowSteps:
    @workflow.run
    async def run(self, arg: Optional[dict] = None) -> int:
        return await run_steps(arg or {})


@workflow.defn(name="OtherSlowSteps")
class OtherSlowSteps:
    @workflow.run
    async def run(self, arg: Optional[dict] = None) -> int:
        return await run_steps(arg or {})


@workflow.defn(name="Waiting")
class Waiting:
    @workflow.run
    async def run(self, arg: Optional[dict] = None) -> str:
        await workflow.wait_condition(lambda: False)
        return "never"


@workflow.defn(name="Quick")
class Quick:
    @workflow.run
    async def run(self, arg: Optional[dict] = None) -> str:
        return "done"


@workflow.defn(name="Failing")
class Failing:
    @workflow.run
    async def run(self, arg: Optional[dict] = None) -> str:
        raise ApplicationError("seeded failure", non_retryable=True)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--namespace", default="default")
    p.add_argument("--task-queue", required=True)
    p.add_argument("--ready-file", default="")
    args = p.parse_args()

    client = await Client.connect(args.address, namespace=args.namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client,
        task_queue=args.task_queue,
        workflows=[SlowSteps, OtherSlowSteps, Waiting, Quick, Failing],
        activities=[step],
        max_concurrent_activities=2000,
        max_concurrent_workflow_tasks=200,
    ):
        if args.ready_file:
            with open(args.ready_file, "w") as f:
                f.write("ready\n")
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
