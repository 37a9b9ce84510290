"""Keep secrets out of logs, the journal and the API.

Passwords in URLs (``postgresql://u:secret@h/db``), tokens in Apprise URLs
(``slack://TokenA/TokenB/...``) and ``password=`` pairs are replaced by ``***``.
"""

from __future__ import annotations

import re

_USERINFO = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@/\s]+)@"
)
_KV = re.compile(r"(?i)\b(password|passwd|pwd|token|secret|api[_-]?key)=([^\s&;]+)")


def redact(text: str) -> str:
    """``text`` with URL passwords and ``password=...`` values replaced by ``***``."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", text)
    return _KV.sub(lambda m: f"{m[1]}=***", text)


_HOSTNAME = re.compile(
    r"^(localhost|\[[0-9a-fA-F:]+\]|[0-9.]+|[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)+)(:\d{1,5})?$"
)


def redact_url(url: str) -> str:
    """A notification URL safe to show: the scheme, and the host only when it is really a host name.

    Some Apprise schemes carry the secret where a host would be
    (``tgram://BOTTOKEN/chat``, ``slack://TokenA/...``): those show ``scheme://***``.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "***"
    if scheme.lower() == "sns":  # paramedic's SNS route: a topic name or ARN, no secret in it
        return url
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    if not _HOSTNAME.match(host):
        return f"{scheme}://***"
    return f"{scheme}://{host}/***" if "/" in rest else f"{scheme}://{host}"
