"""Cancel N running workflows with the official Temporal Python SDK, then wait until all are closed.

Usage: python temporal_sdk_cancel.py <grpc-address> <namespace> <id-prefix> <n> <concurrency> <max-seconds>
Run it with the venv tools/temporal-live/setup.sh built (temporalio 1.35.0). The workflows are
`<id-prefix>0` … `<id-prefix>{n-1}`. Connecting is not timed. Timed: `handle.cancel()` for each
id, <concurrency> coroutines on one asyncio loop (as an application would), then
`client.count_workflows('WorkflowId STARTS_WITH "<prefix>" AND ExecutionStatus = "Running"')`
every 50 ms until it reads 0. Prints one JSON line:
{"client": ..., "n": cancels, "errors": e, "secs": until all closed, "cancel_secs": the cancels
alone, "cpu_secs": process CPU, "first_error": ...}.
"""
import asyncio
import json
import resource
import sys
import time


def main() -> int:
    if len(sys.argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    address, namespace, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
    n, conc, max_secs = int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    from importlib.metadata import version
    from temporalio.client import Client

    async def bench():
        client = await Client.connect(address, namespace=namespace)
        query = f'WorkflowId STARTS_WITH "{prefix}" AND ExecutionStatus = "Running"'
        state = {"next": 0, "done": 0, "errors": 0, "first_error": None}

        async def worker():
            while state["next"] < n:
                i = state["next"]
                state["next"] += 1
                try:
                    await client.get_workflow_handle(f"{prefix}{i}").cancel()
                except Exception as e:  # noqa: BLE001 - every failure is counted
                    state["errors"] += 1
                    if state["first_error"] is None:
                        state["first_error"] = f"{type(e).__name__}: {e}"
                state["done"] += 1

        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        cancel_secs = time.perf_counter() - t0
        deadline = time.monotonic() + max_secs
        while (await client.count_workflows(query)).count > 0:
            if time.monotonic() > deadline:
                raise SystemExit(f"still running after {max_secs} s")
            await asyncio.sleep(0.05)
        secs = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        return state, secs, cancel_secs, cpu

    state, secs, cancel_secs, cpu = asyncio.run(bench())
    print(json.dumps({
        "client": f"temporalio {version('temporalio')} WorkflowHandle.cancel()",
        "n": state["done"], "errors": state["errors"], "secs": secs, "cancel_secs": cancel_secs,
        "cpu_secs": cpu, "first_error": state["first_error"],
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
