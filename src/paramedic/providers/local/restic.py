"""restic, run for one component: its repository, its password file, its JSON answers.

The password never passes through paramedic's hands, logs or messages: restic reads it from
``RESTIC_PASSWORD_FILE``, the component's ``spec.password_file`` or else
``<repository>.password``, which paramedic creates (mode 0600, random) on first use. The
agent's own ``RESTIC_*`` variables are dropped so they cannot point restic at another
repository or password. ``--no-cache``: the repository is a local folder, a cache would only
copy it under ``~/.cache``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from paramedic.errors import ProviderError
from paramedic.providers.local import helpers
from paramedic.providers.local.commands import ERROR_LINES, last_lines
from paramedic.redact import redact

TAG = "paramedic"
BACKUP_INCOMPLETE = 3
"""restic's exit code when some source files could not be read (the snapshot is still made)."""


@dataclass(frozen=True)
class Snapshot:
    """One restic snapshot as ``restic snapshots --json`` describes it."""

    id: str
    short_id: str
    time: datetime
    paths: list[str]
    tree: str
    hostname: str

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Snapshot:
        """From one element of ``restic snapshots --json``."""
        return cls(
            id=str(data["id"]),
            short_id=str(data.get("short_id") or str(data["id"])[:8]),
            time=datetime.fromisoformat(str(data["time"]).replace("Z", "+00:00")),
            paths=[str(p) for p in data.get("paths") or []],
            tree=str(data.get("tree", "")),
            hostname=str(data.get("hostname", "")),
        )


class Restic:
    """The restic repository of one component."""

    def __init__(
        self, *, component: str, binary: str, repository: Path, password_file: Path | None
    ) -> None:
        self.component = component
        self.binary = binary
        self.repository = repository
        self.given_password = password_file

    @property
    def password_file(self) -> Path:
        """The file restic reads the password from."""
        return self.given_password or self.repository.with_name(f"{self.repository.name}.password")

    @property
    def initialized(self) -> bool:
        """True when the repository exists (``restic init`` was done)."""
        return (self.repository / "config").is_file()

    def ensure_password(self) -> str | None:
        """Make sure the password file exists; a note for the log when paramedic created it.

        Created only for a repository not initialized yet: an existing one keeps its password.
        """
        path = self.password_file
        if path.is_file():
            return None
        if self.given_password is not None:
            raise ProviderError(
                f"component {self.component!r}: spec.password_file {path} does not exist; "
                "create it (mode 0600) holding the restic repository's password"
            )
        if self.initialized:  # a new password would not open it
            raise ProviderError(
                f"component {self.component!r}: the restic password file {path} is missing and "
                f"the repository {self.repository} cannot be read without it; put it back"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
        return (
            f"created the restic password file {path} (mode 0600); keep a copy somewhere "
            "else: without it the backups cannot be read"
        )

    async def ensure_repository(self) -> list[str]:
        """Create the password file and ``restic init`` the repository when needed; notes."""
        notes = [note for note in [self.ensure_password()] if note]
        if not self.initialized:
            self.repository.mkdir(parents=True, exist_ok=True)
            await self.run("init", fix="check the repository folder and the password file")
            notes.append(f"initialized the restic repository {self.repository}")
        return notes

    # ------------------------------------------------------------ commands

    async def run(
        self,
        *args: str,
        fix: str,
        on_line: Callable[[str], None] | None = None,
        accept: tuple[int, ...] = (0,),
    ) -> tuple[int, str, str]:
        """Run ``restic -r REPO --no-cache ARGS``: (exit code, stdout, stderr).

        An exit code outside ``accept`` is a ProviderError quoting restic and naming ``fix``.

        ``on_line`` sees each line of stdout as it comes (then it is not kept).
        """
        argv = [self.binary, "-r", str(self.repository), "--no-cache", *args]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                limit=1 << 20,
            )
        except OSError as exc:
            raise ProviderError(
                f"component {self.component!r}: cannot run restic ({self.binary!r}): "
                f"{exc.strerror}; install restic or fix spec.binary"
            ) from exc
        try:
            with helpers.tracked(proc.pid):
                out, err = await asyncio.gather(
                    _read(proc.stdout, on_line), _read(proc.stderr, None)
                )
                code = await proc.wait()
        except asyncio.CancelledError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
            raise
        if code not in accept:
            raise ProviderError(
                f"component {self.component!r}: restic {args[0]} exited with code {code}: "
                f"{error_text(err, out)}; {fix}"
            )
        return code, out, err

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RESTIC_")}
        env["RESTIC_PASSWORD_FILE"] = str(self.password_file)
        return env

    async def backup(
        self, path: Path, progress: Callable[[float, str], None]
    ) -> tuple[dict[str, Any], bool]:
        """``restic backup --json --tag paramedic PATH``: (its summary, complete?)."""
        summary: dict[str, Any] = {}

        def line(text: str) -> None:
            with contextlib.suppress(ValueError):
                message = json.loads(text)
                if message.get("message_type") == "status":
                    progress(float(message.get("percent_done", 0.0)), f"restic backup of {path}")
                elif message.get("message_type") == "summary":
                    summary.update(message)

        code, _, _ = await self.run(
            "backup",
            "--json",
            "--tag",
            TAG,
            str(path),
            fix=f"check {path} and the repository",
            on_line=line,
            accept=(0, BACKUP_INCOMPLETE),
        )
        if "snapshot_id" not in summary:
            raise ProviderError(
                f"component {self.component!r}: restic backup of {path} gave no summary; "
                f"check the repository {self.repository}"
            )
        return summary, code == 0

    async def snapshots(self, path: Path | None = None) -> list[Snapshot]:
        """Snapshots tagged ``paramedic`` (of ``path`` when given), oldest first."""
        args = ["snapshots", "--json", "--tag", TAG]
        if path is not None:
            args += ["--path", str(path)]
        _, out, _ = await self.run(*args, fix=f"check the repository {self.repository}")
        return sorted((Snapshot.parse(item) for item in json.loads(out or "[]")), key=_time)

    async def restore(self, snapshot: str, target: Path) -> str | None:
        """``restic restore SNAPSHOT --target TARGET`` (absolute paths land under TARGET).

        None when it restored everything, else what restic said went wrong (exit code 1: some
        files could not be restored, for example from a corrupted pack).
        """
        code, out, err = await self.run(
            "restore",
            snapshot,
            "--target",
            str(target),
            fix=f"check the repository: restic -r {self.repository} check --read-data",
            accept=(0, 1),
        )
        return (
            None if code == 0 else f"restic restore exited with code {code}: {error_text(err, out)}"
        )

    async def file_count(self, snapshot: str) -> int:
        """How many regular files the snapshot holds."""
        count = 0

        def line(text: str) -> None:
            nonlocal count
            with contextlib.suppress(ValueError):
                node = json.loads(text)
                count += node.get("struct_type") == "node" and node.get("type") == "file"

        await self.run("ls", "--json", snapshot, fix="check the repository", on_line=line)
        return count

    async def check(self, subset: str) -> str | None:
        """``restic check --read-data-subset=SUBSET``: None when clean, else what it found."""
        code, out, err = await self.run(
            "check", f"--read-data-subset={subset}", fix="", accept=(0, 1)
        )
        return None if code == 0 else error_text(err, out)

    async def forget(self, snapshots: list[str]) -> None:
        """``restic forget --prune ID...``: the snapshots and the data only they used go."""
        await self.run(
            "forget", "--prune", *snapshots, fix=f"check the repository {self.repository}"
        )


def error_text(err: str, out: str) -> str:
    """The last lines restic wrote on stderr (else stdout), joined, secrets redacted."""
    lines = last_lines(err, ERROR_LINES) or last_lines(out, ERROR_LINES)
    return redact(" | ".join(lines)) or "no output"


def _time(snapshot: Snapshot) -> datetime:
    return snapshot.time


async def _read(stream: asyncio.StreamReader | None, on_line: Callable[[str], None] | None) -> str:
    """All of ``stream`` as text, or each line handed to ``on_line`` (then "")."""
    if stream is None:
        return ""
    if on_line is None:
        return (await stream.read()).decode(errors="replace")
    async for raw in stream:
        on_line(raw.decode(errors="replace").strip())
    return ""
