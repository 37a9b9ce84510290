"""Where the API listens, and whether that address is safe to serve on as configured."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from paramedic.errors import ParamedicError


@dataclass(frozen=True)
class Listen:
    """A parsed ``HOST:PORT``."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """True for 127.0.0.0/8, ::1 and ``localhost``: only this machine can connect."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False  # a host name may resolve anywhere

    def url(self, tls: bool) -> str:
        """The base URL a person on this machine opens."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if tls else 'http'}://{host}:{self.port}"


def parse_listen(text: str) -> Listen:
    """``127.0.0.1:8300``, ``[::1]:8300`` or ``0.0.0.0:8300``; ValueError names the fix."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError(f"{text!r} must be HOST:PORT like 127.0.0.1:8300")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r}: port {port_text!r} must be a number 0-65535") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"{text!r}: port {port} must be 0-65535")
    return Listen(host, port)


def check_exposure(listen: Listen, *, tls: bool, insecure: bool) -> None:
    """Refuse a non-loopback address served without TLS, unless ``--insecure-listen`` says so.

    A recovery API is a remote control for production: on an address other machines
    reach, it must be encrypted, and reads need the token as well as writes.
    """
    if listen.loopback or tls or insecure:
        return
    raise ParamedicError(
        f"--listen {listen.host}:{listen.port} is reachable from other machines: give "
        "api.tls_cert and api.tls_key in the catalog, listen on 127.0.0.1, "
        "or pass --insecure-listen to serve plain HTTP anyway"
    )
