"""The official LangGraph SDK cancelling runs: `client.runs.cancel(thread_id, run_id)` for each.

Usage: python langgraph_sdk_cancel.py <base-url> <runs-file> <concurrency>
Run it with the venv tools/langgraph-live/setup.sh built (langgraph-sdk 0.4.14 is pinned there).
<runs-file> holds one "<thread_id> <run_id>" per line.

Protocol with wfcancel-bench (item 9), so that only the cancels are timed, not Python's start or
the imports: the script imports the SDK, builds the client, warms it up with one cancel of a run
that does not exist (its 404 is expected), prints `ready`, then waits for a line on stdin. It
then cancels every run, <concurrency> coroutines sharing one event loop (asyncio), as an
application would, with the SDK's defaults (`wait=False`, `action="interrupt"`), and prints one
JSON line: {"client", "n", "errors", "secs", "cpu_secs", "first_error"}.
"""
import asyncio
import json
import resource
import sys
import time
import uuid


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    base, runs_file, conc = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(runs_file) as f:
        runs = [tuple(line.split()) for line in f if line.strip()]
    from importlib.metadata import version

    from langgraph_sdk import get_client

    async def bench():
        # api_key=None: no key is read from the environment (the server has no auth).
        client = get_client(url=base, api_key=None)
        try:
            await client.runs.cancel(str(uuid.uuid4()), str(uuid.uuid4()))
        except Exception:  # noqa: BLE001 - the warm-up's 404 is expected
            pass
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        state = {"next": 0, "errors": 0, "first_error": None}

        async def worker():
            while state["next"] < len(runs):
                thread_id, run_id = runs[state["next"]]
                state["next"] += 1
                try:
                    await client.runs.cancel(thread_id, run_id)
                except Exception as e:  # noqa: BLE001 - every failure is counted
                    state["errors"] += 1
                    if state["first_error"] is None:
                        state["first_error"] = f"{type(e).__name__}: {e}"

        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conc)))
        secs = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        return state, secs, cpu

    state, secs, cpu = asyncio.run(bench())
    print(json.dumps({
        "client": f"langgraph-sdk {version('langgraph-sdk')} client.runs.cancel",
        "n": len(runs), "errors": state["errors"], "secs": secs, "cpu_secs": cpu,
        "first_error": state["first_error"],
    }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
