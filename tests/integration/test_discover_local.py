"""``discover local`` as a user who cannot read another user's processes: it degrades and says so."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from collections.abc import Iterator

import pytest

from paramedic.discover import local
from tests.servers import free_port, wait_port

pytestmark = pytest.mark.integration


@pytest.fixture
def root_http() -> Iterator[int]:
    """An HTTP server of this (root) user."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_port(port)
    try:
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


def _as_nobody() -> dict[str, list[str]]:
    """Run discovery in a forked child that dropped to ``nobody`` (the interpreter is already
    loaded, so the child needs no file of root's)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.close(read)
            user = pwd.getpwnam("nobody")
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            found = local.discover_local(backup_dir="/tmp")
            answer = {"notes": found.notes, "resources": [f.resource for f in found.findings]}
            os.write(write, json.dumps(answer).encode())
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    return dict(json.loads(data))


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop to another user")
def test_another_users_listener_becomes_a_note_not_a_component(root_http: int) -> None:
    seen = _as_nobody()
    assert f"tcp:{root_http}" not in seen["resources"]
    assert seen["notes"][0] == "not root: other users' processes show only what they let us read"
    hidden = next(n for n in seen["notes"] if n.startswith("ports "))
    assert str(root_http) in hidden.split(":")[0]
    assert hidden.endswith(
        "their process is not readable (another user's); run as root to see them"
    )
    as_root = local.discover_local(backup_dir="/tmp")
    assert f"tcp:{root_http}" in [f.resource for f in as_root.findings]
