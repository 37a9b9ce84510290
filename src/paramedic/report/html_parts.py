"""Small HTML pieces the report's page is built from: escaping, tables, met/missed words."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape


def esc(value: object) -> str:
    """``value`` as text, HTML-escaped."""
    return escape(str(value))


def met_span(met: bool | None) -> str:
    """``met`` in green, ``missed`` in red, nothing for None."""
    if met is None:
        return ""
    return '<span class="met">met</span>' if met else '<span class="missed">missed</span>'


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int]) -> str:
    """A table of already-escaped cells; columns in ``numeric`` are right-aligned."""
    head = "".join(
        f'<th class="num">{esc(h)}</th>' if i in numeric else f"<th>{esc(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="num">{cell}</td>' if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
