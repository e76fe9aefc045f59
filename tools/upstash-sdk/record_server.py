"""Loopback HTTP server that records every request as one JSON line and answers 200 {"cancelled":1}.

Usage: python3 tools/upstash-sdk/record_server.py <port> <record.jsonl> [--max-seconds S]
  port 0 picks a free port; the chosen port is printed on stdout as "PORT <n>".
  Each line: {"method", "path", "query" (raw, undecoded), "headers" ([name, value] pairs in order), "body"}.
  Env RECORD_STATUS / RECORD_BODY / RECORD_CONTENT_TYPE change the answer.
Stops by itself after --max-seconds (default 300) or on SIGTERM/SIGINT. Stdlib only.
"""

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUS = int(os.environ.get("RECORD_STATUS", "200"))
BODY = os.environ.get("RECORD_BODY", '{"cancelled":1}').encode()
CTYPE = os.environ.get("RECORD_CONTENT_TYPE", "application/json")
LOCK = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode("utf-8", "replace") if n else ""
        path, _, query = self.path.partition("?")
        rec = {"method": self.command, "path": path, "query": query,
               "headers": [[k, v] for k, v in self.headers.items()], "body": body}
        with LOCK, open(self.server.record_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")
        self.send_response(STATUS)
        self.send_header("Content-Type", CTYPE)
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _any

    def log_message(self, *args):
        pass


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    port, path = int(argv[0]), argv[1]
    max_s = float(argv[argv.index("--max-seconds") + 1]) if "--max-seconds" in argv else 300.0
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.record_path = path
    print(f"PORT {srv.server_address[1]}", flush=True)
    stop = lambda *_: threading.Thread(target=srv.shutdown, daemon=True).start()  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    timer = threading.Timer(max_s, stop)
    timer.daemon = True
    timer.start()
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
