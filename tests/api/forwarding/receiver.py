"""A webhook receiver run as its own process by the delivery tests (so it can be killed).

Each CloudEvent is checked (content type, HMAC signature) and its id appended to the
output file, flushed to disk, before the 200 answer: what the file holds is exactly
what the receiver acknowledged. A bad signature gets 401 and is written as ``!bad``.

Usage: python -m tests.api.forwarding.receiver PORT OUT_FILE SECRET [FAIL_FIRST]
"""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from vth.api.forwarding.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


def main() -> None:
    port, out, secret = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    fail_first = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    seen = {"requests": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            seen["requests"] += 1
            if seen["requests"] <= fail_first:
                self._answer(503)
                return
            ok = self.headers.get("Content-Type", "").startswith(
                "application/cloudevents+json"
            ) and verify(
                secret,
                self.headers.get(TIMESTAMP_HEADER, ""),
                body,
                self.headers.get(SIGNATURE_HEADER, ""),
            )
            event = json.loads(body) if ok else {}
            with Path(out).open("a", encoding="utf-8") as f:
                f.write((event["id"] if ok else "!bad") + "\n")
                f.flush()
                os.fsync(f.fileno())
            self._answer(200 if ok else 401)

        def _answer(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
