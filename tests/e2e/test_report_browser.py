"""`paramedic report --html` opened in a real headless Chromium: it renders offline and reads well."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from paramedic.catalog.loader import load_catalog
from paramedic.register import register_components
from paramedic.store import Store
from tests.e2e.harness import paramedic
from tests.servers import need_binary

pytestmark = pytest.mark.e2e

CATALOG = """version: 1
location: site-a
state: sqlite:///paramedic.db
components:
  orders-db:
    type: database
    constraint: "vendor licence allows one instance"
    criticality: critical
    rto: 2m
    rpo: 1h
    provider: redis
    spec: {port: 16390, dir: ./orders-db}
    health: {check: tcp, host: 127.0.0.1, port: 16390, interval: 1s, timeout: 1s}
    backup: {engine: redis_rdb, schedule: "*/30 * * * *"}
    recovery:
      - {strategy: restart_service, timeout: 20s}
      - {strategy: restore_from_backup, timeout: 1m}
  web:
    type: application_server
    criticality: important
    rto: 30s
    rpo: 0s
    depends_on: [orders-db]
    provider: process
    spec: {command: ["python3", "-m", "http.server", "18090"]}
    health: {check: http, url: "http://127.0.0.1:18090/", interval: 1s, timeout: 1s}
    recovery:
      - {strategy: restart_service, timeout: 10s}
      - {strategy: replace_instance, timeout: 15s}
  audit-log:
    type: file_system
    rto: 10m
    rpo: 1d
    provider: process
    spec: {command: ["python3", "-m", "http.server", "18091"]}
    health: {check: tcp, host: 127.0.0.1, port: 18091, interval: 5s, timeout: 1s}
    recovery:
      - {strategy: restart_service, timeout: 30s}
"""

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _fill(cwd: Path) -> None:
    """Drills and incidents over the last weeks, through the store's own methods."""
    now = datetime.now(UTC)
    catalog = load_catalog(str(cwd / "paramedic.yaml"))
    store = Store.open(f"sqlite:///{cwd / 'paramedic.db'}")
    try:
        register_components(store, catalog)
        for n, (days, rto, verdict) in enumerate(
            [
                (26, 41.0, "missed"),
                (19, 22.0, "met"),
                (12, None, "aborted"),
                (5, 14.0, "met"),
                (1, 9.5, "met"),
            ]
        ):
            store.add_drill(
                component="web",
                fault="kill" if n % 2 else "stop",
                started_at=now - timedelta(days=days),
                incident_id=None,
                phases=[],
                verdict=verdict,
                measured_rto_s=rto,
                measured_rpo_s=0.0 if rto is not None else None,
                target_rto_s=30.0,
                target_rpo_s=0.0,
            )
        store.add_recovery_point(
            component="orders-db",
            engine="redis_rdb",
            taken_at=now - timedelta(days=9, minutes=20),
            location="/backups/orders-db/1.rdb",
            size_bytes=512 * 1024 * 1024,
            checksum=None,
        )
        for days, restore_s in ((9, 48.0), (3, 52.0)):
            failed = now - timedelta(days=days)
            row = store.open_incident(
                component="orders-db",
                kind="failure",
                failed_at=failed,
                detected_at=failed + timedelta(seconds=3),
                failure="refused",
                reason="orders-db failed 2 checks in a row",
                target_rto_s=120.0,
                target_rpo_s=3600.0,
            )
            at = failed + timedelta(seconds=3)
            for seq, (strategy, status, took) in enumerate(
                [
                    ("restart_service", "failed", 20.0),
                    ("restore_from_backup", "succeeded", restore_s),
                ],
                start=1,
            ):
                store.start_step(row.id, seq=seq, strategy=strategy, started_at=at)
                at += timedelta(seconds=took)
                store.finish_step(row.id, seq, ended_at=at, status=status)
            store.update_incident(
                row.id,
                state="recovered",
                recovered_at=at,
                strategy="restore_from_backup",
                measured_rpo_s=1200.0,
                recovery_point_at=now - timedelta(days=9, minutes=20),
            )
        _afternoon(store, now)
        store.add_recovery_point(
            component="orders-db",
            engine="redis_rdb",
            taken_at=now - timedelta(minutes=20),
            location="/backups/orders-db/2.rdb",
            size_bytes=900 * 1024 * 1024,
            checksum=None,
        )
    finally:
        store.close()


FLAPPING = "web is flapping: 4 incidents in 10m"


def _afternoon(store: Store, now: datetime) -> None:
    """One afternoon of web: four failures within 40 minutes (the third not recovered, the
    fourth escalated as flapping), a manual recovery, and audit-log down right now."""
    first = now - timedelta(hours=3)
    for minutes, steps, end in (
        (0, [("restart_service", "succeeded", 6.0)], "recovered"),
        (
            11,
            [("restart_service", "timed_out", 10.0), ("replace_instance", "succeeded", 9.0)],
            "recovered",
        ),
        (
            24,
            [("restart_service", "timed_out", 10.0), ("replace_instance", "failed", 15.0)],
            "every",
        ),
        (37, [], "flapping"),
    ):
        failed = first + timedelta(minutes=minutes)
        row = store.open_incident(
            component="web",
            kind="failure",
            failed_at=failed,
            detected_at=failed + timedelta(seconds=2),
            failure="refused",
            reason="web failed 2 checks in a row",
            target_rto_s=30.0,
            target_rpo_s=0.0,
        )
        at = failed + timedelta(seconds=2)
        for seq, (strategy, status, took) in enumerate(steps, start=1):
            store.start_step(row.id, seq=seq, strategy=strategy, started_at=at)
            at += timedelta(seconds=took)
            error = f"no answer within {took:g}s" if status == "timed_out" else ""
            store.finish_step(row.id, seq, ended_at=at, status=status, error=error)
        if end == "recovered":
            store.update_incident(
                row.id,
                state="recovered",
                recovered_at=at,
                strategy=steps[-1][0],
                measured_rto_s=(at - failed).total_seconds(),
                measured_rpo_s=0.0 if steps[-1][0] == "restart_service" else None,
            )
        else:
            reason = (
                FLAPPING
                if end == "flapping"
                else "every strategy failed (restart_service: timed_out; replace_instance:"
                " failed); a human is needed"
            )
            store.update_incident(row.id, state="escalated", escalated_at=at, reason=reason)
    asked = first + timedelta(minutes=50)
    manual = store.open_incident(
        component="web",
        kind="manual",
        failed_at=asked,
        detected_at=asked,
        failure=None,
        reason="recovery asked for by hand",
        target_rto_s=30.0,
        target_rpo_s=0.0,
    )
    store.start_step(manual.id, seq=1, strategy="restart_service", started_at=asked)
    done = asked + timedelta(seconds=4)
    store.finish_step(manual.id, 1, ended_at=done, status="succeeded", output="restarted")
    store.update_incident(
        manual.id,
        state="recovered",
        recovered_at=done,
        strategy="restart_service",
        measured_rto_s=4.0,
        measured_rpo_s=0.0,
    )
    down = store.open_incident(
        component="audit-log",
        kind="failure",
        failed_at=now - timedelta(minutes=14),
        detected_at=now - timedelta(minutes=14) + timedelta(seconds=10),
        failure="refused",
        reason="audit-log failed 2 checks in a row",
        target_rto_s=600.0,
        target_rpo_s=86400.0,
    )
    store.update_incident(down.id, state="recovering")


def _png_colours(path: Path) -> int:
    """Distinct colours of an 8-bit RGB or RGBA PNG, decoded with zlib and struct only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = depth = colour = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour in (2, 6), (depth, colour)
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    previous = bytearray(stride)
    colours: set[bytes] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = previous[i]
            c = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        colours.update(bytes(line[i : i + 3]) for i in range(0, stride, bpp * 7))
        previous = line
    return len(colours)


def test_the_html_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    chromium = need_binary("chromium", "chromium")
    (tmp_path / "paramedic.yaml").write_text(CATALOG)
    _fill(tmp_path)

    result = paramedic("report", "--html", "report.html", "-c", "paramedic.yaml", cwd=tmp_path)
    assert result.stdout.startswith("report written to report.html: 3 components, mean score")
    page = tmp_path / "report.html"
    url = page.resolve().as_uri()

    profile = tmp_path / "chromium-profile"
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            url,
        ],
        capture_output=True,
        timeout=90,
        check=True,
    )
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert _png_colours(shot) > 40  # text, coloured badges, chart markers: not a blank page

    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    ).stdout
    for name in ("orders-db", "web", "audit-log"):
        assert f'<section class="component" id="c-{name}">' in dom
    assert dom.count("<svg") == 6
    assert '<span class="verdict v-proven">proven</span>' in dom
    assert '<span class="verdict v-never">never proven</span>' in dom
    assert "try replace_instance before restart_service" not in dom  # too few attempts
    assert "restoring the newest point (900.0 MiB)" in dom
    assert "audit-log has never been proven" in dom
    # what is down now, before everything else
    assert dom.index('id="down-now"') < dom.index('id="summary"')
    assert "audit-log is down now: incident inc-" in dom
    assert "recovering for 14m" in dom
    # the afternoon: causes, the manual recovery, links to each incident's steps
    assert "refused, escalated: flapping" in dom
    assert "refused, escalated: every strategy failed" in dom
    assert FLAPPING in dom
    assert "manual incident inc-" in dom
    links = set(re.findall(r'href="#(i-inc-[^"]+)"', dom))
    anchors = set(re.findall(r'id="(i-inc-[^"]+)"', dom))
    assert len(links) >= 6 and links <= anchors
    assert '<span class="missed">timed out</span>' in dom and "no answer within 10s" in dom
    assert "not applicable" in dom  # web replaced: a stateless service has no RPO to lose
    assert "paramedic.db</code>" in dom and "sqlite:///" not in dom
    # not recovered on its own row, axes titled with units
    assert dom.count('class="cross"') == 2 * 3  # aborted drill + two escalations, RTO and RPO
    assert "measured RTO (seconds)</text>" in dom and "time (UTC)</text>" in dom


def test_report_json_markdown_and_summary_from_the_command(tmp_path: Path) -> None:
    (tmp_path / "paramedic.yaml").write_text(CATALOG)
    _fill(tmp_path)
    both = paramedic(
        "report", "--json", "--markdown", "report.md", "-c", "paramedic.yaml", cwd=tmp_path
    )
    data = json.loads(both.stdout)
    web = next(c for c in data["components"] if c["name"] == "web")
    assert [(t["outcome"], t["manual"]) for t in web["score"]["terms"]] == [
        ("met", True),
        ("not_recovered", False),
        ("not_recovered", False),
        ("met", False),
        ("met", False),
    ]
    assert web["drills"] == {"met": 3, "missed": 1, "unknown": 0, "not_recovered": 1}
    assert web["incidents"] == {"met": 3, "missed": 0, "unknown": 0, "not_recovered": 2}
    causes = [j["cause"]["kind"] for j in web["incident_journal"] if j["cause"]]
    assert causes == ["flapping", "ladder_exhausted"]
    assert data["summary"]["down_now"] == 1
    audit = next(c for c in data["components"] if c["name"] == "audit-log")
    assert audit["down_now"]["state"] == "recovering"
    assert data["state"] == str(tmp_path / "paramedic.db")
    orders = next(c for c in data["components"] if c["name"] == "orders-db")
    assert [r["bytes_per_s"] for r in orders["restores"]] == [
        512 * 1024 * 1024 / 52.0,
        512 * 1024 * 1024 / 48.0,
    ]
    text = (tmp_path / "report.md").read_text()
    assert "| orders-db | critical | 2m | 1h |" in text
    assert "## Down now\n\n- audit-log is down now: incident inc-" in text
    assert "refused, escalated: flapping" in text
    summary = paramedic("report", "-c", "paramedic.yaml", cwd=tmp_path).stdout
    assert (
        "high audit-log has never been proven: no drill or incident measured its recovery;"
        " run a drill\n" in summary
    )
    assert summary.splitlines()[0].startswith("down now audit-log is down now: incident inc-")
    assert summary.splitlines()[-1].startswith("3 components, 2 proven, mean score ")
