"""Rescue a redis-server's dataset from its memory when it cannot save it itself.

``SHUTDOWN SAVE`` fails when the server's folder was deleted (its working directory is gone:
no file can be created there) or its disk refuses. The dataset still lives in memory: a
diskless full sync over the replication protocol (what ``redis-cli --rdb`` does) streams it
as an RDB to a socket, which this module writes to a file paramedic chooses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from paramedic.errors import ProviderError

IDLE_S = 30.0
"""Longest the server may stay silent during the transfer (it forks, then streams)."""


async def rescue_rdb(host: str, port: int, target: Path) -> int:
    """Write a running server's dataset from memory to ``target`` over the replication protocol.

    A diskless full sync (the master streams the RDB to the socket, with no delay for other
    replicas), so it works when the server's own folder is gone. Returns the bytes written;
    ProviderError when it cannot.
    """
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for command in (
            b"CONFIG SET repl-diskless-sync yes",
            b"CONFIG SET repl-diskless-sync-delay 0",
            b"REPLCONF capa eof",
        ):
            reply = await _ask(reader, writer, command)
            if not reply.startswith(b"+"):
                raise ProviderError(f"{command.decode()} refused: {reply.decode().strip()}")
        await _ask(reader, writer, b"REPLCONF rdb-only 1")  # an older server may refuse it
        writer.write(b"SYNC\r\n")
        await writer.drain()
        header = b"\n"
        while header in (b"\n", b"\r\n"):  # the master sends newlines while it forks
            header = await asyncio.wait_for(reader.readline(), IDLE_S)
        if not header.startswith(b"$"):
            raise ProviderError(f"SYNC refused: {header.decode(errors='replace').strip()}")
        return await receive_rdb(reader, header[1:].strip(), target)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, command: bytes) -> bytes:
    """Send one inline command; its one-line reply."""
    writer.write(command + b"\r\n")
    await writer.drain()
    return await asyncio.wait_for(reader.readline(), IDLE_S)


async def receive_rdb(reader: asyncio.StreamReader, size: bytes, target: Path) -> int:
    """Write the RDB payload of a SYNC reply (``$<length>`` or ``$EOF:<mark>``) to ``target``."""
    written = 0
    with target.open("wb") as out:
        if size.startswith(b"EOF:"):
            mark, held = size[4:], b""
            while True:
                block = await asyncio.wait_for(reader.read(1 << 16), IDLE_S)
                if not block:
                    raise ProviderError("rescue of the dataset: the server closed mid-transfer")
                held += block
                if held.endswith(mark):
                    out.write(held[: -len(mark)])
                    written += len(held) - len(mark)
                    break
                out.write(held[: -len(mark)])
                written += max(0, len(held) - len(mark))
                held = held[-len(mark) :]
        else:
            left = int(size)
            while left:
                block = await asyncio.wait_for(reader.read(min(left, 1 << 16)), IDLE_S)
                if not block:
                    raise ProviderError("rescue of the dataset: the server closed mid-transfer")
                out.write(block)
                written += len(block)
                left -= len(block)
        out.flush()
        os.fsync(out.fileno())
    return written
