"""A tiny HTTP service for end-to-end tests, owned by paramedic's process provider.

Environment: PORT (required), START_DELAY (seconds before listening), DIE_AFTER
(seconds after which it exits with code 3), STATE_DIR (where it appends its pid
to `starts` at each start, so tests count starts from outside).
"""

import http.server
import os
import sys
import threading
import time

state = os.environ.get("STATE_DIR", ".")
with open(os.path.join(state, "starts"), "a") as f:
    f.write(f"{os.getpid()}\n")
time.sleep(float(os.environ.get("START_DELAY", "0")))
die_after = float(os.environ.get("DIE_AFTER", "0"))
if die_after:
    threading.Timer(die_after, lambda: os._exit(3)).start()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, *args: object) -> None:
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
print(f"listening on {server.server_address[1]}", flush=True)
sys.stdout.flush()
server.serve_forever()
