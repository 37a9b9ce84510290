"""Request dependencies: the context, the token checks, the caller's address.

The dependencies are coroutines although they do no I/O: FastAPI runs a plain
``def`` dependency in its thread pool, and each trip there and back waits for
the agent's event loop, which is busy with checks (bench/README.md, (f)).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from paramedic.api.context import ApiContext
from paramedic.api.errors import ApiError

NO_TOKEN = (
    "this needs the API token: send Authorization: Bearer TOKEN (see the README, API section)"
)


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def context(request: Request) -> ApiContext:
    """The ApiContext the app was built with."""
    return _ctx(request)


def caller(request: Request) -> str:
    """``api@HOST:PORT`` of the client: how the audit trail names an API write."""
    client = request.client
    return f"api@{client.host}:{client.port}" if client else "api@unknown"


bearer = HTTPBearer(
    auto_error=False,
    description="the agent's API token: api.token_file, PARAMEDIC_API_TOKEN, or RUN_DIR/api-token",
)
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


async def require_write(request: Request, _credentials: Bearer) -> None:
    """Every write needs the bearer token (401 otherwise; the token is never echoed)."""
    if not _ctx(request).token.matches(request.headers.get("authorization")):
        raise ApiError(401, NO_TOKEN)


async def require_read(
    request: Request,
) -> None:  # no scheme in the schema: loopback reads are open
    """Reads need the token too when the API listens beyond loopback."""
    ctx = _ctx(request)
    if ctx.reads_need_token and not ctx.token.matches(request.headers.get("authorization")):
        raise ApiError(401, NO_TOKEN)
