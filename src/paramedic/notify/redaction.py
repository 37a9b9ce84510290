"""Keep a route's secrets out of delivery errors and of the URL shown in logs.

``paramedic.redact`` hides passwords in URLs and ``token=`` pairs; Apprise URLs also carry
tokens as path segments and query values, and some in the host part itself
(``slack://TokenA/TokenB/TokenC``, ``tgram://BOTTOKEN/CHAT``), so texts are also scrubbed of
those parts of the route's own URL.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

from paramedic.redact import redact, redact_url

_SHORTEST_TOKEN = 8  # path segments and query values this long or longer are treated as secrets


def url_secrets(url: str) -> list[str]:
    """Parts of ``url`` that may be secret: its password, long path segments and query values."""
    if url.lower().startswith("sns://"):  # a topic name or ARN: no secret (credentials are boto3's)
        return []
    found: list[str] = []
    rest = url.partition("://")[2]
    host = rest.split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if _token_like(host):
        found.append(host)
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # unparseable: hide all of it past the scheme
        return sorted({*found, rest} - {""}, key=len, reverse=True)
    if password:
        found += [password, unquote(password)]
    for segment in parts.path.split("/"):
        if len(segment) >= _SHORTEST_TOKEN:
            found += [segment, unquote(segment)]
    for _key, value in parse_qsl(parts.query, keep_blank_values=False):
        if len(value) >= _SHORTEST_TOKEN:
            found.append(value)
    # Longest first, so a secret containing another is replaced whole.
    return sorted(set(found), key=len, reverse=True)


def _token_like(host: str) -> bool:
    """True when a URL's host part looks like a token rather than a DNS name or an address."""
    return (
        len(host) >= _SHORTEST_TOKEN
        and "." not in host
        and not host.startswith("[")
        and host.split(":", 1)[0].lower() != "localhost"
    )


def shown_url(url: str) -> str:
    """``redact_url(url)``, with a host that is really a token hidden as well."""
    return scrub(redact_url(url), url)


def scrub(text: str, url: str) -> str:
    """``text`` with URL passwords, ``token=`` values and the secret parts of ``url`` as ``***``."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return redact(text)
