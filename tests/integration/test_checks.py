"""Every check kind against real parts: a stdlib HTTP server, real child processes,
the real PostgreSQL and redis-server fixtures. Failures assert the class and the exact detail."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from paramedic.catalog.model import (
    CommandCheck,
    HttpCheck,
    PostgresCheck,
    ProcessCheck,
    RedisCheck,
    TcpCheck,
)
from paramedic.checks import CheckResult, CheckScheduler, FailureClass, run_check
from paramedic.checks.http_tls import new_http_client
from paramedic.clock import FakeClock, RealClock
from tests.servers import PostgresServer, RedisServer, free_port

pytestmark = pytest.mark.integration

CLOCK = RealClock()


class _Health(BaseHTTPRequestHandler):
    """Answers by path: /ok 200 ready, /down 503, /warming 200 without 'ready', /moved 302."""

    def do_GET(self) -> None:
        if self.path == "/ok":
            self._answer(200, b"status: ready")
        elif self.path == "/down":
            self._answer(503, b"maintenance")
        elif self.path == "/warming":
            self._answer(200, b"status: warming up")
        elif self.path == "/moved":
            self._answer(302, b"", (("Location", "/ok"),))
        elif self.path == "/token":
            good = self.headers.get("X-Token") == "abc"
            self._answer(200 if good else 401, b"")
        else:
            self._answer(404, b"no such page")

    def do_HEAD(self) -> None:
        self.do_GET()

    def _answer(self, code: int, body: bytes, headers: tuple[tuple[str, str], ...] = ()) -> None:
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # quiet test output
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    """Base URL of a real HTTP server on 127.0.0.1."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


def _http(url: str, **fields: object) -> HttpCheck:
    return HttpCheck.model_validate({"check": "http", "url": url, "timeout": "2s", **fields})


async def _run(check: object, **kwargs: object) -> CheckResult:
    return await run_check(check, clock=CLOCK, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------- http


async def test_http_200_passes(web: str) -> None:
    result = await _run(_http(f"{web}/ok", expect="ready"))
    assert result.ok and result.failure is None
    assert result.detail == f"GET {web}/ok answered 200"


async def test_http_503_is_a_bad_response(web: str) -> None:
    result = await _run(_http(f"{web}/down"))
    assert result.failure is FailureClass.bad_response
    assert result.detail == f"GET {web}/down answered 503 (expected 2xx/3xx)"


async def test_http_status_list_is_what_is_accepted(web: str) -> None:
    assert (await _run(_http(f"{web}/down", status=503))).ok
    result = await _run(_http(f"{web}/ok", method="HEAD", status=[204, 205]))
    assert result.failure is FailureClass.bad_response
    assert result.detail == f"HEAD {web}/ok answered 200 (expected 204, 205)"


async def test_http_missing_body_substring_is_a_bad_response(web: str) -> None:
    result = await _run(_http(f"{web}/warming", expect="ready"))
    assert result.failure is FailureClass.bad_response
    assert result.detail == f"GET {web}/warming answered 200 without 'ready' in the body"


async def test_http_follows_no_redirect(web: str) -> None:
    assert (await _run(_http(f"{web}/moved"))).detail == f"GET {web}/moved answered 302"
    result = await _run(_http(f"{web}/moved", status=200))
    assert result.failure is FailureClass.bad_response
    assert result.detail == f"GET {web}/moved answered 302 (expected 200)"


async def test_http_sends_the_headers(web: str) -> None:
    assert (await _run(_http(f"{web}/token", headers={"X-Token": "abc"}))).ok
    assert (await _run(_http(f"{web}/token"))).detail.endswith("answered 401 (expected 2xx/3xx)")


async def test_http_shared_client_opens_a_fresh_connection_per_check(web: str) -> None:
    async with new_http_client() as client:
        first = await _run(_http(f"{web}/ok"), http=client)
        second = await _run(_http(f"{web}/down"), http=client)
        pool = client._transport._pool  # type: ignore[attr-defined]
        assert pool.connections == []  # nothing kept alive to hide a replaced server
    assert first.ok and second.failure is FailureClass.bad_response


async def test_http_silent_server_times_out_within_the_bound(silent_port: int) -> None:
    result = await _run(_http(f"http://127.0.0.1:{silent_port}/", timeout="300ms"))
    assert result.failure is FailureClass.timeout
    assert result.detail == "no answer within 300ms"
    assert 0.25 <= result.duration_s < 1.0


async def test_http_closed_port_is_refused() -> None:
    port = free_port()
    result = await _run(_http(f"http://127.0.0.1:{port}/health"))
    assert result.failure is FailureClass.refused
    assert result.detail == f"connection refused on 127.0.0.1:{port}"
    assert result.summary == f"refused: connection refused on 127.0.0.1:{port}"


async def test_http_password_in_the_url_is_redacted(web: str) -> None:
    result = await _run(_http(f"http://ops:hunter2@{web.removeprefix('http://')}/down"))
    assert result.detail == (
        f"GET http://ops:***@{web.removeprefix('http://')}/down answered 503 (expected 2xx/3xx)"
    )


# ---------------------------------------------------------------- tcp


async def test_tcp_accepted(silent_port: int) -> None:
    result = await _run(TcpCheck(check="tcp", port=silent_port))
    assert result.ok and result.detail == f"connected to 127.0.0.1:{silent_port}"


async def test_tcp_closed_port_is_refused() -> None:
    port = free_port()
    result = await _run(TcpCheck(check="tcp", port=port))
    assert result.failure is FailureClass.refused
    assert result.detail == f"connection refused on 127.0.0.1:{port}"


# ---------------------------------------------------------------- command


def _command(command: list[str], **fields: object) -> CommandCheck:
    return CommandCheck.model_validate({"check": "command", "command": command, **fields})


async def test_command_exit_0_passes_with_its_output() -> None:
    result = await _run(_command([sys.executable, "-c", "print('fine')"]))
    assert result.ok and result.detail == "exit code 0" and result.output == "fine\n"


async def test_command_wrong_exit_code_keeps_the_tail_of_the_output() -> None:
    script = (
        "import sys; print('x' * 5000, flush=True); "
        "print('disk full', file=sys.stderr, flush=True); sys.exit(3)"
    )
    result = await _run(_command([sys.executable, "-c", script]))
    assert result.failure is FailureClass.bad_response
    assert result.detail == "exit code 3 (expected 0): disk full"
    assert len(result.output) == 2000 and result.output.endswith("x\ndisk full\n")
    assert (await _run(_command([sys.executable, "-c", script], expect_exit=3))).ok


async def test_command_shell_cwd_and_env(tmp_path: Path) -> None:
    check = _command(
        ['test "$PARAMEDIC_PROBE" = yes && test -n "$PATH" && pwd'],
        shell=True,
        cwd=str(tmp_path),
        env={"PARAMEDIC_PROBE": "yes"},
    )
    result = await _run(check)
    assert result.ok, result.summary
    assert result.output == f"{_real(tmp_path)}\n"


def _real(path: Path) -> Path:
    return path.resolve()  # what pwd prints: symlinks resolved


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}  # a zombie no longer runs


async def test_command_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"echo $$ > {pids}; sleep 30 & echo $! >> {pids}; wait"
    result = await _run(_command([script], shell=True, timeout="500ms"))
    assert result.failure is FailureClass.timeout
    assert result.detail == "no answer within 500ms"
    assert result.duration_s < 2.0
    shell_pid, sleep_pid = (int(line) for line in pids.read_text().split())
    for _ in range(100):  # SIGKILL is immediate, the kernel's bookkeeping nearly so
        if _gone(shell_pid) and _gone(sleep_pid):
            break
        await asyncio.sleep(0.02)
    assert _gone(shell_pid) and _gone(sleep_pid)


async def test_command_not_found_is_an_error() -> None:
    result = await _run(_command(["paramedic-no-such-command", "--version"]))
    assert result.failure is FailureClass.error
    assert result.detail == "command not found: paramedic-no-such-command"


# ---------------------------------------------------------------- postgres


def _pg(dsn: str, **fields: object) -> PostgresCheck:
    return PostgresCheck.model_validate({"check": "postgres", "dsn": dsn, **fields})


async def test_postgres_query_passes(postgres_server: PostgresServer) -> None:
    result = await _run(_pg(postgres_server.dsn))
    assert result.ok and result.detail == "SELECT 1 answered 1"


async def test_postgres_failing_query_is_a_bad_response(postgres_server: PostgresServer) -> None:
    dsn = postgres_server.dsn.replace("postgres@", "postgres:s3cret-pw@")
    result = await _run(_pg(dsn, query="SELECT * FROM no_such_table"))
    assert result.failure is FailureClass.bad_response
    assert (
        result.detail
        == 'SELECT * FROM no_such_table failed: relation "no_such_table" does not exist'
    )
    false = await _run(_pg(postgres_server.dsn, query="SELECT pg_is_in_recovery()"))
    assert false.failure is FailureClass.bad_response
    assert false.detail == "SELECT pg_is_in_recovery() answered false"


async def test_postgres_closed_port_is_refused_and_the_password_never_shows() -> None:
    port = free_port()
    result = await _run(_pg(f"postgresql://monitor:s3cret-pw@127.0.0.1:{port}/postgres"))
    assert result.failure is FailureClass.refused
    assert result.detail == f"connection refused on 127.0.0.1:{port}"
    assert "s3cret" not in result.summary


async def test_postgres_unknown_database_says_why(postgres_server: PostgresServer) -> None:
    dsn = f"postgresql://postgres:s3cret-pw@127.0.0.1:{postgres_server.port}/nodb"
    result = await _run(_pg(dsn))
    assert result.failure is FailureClass.error
    assert result.detail == (
        f'cannot connect to 127.0.0.1:{postgres_server.port}: database "nodb" does not exist'
    )


# ---------------------------------------------------------------- redis


def _redis(url: str, **fields: object) -> RedisCheck:
    return RedisCheck.model_validate({"check": "redis", "url": url, **fields})


async def test_redis_ping_passes(redis_server: RedisServer) -> None:
    result = await _run(_redis(redis_server.url))
    assert result.ok and result.detail == "PING answered PONG"


async def test_redis_closed_port_is_refused() -> None:
    port = free_port()
    result = await _run(_redis(f"redis://:s3cret-pw@127.0.0.1:{port}/0"))
    assert result.failure is FailureClass.refused
    assert result.detail == f"connection refused on 127.0.0.1:{port}"


async def test_redis_hung_server_times_out(redis_server: RedisServer) -> None:
    os.kill(redis_server.process.pid, signal.SIGSTOP)
    try:
        result = await _run(_redis(redis_server.url, timeout="300ms"))
    finally:
        os.kill(redis_server.process.pid, signal.SIGCONT)
    assert result.failure is FailureClass.timeout
    assert result.detail == "no answer within 300ms"
    assert 0.25 <= result.duration_s < 1.5
    assert (await _run(_redis(redis_server.url))).ok  # and it answers again once resumed


# ---------------------------------------------------------------- process


class _Probe:
    def __init__(self, alive: bool, detail: str) -> None:
        self.state = (alive, detail)

    def process_state(self) -> tuple[bool, str]:
        if not self.state[1]:
            raise RuntimeError("probe broke")
        return self.state


async def test_process_alive_and_exited() -> None:
    check = ProcessCheck(check="process")
    alive = await _run(check, process_probe=_Probe(True, "pid 4242 running"))
    assert alive.ok and alive.detail == "pid 4242 running"
    dead = await _run(check, process_probe=_Probe(False, "exited with code -9 (SIGKILL) 0.3s ago"))
    assert dead.failure is FailureClass.exited
    assert dead.detail == "exited with code -9 (SIGKILL) 0.3s ago"


async def test_process_without_probe_and_a_broken_probe_are_errors() -> None:
    check = ProcessCheck(check="process")
    missing = await _run(check)
    assert missing.failure is FailureClass.error
    assert missing.detail == "process check needs the process provider"
    broken = await _run(check, process_probe=_Probe(True, ""))
    assert broken.failure is FailureClass.error
    assert broken.detail == "process check failed: RuntimeError: probe broke"


async def test_result_is_stamped_by_the_injected_clock() -> None:
    clock = FakeClock()
    result = await run_check(
        ProcessCheck(check="process", timeout=timedelta(seconds=1)),
        clock=clock,
        process_probe=_Probe(True, "pid 1 running"),
    )
    assert result.at == clock.now() and result.duration_s == 0.0


# ---------------------------------------------------------------- through the scheduler


async def test_scheduler_runs_real_checks_with_its_shared_client(web: str) -> None:
    seen: list[tuple[str, CheckResult]] = []
    sched = CheckScheduler(CLOCK, 4, lambda name, result: seen.append((name, result)))
    try:
        sched.set("web", _http(f"{web}/ok"))
        sched.set("api", _http(f"{web}/down"))
        assert (await sched.check_now("web")).ok
        down = await sched.check_now("api", deliver=False)
    finally:
        await sched.aclose()
    assert [name for name, _ in seen] == ["web"]
    assert down.detail == f"GET {web}/down answered 503 (expected 2xx/3xx)"


# ---------------------------------------------------------------- https (when openssl is here)


@pytest.fixture(scope="module")
def tls_web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a real HTTPS server with a self-signed certificate."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed: no self-signed certificate for the https tests")
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


async def test_https_self_signed_is_a_tls_error_unless_verification_is_off(tls_web: str) -> None:
    port = tls_web.rsplit(":", 1)[1]
    result = await _run(_http(f"{tls_web}/ok"))
    assert result.failure is FailureClass.error
    assert result.detail == (
        f"TLS certificate of 127.0.0.1:{port} not accepted: self-signed certificate"
    )
    assert (await _run(_http(f"{tls_web}/ok", verify_tls=False, expect="ready"))).ok
