"""Re-check the facts in OBSERVED.md against a running server.py (stdlib only, loopback only).

Usage: python3 tools/agno-live/observe.py --base http://127.0.0.1:PORT --key KEY --step-log FILE [--n 50]
Prints one JSON object per check. Every loop is bounded; every request has a 10 s timeout.
"""

import argparse
import concurrent.futures as cf
import json
import time
import urllib.error
import urllib.parse
import urllib.request


def req(base, method, path, key=None, form=None, timeout=10.0):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    r = urllib.request.Request(base + path, data=data, method=method)
    if key is not None:
        r.add_header("Authorization", f"Bearer {key}")
    if data is not None:
        r.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(r, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def start(base, key, wf):
    st, body = req(base, "POST", f"/workflows/{wf}/runs", key,
                   {"message": "x", "stream": "false", "background": "true"})
    assert st == 202, (st, body)
    j = json.loads(body)
    return j["run_id"], j["session_id"]


def status(base, key, wf, run, sid):
    st, body = req(base, "GET", f"/workflows/{wf}/runs/{run}?session_id={urllib.parse.quote(sid)}", key)
    return st, (json.loads(body) if body else None)


def wait_terminal(base, key, wf, run, sid, deadline_s=30.0):
    end = time.monotonic() + deadline_s
    seen = []
    while time.monotonic() < end:
        st, j = status(base, key, wf, run, sid)
        s = j.get("status") if st == 200 else f"http {st}"
        if not seen or seen[-1] != s:
            seen.append(s)
        if s in ("COMPLETED", "CANCELLED", "ERROR"):
            return s, seen
        time.sleep(0.1)
    return "TIMEOUT", seen


def step_lines(path, run):
    try:
        with open(path, encoding="utf-8") as f:
            return [ln.split()[1] for ln in f if ln.startswith(run + " ")]
    except FileNotFoundError:
        return []


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--step-log", required=True)
    p.add_argument("--n", type=int, default=50)
    a = p.parse_args()
    B, K = a.base.rstrip("/"), a.key
    out = lambda **kw: print(json.dumps(kw), flush=True)  # noqa: E731

    # 1. cancel mid-run
    run, sid = start(B, K, "slow-steps")
    time.sleep(1.5)
    t0 = time.monotonic()
    out(check="cancel mid-run", answer=req(B, "POST", f"/workflows/slow-steps/runs/{run}/cancel", K))
    final, seen = wait_terminal(B, K, "slow-steps", run, sid)
    out(check="cancel mid-run final", status=final, seen=seen, secs_to_terminal=round(time.monotonic() - t0, 2))
    time.sleep(5.5)  # longer than the rest of the workflow would have taken
    out(check="cancel mid-run step log", steps=step_lines(a.step_log, run))

    # 2. answers of the error cases
    cases = [
        ("wrong key", "POST", "/workflows/slow-steps/runs/x/cancel", "nope"),
        ("no header", "POST", "/workflows/slow-steps/runs/x/cancel", None),
        ("unknown workflow", "POST", "/workflows/nope/runs/x/cancel", K),
        ("unknown run cancel", "POST", "/workflows/slow-steps/runs/no-such-run/cancel", K),
        ("status without session_id", "GET", "/workflows/slow-steps/runs/no-such-run", K),
        ("status unknown run", "GET", "/workflows/slow-steps/runs/no-such-run?session_id=s", K),
        ("GET on cancel", "GET", "/workflows/slow-steps/runs/x/cancel", K),
    ]
    for name, m, path, key in cases:
        out(check=name, answer=req(B, m, path, key))

    # 3. a completed run, then cancel it
    run, sid = start(B, K, "quick")
    final, seen = wait_terminal(B, K, "quick", run, sid)
    c = req(B, "POST", f"/workflows/quick/runs/{run}/cancel", K)
    out(check="quick run", status=final, cancel_after=c, status_after=status(B, K, "quick", run, sid)[1]["status"])

    # 4. N runs started and cancelled concurrently
    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(max_workers=min(a.n, 64)) as ex:
        runs = list(ex.map(lambda _: start(B, K, "slow-steps"), range(a.n)))
        t_started = time.monotonic() - t0
        answers = list(ex.map(lambda rs: req(B, "POST", f"/workflows/slow-steps/runs/{rs[0]}/cancel", K), runs))
        t_cancelled = time.monotonic() - t0
        finals = list(ex.map(lambda rs: wait_terminal(B, K, "slow-steps", rs[0], rs[1], 60.0), runs))
    t_done = time.monotonic() - t0
    time.sleep(2.0)
    steps_run = sum(len(step_lines(a.step_log, r)) for r, _ in runs)
    out(check=f"{a.n} concurrent", starts_s=round(t_started, 2), cancels_s=round(t_cancelled, 2),
        all_terminal_s=round(t_done, 2),
        cancel_answers=sorted({f"{s} {b}" for s, b in answers}),
        finals={s: sum(1 for f, _ in finals if f == s) for s in {f for f, _ in finals}},
        seen_sequences=sorted({" > ".join(seen) for _, seen in finals}),
        step_lines_total=steps_run)


if __name__ == "__main__":
    main()
