"""The API's bearer token: where it comes from, and checking it in constant time.

Order: ``api.token_file`` in the catalog, else ``PARAMEDIC_API_TOKEN``, else a
random token the agent writes at start to ``RUN_DIR/api-token`` (mode 0600), which
the CLI (``paramedic status --watch``) and a person with access to the run dir read.
A private token file already there is kept (agents sharing a run dir share it).
The token is never logged, audited, echoed in an error or put in a page.
"""

from __future__ import annotations

import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from paramedic.catalog.model import Catalog
from paramedic.errors import ParamedicError

ENV_VAR = "PARAMEDIC_API_TOKEN"
TOKEN_FILE = "api-token"


@dataclass(frozen=True)
class Token:
    """The secret, and where it came from (shown to people instead of the secret)."""

    secret: str
    source: str

    def matches(self, header: str | None) -> bool:
        """True when ``header`` is ``Bearer <the token>``; compared in constant time."""
        if not header:
            return False
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode(), self.secret.encode())

    def __repr__(self) -> str:  # never the secret, even in a debugger or a traceback
        return f"Token(source={self.source!r})"


def run_dir_token_path(catalog: Catalog) -> Path:
    """Where the agent writes its generated token (and the CLI looks for it)."""
    return catalog.resolve_path(catalog.agent.run_dir) / TOKEN_FILE


def agent_token(catalog: Catalog) -> Token:
    """The token the agent accepts; generates and writes one when none is configured."""
    configured = configured_token(catalog)
    if configured is not None:
        return configured
    path = run_dir_token_path(catalog)
    kept = _private_token(path)
    if kept is not None:  # several named agents share a run dir: one token for all of them
        return Token(kept, str(path))
    secret = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o600)  # an older file may have had wider bits
            handle.write(secret + "\n")
    except OSError as exc:
        raise ParamedicError(
            f"cannot write the API token to {path}: {exc.strerror}; set api.token_file "
            f"or {ENV_VAR}, or make agent.run_dir writable"
        ) from exc
    return Token(secret, str(path))


def _private_token(path: Path) -> str | None:
    """The token already in ``path`` when only its owner can read it; None otherwise (a file
    others could read may have leaked: a new token replaces it)."""
    try:
        info = path.stat()
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        secret = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return secret or None


def configured_token(catalog: Catalog) -> Token | None:
    """The token from ``api.token_file`` or the environment; None when neither is set."""
    if catalog.api.token_file:
        path = catalog.resolve_path(catalog.api.token_file)
        return Token(_read(path, "api.token_file"), str(path))
    secret = os.environ.get(ENV_VAR, "").strip()
    return Token(secret, ENV_VAR) if secret else None


def client_token(catalog: Catalog) -> Token | None:
    """What the CLI sends to a running agent: the configured token, else the agent's file."""
    configured = configured_token(catalog)
    if configured is not None:
        return configured
    path = run_dir_token_path(catalog)
    if not path.is_file():
        return None
    return Token(_read(path, "the agent's token file"), str(path))


def _read(path: Path, what: str) -> str:
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ParamedicError(
            f"{what} {path}: cannot read it: {exc.strerror}; check the path and its permissions"
        ) from exc
    if not secret:
        raise ParamedicError(f"{what} {path} is empty: write the token in it")
    return secret
