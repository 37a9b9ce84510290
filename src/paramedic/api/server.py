"""The API server: uvicorn serving the app inside the agent's own event loop.

uvicorn's signal capture is off, so SIGTERM, SIGINT and SIGHUP stay the agent's
(stop, stop, reload); the agent stops the server as part of its own shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import uvicorn

from paramedic.api.app import create_app
from paramedic.api.context import ApiContext
from paramedic.api.listen import Listen
from paramedic.errors import ParamedicError

log = logging.getLogger("paramedic.api")


class _AgentOwnedServer(uvicorn.Server):
    """A uvicorn server that leaves the process's signals to the agent."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    """Serves the API on ``listen`` until ``stop()``; ``start()`` returns once it listens."""

    def __init__(
        self,
        ctx: ApiContext,
        listen: Listen,
        *,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        self.ctx = ctx
        self.listen = listen
        self.tls = tls_cert is not None
        config = uvicorn.Config(
            create_app(ctx),
            host=listen.host,
            port=listen.port,
            log_level="warning",
            access_log=False,  # the audit trail records writes; no request line carries a token
            lifespan="off",
            ssl_certfile=str(tls_cert) if tls_cert else None,
            ssl_keyfile=str(tls_key) if tls_key else None,
            timeout_graceful_shutdown=3,
        )
        self._server = _AgentOwnedServer(config)
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None

    @property
    def url(self) -> str:
        """The base URL, with the port actually bound (``--listen HOST:0`` picks a free one)."""
        port = self._socket.getsockname()[1] if self._socket else self.listen.port
        return Listen(self.listen.host, port).url(self.tls)

    def _bind(self) -> socket.socket:
        # Bound here, not by uvicorn: uvicorn exits the process when it cannot bind, and
        # the agent must instead say why in one line and stop cleanly.
        family = socket.AF_INET6 if ":" in self.listen.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.listen.host, self.listen.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise ParamedicError(
                f"--listen {self.listen.host}:{self.listen.port}: cannot serve the API: "
                f"{exc.strerror or exc}; pick a free port or an address of this machine"
            ) from None
        sock.setblocking(False)
        return sock

    async def start(self) -> None:
        """Bind and serve in the background; ParamedicError when the address cannot be bound."""
        self.ctx.hub.bind(asyncio.get_running_loop())
        self._socket = self._bind()
        self._task = asyncio.create_task(self._server.serve([self._socket]), name="api")
        # uvicorn offers a flag, not an event, for "listening now"
        while not self._server.started and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """End every event stream, then stop serving."""
        self.ctx.hub.close()
        if self._task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(self._task, 10.0)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()
        except OSError as exc:
            log.warning("stopping the API server: %s", exc)
        if self._socket is not None:
            self._socket.close()
        await asyncio.to_thread(self.ctx.close)
