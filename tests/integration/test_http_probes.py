"""The two ``http`` probes side by side against a real raw-socket server on loopback.

Plain ``http://`` checks go through aiohttp (``http_plain``), ``https://`` through httpx
(``http_tls``); an httpx client handed in serves ``http://`` too, which is how each test
runs the same check through both and asserts the same failure class (and, where the two
libraries have the same words, the same detail).
"""

from __future__ import annotations

import socket
import socketserver
import struct
import threading
import time
from collections.abc import AsyncIterator, Iterator

import aiohttp
import httpx
import pytest

from paramedic.catalog.model import HttpCheck
from paramedic.checks import CheckResult, CheckScheduler, FailureClass, run_check
from paramedic.checks.http_plain import new_plain_session
from paramedic.checks.http_tls import new_http_client
from paramedic.clock import RealClock
from tests.servers import free_port

pytestmark = pytest.mark.integration

CLOCK = RealClock()


class _Raw(socketserver.BaseRequestHandler):
    """Reads one request head, then misbehaves as its path says (counting connections)."""

    server: _RawServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(4096)
            if not chunk:
                return
            head += chunk
        self.server.connections += 1
        path = head.split(b" ", 2)[1].decode()
        if path == "/reset":  # RST instead of an answer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()  # now, before socketserver's shutdown() would send a FIN
        elif path == "/close":  # a clean close instead of an answer
            pass
        elif path == "/slow-body":  # the head at once, then a byte every 100 ms
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            for _ in range(100):
                try:
                    sock.sendall(b"x")
                except OSError:
                    return
                time.sleep(0.1)
        elif path == "/truncated":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        elif path == "/garbage":
            sock.sendall(b"HELLO THERE\r\n\r\n")
        elif path == "/latin":
            body = "café ready".encode("latin-1")
            sock.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=latin-1\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
            )
        elif path == "/ok":
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nready")
        else:
            sock.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown")


class _RawServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    connections = 0


@pytest.fixture(scope="module")
def raw() -> Iterator[_RawServer]:
    server = _RawServer(("127.0.0.1", 0), _Raw)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _base(server: _RawServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
async def clients() -> AsyncIterator[dict[str, aiohttp.ClientSession | httpx.AsyncClient]]:
    """The scheduler's two kinds of shared client, by name."""
    async with new_plain_session() as plain, new_http_client() as tls:
        yield {"aiohttp": plain, "httpx": tls}


def _http(url: str, **fields: object) -> HttpCheck:
    return HttpCheck.model_validate({"check": "http", "url": url, "timeout": "2s", **fields})


async def _both(check: HttpCheck, clients: dict[str, object]) -> dict[str, CheckResult]:
    return {
        name: await run_check(check, clock=CLOCK, http=client)  # type: ignore[arg-type]
        for name, client in clients.items()
    }


async def test_refused_is_the_same_through_both(clients: dict[str, object]) -> None:
    port = free_port()
    results = await _both(_http(f"http://127.0.0.1:{port}/health"), clients)
    for result in results.values():
        assert result.failure is FailureClass.refused
        assert result.detail == f"connection refused on 127.0.0.1:{port}"


async def test_silent_server_times_out_within_the_bound(clients: dict[str, object]) -> None:
    with socket.socket() as listener:  # accepts (the kernel's backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        results = await _both(_http(f"http://127.0.0.1:{port}/", timeout="300ms"), clients)
    for result in results.values():
        assert result.failure is FailureClass.timeout
        assert result.detail == "no answer within 300ms"
        assert 0.25 <= result.duration_s < 1.5


async def test_bad_status_is_the_same_through_both(
    raw: _RawServer, clients: dict[str, object]
) -> None:
    results = await _both(_http(f"{_base(raw)}/down"), clients)
    for result in results.values():
        assert result.failure is FailureClass.bad_response
        assert result.detail == f"GET {_base(raw)}/down answered 503 (expected 2xx/3xx)"


async def test_a_reset_is_an_error_naming_it(raw: _RawServer, clients: dict[str, object]) -> None:
    results = await _both(_http(f"{_base(raw)}/reset"), clients)
    assert {r.failure for r in results.values()} == {FailureClass.error}
    assert results["aiohttp"].detail == (
        f"GET {_base(raw)}/reset failed: [Errno 104] Connection reset by peer"
    )
    assert results["httpx"].detail.startswith(f"GET {_base(raw)}/reset failed: ")


async def test_a_slow_body_times_out_when_the_body_is_read(
    raw: _RawServer, clients: dict[str, object]
) -> None:
    results = await _both(_http(f"{_base(raw)}/slow-body", expect="y", timeout="500ms"), clients)
    for result in results.values():
        assert result.failure is FailureClass.timeout
        assert result.detail == "no answer within 500ms"
        assert 0.4 <= result.duration_s < 2.0
    # without ``expect`` the body is not waited for: the status is the answer
    fast = await _both(_http(f"{_base(raw)}/slow-body", timeout="500ms"), clients)
    assert all(r.ok and r.duration_s < 0.5 for r in fast.values())


async def test_a_close_without_answer_is_a_bad_response_in_the_same_words(
    raw: _RawServer, clients: dict[str, object]
) -> None:
    results = await _both(_http(f"{_base(raw)}/close"), clients)
    for result in results.values():
        assert result.failure is FailureClass.bad_response
        assert result.detail == (
            f"GET {_base(raw)}/close: Server disconnected without sending a response."
        )


async def test_a_truncated_body_and_a_garbage_answer_are_bad_responses(
    raw: _RawServer, clients: dict[str, object]
) -> None:
    truncated = await _both(_http(f"{_base(raw)}/truncated", expect="abc"), clients)
    garbage = await _both(_http(f"{_base(raw)}/garbage"), clients)
    for result in (*truncated.values(), *garbage.values()):
        assert result.failure is FailureClass.bad_response
    assert truncated["aiohttp"].detail == (
        f"GET {_base(raw)}/truncated: Not enough data to satisfy content length header "
        "(received 3 of 10 bytes)."
    )
    assert garbage["aiohttp"].detail == (
        f"GET {_base(raw)}/garbage: Bad status line: Expected HTTP/, RTSP/ or ICE/: b'HELLO THERE'"
    )


async def test_the_body_is_read_in_its_declared_charset(
    raw: _RawServer, clients: dict[str, object]
) -> None:
    results = await _both(_http(f"{_base(raw)}/latin", expect="café"), clients)
    assert all(r.ok for r in results.values())


async def test_unresolvable_host_is_an_error_naming_it(clients: dict[str, object]) -> None:
    results = await _both(_http("http://nonexistent.invalid/"), clients)
    for result in results.values():
        assert result.failure is FailureClass.error
        assert result.detail.startswith("cannot resolve nonexistent.invalid: ")


async def test_plain_session_opens_a_fresh_connection_per_check(raw: _RawServer) -> None:
    async with new_plain_session() as session:
        before = raw.connections
        for _ in range(3):
            assert (await run_check(_http(f"{_base(raw)}/ok"), clock=CLOCK, http=session)).ok
        assert raw.connections - before == 3
        connector = session.connector
        assert connector is not None and connector.force_close
        assert not connector._conns  # type: ignore[attr-defined]  # nothing kept alive


async def test_the_scheduler_serves_plain_http_with_aiohttp_and_https_with_httpx(
    raw: _RawServer,
) -> None:
    clients: list[tuple[str, object]] = []

    async def runner(check: HttpCheck, **kwargs: object) -> CheckResult:
        clients.append((check.url.split(":")[0], kwargs["http"]))
        return await run_check(check, **kwargs)  # type: ignore[arg-type]

    sched = CheckScheduler(CLOCK, 4, lambda name, result: None, runner=runner)
    try:
        sched.set("plain", _http(f"{_base(raw)}/ok"))
        sched.set("tls", _http(f"https://127.0.0.1:{free_port()}/", verify_tls=False))
        assert (await sched.check_now("plain")).ok
        assert (await sched.check_now("plain")).ok
        assert (await sched.check_now("tls")).failure is FailureClass.refused
    finally:
        await sched.aclose()
    (_, first), (_, second), (_, tls) = clients
    assert isinstance(first, aiohttp.ClientSession) and first is second  # one shared session
    assert isinstance(tls, httpx.AsyncClient)
    assert first.closed  # aclose closed it
