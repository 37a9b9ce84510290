"""Every error the API returns: a status and a one-line ``{"error": ...}``, never a traceback."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from paramedic.errors import NotFound, ParamedicError, Refused
from paramedic.redact import redact

log = logging.getLogger("paramedic.api")


class ApiError(Exception):
    """A refusal with its HTTP status (401 no token, 404 unknown, 409 refused, 400 bad input)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _body(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    line = " ".join(redact(message).split())  # one line, secrets out
    return JSONResponse({"error": line}, status_code=status, headers=headers)


def _validation_line(exc: RequestValidationError) -> str:
    problems = []
    for error in exc.errors()[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "bad request: " + "; ".join(problems)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every failure into a one-line JSON error."""

    @app.exception_handler(ApiError)
    async def _api(_request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return _body(exc.status, exc.message, headers)

    @app.exception_handler(NotFound)
    async def _not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return _body(404, str(exc))

    @app.exception_handler(Refused)
    async def _refused(_request: Request, exc: Refused) -> JSONResponse:
        return _body(409, str(exc))

    @app.exception_handler(ParamedicError)
    async def _paramedic(_request: Request, exc: ParamedicError) -> JSONResponse:
        return _body(400, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return _body(422, _validation_line(exc))

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        return _body(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.warning("API %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return _body(500, f"internal error: {type(exc).__name__} (a bug; see the agent's log)")
