"""Run each op of an ops file through the real SDK (run-ops.mjs) against a loopback recorder.

Usage: python3 tools/upstash-sdk/record_ops.py <install-dir> <ops.json> > observed.jsonl
One JSON line per op: {"op": i, "arg": <op>, "requests": [{"method", "path", "query", "headers"}], "outcome": {...}}
"requests" is what the SDK sent for that op alone (empty when it refused before sending); "outcome"
is run-ops.mjs's line. The recorder answers 200 {"cancelled":1}; the Host header is left out (it holds
the random port). Each op runs in its own node process with a 60 s limit. Stdlib only.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record_server import Handler  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    install_dir, ops_path = argv
    with open(ops_path, encoding="utf-8") as f:
        ops = json.load(f)
    with tempfile.TemporaryDirectory(prefix="wfcancel-rec-") as tmp:
        rec = os.path.join(tmp, "rec.jsonl")
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.record_path = rec
        threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
        env = dict(os.environ, QSTASH_URL=f"http://127.0.0.1:{srv.server_address[1]}",
                   QSTASH_TOKEN="tok-123")
        env.pop("QSTASH_DEV", None)
        one = os.path.join(tmp, "one.json")
        try:
            for i, op in enumerate(ops):
                open(rec, "w").close()
                with open(one, "w", encoding="utf-8") as f:
                    json.dump([op], f)
                p = subprocess.run(["node", os.path.join(HERE, "run-ops.mjs"), install_dir, one],
                                   env=env, capture_output=True, text=True, timeout=60)
                lines = p.stdout.strip().splitlines()
                if p.returncode != 0 or not lines:
                    sys.stderr.write(p.stderr)
                    return 1
                outcome = json.loads(lines[-1])
                outcome.pop("op", None)
                with open(rec, encoding="utf-8") as f:
                    reqs = [json.loads(ln) for ln in f]
                for r in reqs:
                    r["headers"] = [h for h in r["headers"] if h[0].lower() != "host"]
                    if not r["body"]:
                        del r["body"]
                print(json.dumps({"op": i, "arg": op, "requests": reqs, "outcome": outcome}), flush=True)
        finally:
            srv.shutdown()
            srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
