"""Per-component gauge families, written straight in Prometheus' text exposition format.

prometheus_client builds a ``Sample`` per series, checks its label names, sorts
its labels and formats it, one at a time: at 10,000 components (80,000 series)
that was ~1.1 s of a 1.4 s scrape (bench/README.md, section (f)). These
families have fixed, valid names and a ``component`` label (plus at most one
more), so their lines are formatted here, in the same text prometheus_client
writes (``tests/unit/test_api_series.py`` compares them byte for byte), with its
own float formatting.
"""

from __future__ import annotations

from prometheus_client.utils import floatToGoString

COMPONENT = "component"


def _label_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


class ComponentGauge:
    """One gauge family labelled by component (and by ``extra``, when given)."""

    def __init__(self, name: str, documentation: str, extra: str | None = None) -> None:
        # prometheus_client sorts labels by name; "component" must come first here too
        assert extra is None or extra > COMPONENT, extra
        self.name = name
        self.documentation = documentation
        self.extra = extra
        self._lines: list[str] = []

    def add(self, component: str, value: float, extra_value: str = "") -> None:
        """One series: ``component`` (and the ``extra`` label's value) at ``value``."""
        labels = f'{COMPONENT}="{_label_value(component)}"'
        if self.extra is not None:
            labels += f',{self.extra}="{_label_value(extra_value)}"'
        shown = floatToGoString(value)  # type: ignore[no-untyped-call]  # the library's formatting
        self._lines.append(f"{self.name}{{{labels}}} {shown}\n")

    def text(self) -> str:
        """HELP, TYPE and every series line."""
        doc = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {self.name} {doc}\n# TYPE {self.name} gauge\n" + "".join(self._lines)
