"""Real servers for tests: PostgreSQL (initdb into a temporary folder, as an unprivileged user)
and redis-server, each on a free loopback port.

In CI (``CI=true``) a missing server binary fails the test; elsewhere it skips it with the
command that installs it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need_binary(name: str, package: str, search: tuple[str, ...] = ()) -> str:
    """Path of ``name``; fail in CI, skip elsewhere when it is missing."""
    found = shutil.which(name)
    for pattern in search:
        if found:
            break
        hits = sorted(glob.glob(pattern))
        found = hits[-1] if hits else None
    if found:
        return found
    message = f"{name} is not installed (apt-get install {package}, or run `make test` as root)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    """A TCP port nobody listens on at the moment of asking."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 15.0) -> None:
    """Block until something accepts on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", port), timeout=0.2),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def unprivileged_user() -> str | None:
    """The OS user to run servers as when we are root (``postgres``, else ``nobody``); None otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    pytest.fail(
        "running as root and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL"
    )


def as_user(user: str | None, argv: list[str]) -> list[str]:
    """``argv`` run as ``user`` (through runuser) when one is given."""
    return ["runuser", "-u", user, "--", *argv] if user else argv


def chown_tree(path: Path, user: str | None) -> None:
    """Give ``path`` to ``user`` so an unprivileged server can write there."""
    if user:
        info = pwd.getpwnam(user)
        for root, dirs, files in os.walk(path):
            for entry in [
                root,
                *(os.path.join(root, d) for d in dirs),
                *(os.path.join(root, f) for f in files),
            ]:
                os.chown(entry, info.pw_uid, info.pw_gid)


@dataclass
class PostgresServer:
    """A throw-away PostgreSQL cluster."""

    bin_dir: Path
    data_dir: Path
    socket_dir: Path
    port: int
    user: str | None

    @property
    def dsn(self) -> str:
        """libpq URL of the ``postgres`` database as superuser ``postgres``."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL of the ``postgres`` database."""
        return f"{driver}://postgres@127.0.0.1:{self.port}/postgres"

    def pg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program from ``bin_dir`` as the cluster's user."""
        argv = as_user(self.user, [str(self.bin_dir / args[0]), *args[1:]])
        return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1"
        self.pg(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.data_dir.parent / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster (no error if it is not running)."""
        self.pg("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)


def make_postgres(base: Path) -> PostgresServer:
    """initdb a new cluster under ``base`` (owned by an unprivileged user) and start it."""
    initdb = need_binary("initdb", "postgresql", ("/usr/lib/postgresql/*/bin/initdb",))
    user = unprivileged_user()
    base.mkdir(parents=True, exist_ok=True)
    os.chmod(base, 0o755)
    data_dir, socket_dir = base / "data", base / "sock"
    socket_dir.mkdir(exist_ok=True)
    chown_tree(base, user)
    server = PostgresServer(Path(initdb).resolve().parent, data_dir, socket_dir, free_port(), user)
    server.pg(
        "initdb", "-D", str(data_dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"
    )
    server.start()
    return server


@dataclass
class RedisServer:
    """A throw-away redis-server."""

    port: int
    dir: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        """redis:// URL of database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        """Stop the server."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def make_redis(base: Path, *extra: str) -> RedisServer:
    """Start a redis-server keeping its files in ``base``."""
    binary = need_binary("redis-server", "redis-server")
    base.mkdir(parents=True, exist_ok=True)
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(base),
            "--save",
            "",
            *extra,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    return RedisServer(port, base, process)


@contextlib.contextmanager
def scratch_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder readable by an unprivileged server user, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
