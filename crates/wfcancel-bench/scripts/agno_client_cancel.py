"""Throughput of the official agno client: AgentOSClient.cancel_workflow_run, N ids, C in flight.

Usage: python agno_client_cancel.py <base-url> <workflow-id> <n> <concurrency> <max-seconds> [warmup]
Run it with the venv tools/agno-live/setup.sh built (agno 3.1.10).
Prints one JSON line: {"client": "...", "n": done, "errors": e, "secs": wall, "first_error": ...}.
Import and warm-up are not timed. Stops early (and says so in "n") after <max-seconds>.
`cancel_workflow_run(workflow_id, run_id, headers=None)` is a coroutine in agno 3.x (it awaits
httpx.AsyncClient through agno.utils.http.get_default_async_client), so C coroutines share
one event loop, as an application would run it.
"""
import asyncio
import json
import resource
import sys
import time


def main() -> int:
    if len(sys.argv) < 6:
        print(__doc__, file=sys.stderr)
        return 2
    base, workflow = sys.argv[1], sys.argv[2]
    n, conc, max_secs = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    warm = int(sys.argv[6]) if len(sys.argv) > 6 else 100
    from importlib.metadata import version
    from agno.client import AgentOSClient

    client = AgentOSClient(base_url=base, timeout=60.0)

    async def run(count: int, prefix: str, deadline: float):
        state = {"next": 0, "done": 0, "errors": 0, "first_error": None}

        async def worker():
            while state["next"] < count and time.monotonic() < deadline:
                i = state["next"]
                state["next"] += 1
                try:
                    await client.cancel_workflow_run(workflow, f"{prefix}{i:08d}")
                except Exception as e:  # noqa: BLE001 - every failure is counted
                    state["errors"] += 1
                    if state["first_error"] is None:
                        state["first_error"] = f"{type(e).__name__}: {e}"
                state["done"] += 1

        await asyncio.gather(*(worker() for _ in range(conc)))
        return state

    async def bench():
        await run(warm, "run_pywarm_", time.monotonic() + 20)
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        r = await run(n, "run_py_", time.monotonic() + max_secs)
        secs = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        return r, secs, cpu

    r, secs, cpu = asyncio.run(bench())
    print(json.dumps({
        "client": f"agno {version('agno')} AgentOSClient.cancel_workflow_run",
        "n": r["done"], "errors": r["errors"], "secs": secs, "cpu_secs": cpu,
        "first_error": r["first_error"],
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
