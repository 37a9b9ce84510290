"""A tiny HTTP service for the paramedic demo: GET / and GET /health answer 200 "ok".

Standard library only. It listens on 127.0.0.1:$PORT (default 18080) and logs
one line when it starts; kill it and watch paramedic bring it back.
"""

from __future__ import annotations

import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_PORT = 18080


class DemoRequests(BaseHTTPRequestHandler):
    """Answers GET / and GET /health with 200 "ok", anything else with 404."""

    def do_GET(self) -> None:
        """Serve one GET request."""
        found = self.path.split("?", 1)[0] in {"/", "/health"}
        body = b"ok\n" if found else b"not found\n"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet per request: a health check every second would flood the log."""


def main() -> None:
    """Listen on $PORT until stopped."""
    port = int(os.environ.get("PORT", DEFAULT_PORT))
    server = ThreadingHTTPServer(("127.0.0.1", port), DemoRequests)
    sys.stderr.write(f"demo service {os.getpid()} listening on http://127.0.0.1:{port}/\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
