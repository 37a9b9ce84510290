"""The service the recovery benchmark keeps alive: a tiny threaded HTTP server.

Environment: PORT (required); STATE_DIR (its pid is appended to STATE_DIR/starts at
each start); PIDFILE (optional, written at start, for monit). GET / answers
``200 ok PID`` so the benchmark can tell a restarted process from the old one.
SIGUSR1 makes it exit cleanly with status 0 (the "clean exit" fault).
"""

from __future__ import annotations

import http.server
import os
import signal
import sys
from types import FrameType

PID = os.getpid()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"ok {PID}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 128
    daemon_threads = True


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    """Record the start, listen, serve until a signal."""
    with open(os.path.join(os.environ.get("STATE_DIR", "."), "starts"), "a") as f:
        f.write(f"{PID}\n")
    if os.environ.get("PIDFILE"):
        with open(os.environ["PIDFILE"], "w") as f:
            f.write(f"{PID}\n")
    signal.signal(signal.SIGUSR1, _exit_cleanly)
    server = _Server(("127.0.0.1", int(os.environ["PORT"])), _Handler)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    sys.exit(0)


if __name__ == "__main__":
    main()
