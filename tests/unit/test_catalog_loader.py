"""Loading a catalog: the exact lines a user reads for each kind of problem, and the happy path."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from paramedic.catalog import (
    Catalog,
    ComponentType,
    Criticality,
    catalog_schema,
    load_catalog,
    load_catalog_text,
)
from paramedic.catalog.model import HttpCheck, PostgresCheck, RestartService, RestoreFromBackup
from paramedic.errors import CatalogError

VALID = """\
version: 1
location: site-a
state: sqlite:///state/paramedic.db
notify:
  - name: ops
    url: "json://127.0.0.1:9000/hook"
    events: [failure_detected, recovery_succeeded, recovery_failed, escalated]
components:
  orders-db:
    type: database
    location: site-a/rack-3
    constraint: "vendor licence allows one instance"
    criticality: critical
    rto: 5m
    rpo: 1m
    provider: postgres
    spec: {data_dir: ./pg/main, port: 5432, standby: orders-db-standby}
    health:
      check: postgres
      dsn: "postgresql://monitor@127.0.0.1:5432/postgres"
      interval: 2s
      timeout: 1s
    backup:
      engine: pg_basebackup
      schedule: "*/30 * * * *"
      keep: 7d
      repository: ./backups/orders-db
      verify: daily
    recovery:
      - strategy: restart_service
        timeout: 30s
      - strategy: failover_to_standby
      - strategy: restore_from_backup
        target: latest
        approval: required
  orders-db-standby:
    type: database
    rto: 5m
    rpo: 1m
    provider: postgres
    spec: {data_dir: ./pg/standby, port: 5433}
    health: {check: postgres, dsn: "postgresql://monitor@127.0.0.1:5433/postgres"}
  cache:
    type: cache
    criticality: important
    rto: 30s
    rpo: 15m
    provider: redis
    spec: {dir: ./redis, port: 6380}
    health: {check: redis, url: "redis://127.0.0.1:6380/0"}
    backup: {engine: redis_rdb, schedule: "*/15 * * * *"}
    recovery:
      - strategy: restart_service
  web:
    type: application_server
    rto: 30s
    rpo: 0s
    depends_on: [orders-db, cache]
    provider: process
    spec:
      command: python3 -m http.server 8080
      cwd: ./site
    health: {check: http, url: "http://127.0.0.1:8080/", interval: 1s, timeout: 500ms}
    recovery:
      - strategy: restart_service
      - strategy: replace_instance
  lb:
    type: load_balancer
    rto: 10s
    rpo: 0s
    depends_on: [web]
    provider: haproxy
    spec: {config: ./haproxy.cfg, stats_socket: ./haproxy.sock}
    health: {check: tcp, port: 8443}
"""

# The smallest valid component, to build problem catalogs around one mistake.
WEB = """\
  web:
    type: application_server
    rto: 30s
    rpo: 0s
    provider: process
    spec: {command: [sleep, "60"]}
    health: {check: tcp, port: 8080}
"""


def problems(text: str, filename: str = "c.yaml") -> list[str]:
    """The lines a user reads for ``text``; fails the test if it loads."""
    with pytest.raises(CatalogError) as caught:
        load_catalog_text(text, filename)
    lines = str(caught.value).splitlines()
    assert lines == [str(p) for p in caught.value.problems]
    return lines


def catalog(components: str, top: str = "") -> str:
    return f"version: 1\n{top}components:\n{components}"


# ---------------------------------------------------------------- reading the file


def test_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "paramedic.yaml"
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert str(caught.value) == (
        f"{path}: no such file; create it, or pass another path with -c PATH or PARAMEDIC_CATALOG"
    )
    assert caught.value.problems[0].line is None


def test_a_folder_is_not_a_catalog(tmp_path: Path) -> None:
    with pytest.raises(CatalogError) as caught:
        load_catalog(tmp_path)
    assert str(caught.value) == (
        f"{tmp_path}: is a folder; pass the catalog file (for example paramedic.yaml) inside it"
    )


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "paramedic.yaml"
    path.write_text(VALID)

    def refuse(self: Path) -> bytes:
        # Tests run as root here, where chmod 000 does not stop a read.
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert str(caught.value) == f"{path}: cannot be read: permission denied; check its permissions"


def test_not_utf8_names_the_line_of_the_bad_byte(tmp_path: Path) -> None:
    path = tmp_path / "paramedic.yaml"
    path.write_bytes(b"version: 1\ncomponents:\n  caf\xe9:\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert str(caught.value) == f"{path}:3: is not UTF-8 text (byte 0xe9); save it as UTF-8"


def test_utf8_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "paramedic.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode())
    assert load_catalog(path).location == "site-a"


@pytest.mark.parametrize("text", ["", "  \n\n"])
def test_empty_file(text: str) -> None:
    assert problems(text) == [
        "c.yaml: is empty; a catalog needs at least 'version: 1' and 'components:'"
    ]


def test_file_of_comments_only() -> None:
    assert problems("# nothing yet\n") == [
        "c.yaml: holds only comments; a catalog needs 'version: 1' and 'components:'"
    ]


def test_yaml_syntax_error_is_one_line_with_its_line() -> None:
    text = "version: 1\ncomponents:\n  web: {type: cache\n  db: 1\n"
    assert problems(text) == [
        "c.yaml:4: not valid YAML: a '{' opened on line 3 is not closed before this line; close"
        " it with '}', or quote a value that holds ':' or ',' (line: '  db: 1'); the parser"
        " says: expected ',' or '}', but got ':'"
    ]


def test_yaml_syntax_error_bad_indentation() -> None:
    assert problems("version: 1\n  components: x\n") == [
        "c.yaml:2: not valid YAML: a ':' where no key can start; check this line's indentation"
        " against the line above, or quote a value that holds ': ' (line: '  components: x');"
        " the parser says: mapping values are not allowed here"
    ]


def test_two_documents_in_one_file() -> None:
    assert problems("version: 1\n---\nversion: 1\n") == [
        "c.yaml:2: not valid YAML: a second document ('---'); a catalog is one document"
        " (line: '---'); the parser says: expected a single document in the stream, but found"
        " another document"
    ]


def test_an_unclosed_quote_names_the_line_it_opened_on() -> None:
    assert problems('version: 1\ncomponents:\n  web:\n    type: "cache\n') == [
        "c.yaml:5: not valid YAML: quoted text opened on line 4 is never closed; add the"
        " closing quote; the parser says: found unexpected end of stream"
    ]


def test_a_tab_is_said_plainly() -> None:
    assert problems("version: 1\ncomponents:\n\tweb: 1\n") == [
        "c.yaml:3: not valid YAML: a tab; YAML indents with spaces only (line: '\\tweb: 1');"
        " the parser says: found character '\\t' that cannot start any token"
    ]


def test_duplicate_key_names_the_key_and_never_its_value() -> None:
    text = catalog(WEB + "    rto: 1m\n").replace("process", "process\n    provider: pw-s3cret")
    lines = problems(text)
    assert lines == [
        "c.yaml:8: duplicate key 'provider', first on line 7; a key may appear once in a mapping"
    ]
    assert "s3cret" not in lines[0]


def test_character_yaml_does_not_allow() -> None:
    assert problems("version: 1\ncomponents: \x07\n") == [
        "c.yaml:2: contains a character YAML does not allow (#x0007); remove it"
    ]


@pytest.mark.parametrize(
    ("text", "kind"),
    [("- web\n- db\n", "a list"), ("web\n", "text"), ("42\n", "a number")],
)
def test_top_level_must_be_a_mapping(text: str, kind: str) -> None:
    assert problems(text) == [
        f"c.yaml:1: the top level must be a mapping (version: 1, components: ...), not {kind}"
    ]


@pytest.mark.parametrize(("value", "shown"), [("2", "2"), ("'1'", "'1'"), ("true", "True")])
def test_version_other_than_1_stops_with_one_problem(value: str, shown: str) -> None:
    text = f"# catalog\nversion: {value}\ncomponents:\n  web: {{type: nope}}\n"
    assert problems(text) == [
        f"c.yaml:2: version: must be 1, the catalog format this paramedic reads; found {shown}"
    ]


# ---------------------------------------------------------------- model messages


def test_unknown_key_lists_the_expected_keys_and_suggests_the_close_one() -> None:
    text = catalog(WEB.replace("port: 8080}", "port: 8080, intervall: 2s}"))
    assert problems(text) == [
        "c.yaml:9: components.web.health.intervall: unknown key; expected one of: check, "
        "failures, host, interval, port, start_period, successes, timeout; "
        "did you mean 'interval'?"
    ]


def test_unknown_key_without_a_close_match() -> None:
    assert problems(catalog(WEB, top="colour: blue\n")) == [
        "c.yaml:2: colour: unknown key; expected one of: agent, api, aws, components, location, notify, "
        "state, version"
    ]


def test_missing_key_is_reported_at_the_mapping_that_lacks_it() -> None:
    text = catalog(WEB.replace("    rto: 30s\n", ""))
    assert problems(text) == ["c.yaml:3: components.web.rto: is required"]


def test_missing_top_level_key_is_reported_at_the_first_line() -> None:
    assert problems("# my catalog\nversion: 1\n") == ["c.yaml:2: components: is required"]


def test_enum_lists_its_values() -> None:
    text = catalog(WEB + "    criticality: high\n")
    assert problems(text) == [
        "c.yaml:10: components.web.criticality: must be one of: critical, important, standard"
    ]


def test_literal_lists_its_values() -> None:
    text = catalog(
        WEB + "    recovery:\n      - strategy: restart_service\n        approval: yes\n"
    )
    assert problems(text) == [
        "c.yaml:12: components.web.recovery[0].approval: must be one of: required, none"
    ]


def test_unknown_check_lists_the_check_kinds() -> None:
    text = catalog(WEB.replace("check: tcp", "check: htp"))
    assert problems(text) == [
        "c.yaml:9: components.web.health.check: unknown check 'htp'; "
        "expected one of: http, tcp, command, process, postgres, redis, haproxy, "
        "aws.ec2_status, aws.target_health, aws.route53_health, aws.rds_status, "
        "aws.elasticache_status, aws.cloudwatch_alarm"
    ]


def test_missing_check_kind() -> None:
    text = catalog(WEB.replace("check: tcp, ", ""))
    assert problems(text) == [
        "c.yaml:9: components.web.health.check: is required; "
        "one of: http, tcp, command, process, postgres, redis, haproxy, "
        "aws.ec2_status, aws.target_health, aws.route53_health, aws.rds_status, "
        "aws.elasticache_status, aws.cloudwatch_alarm"
    ]


def test_unknown_strategy_lists_the_strategies() -> None:
    text = catalog(
        WEB + "    recovery:\n      - strategy: restart_service\n      - {strategy: restart}\n"
    )
    assert problems(text) == [
        "c.yaml:12: components.web.recovery[1].strategy: unknown strategy 'restart'; expected "
        "one of: restart_service, replace_instance, failover_to_standby, restore_from_backup, "
        "scale_out, run"
    ]


def test_bad_duration_inside_a_list_item_has_its_index_and_line() -> None:
    text = catalog(
        WEB
        + "    recovery:\n      - strategy: restart_service\n      - strategy: replace_instance\n"
        "        timeout: 2 minutes\n"
    )
    assert problems(text) == [
        "c.yaml:13: components.web.recovery[1].timeout: "
        "must be a duration like 2s (units: ms, s, m, h, d, w)"
    ]


def test_number_where_a_duration_is_expected() -> None:
    text = catalog(WEB.replace("port: 8080}", "port: 8080, interval: 5}"))
    assert problems(text) == [
        "c.yaml:9: components.web.health.interval: "
        "must be a duration like 2s (units: ms, s, m, h, d, w)"
    ]


@pytest.mark.parametrize(
    ("replace", "line", "path", "message"),
    [
        ("port: 8080}", "port: 8080, failures: lots}", "health.failures", "must be a whole number"),
        ("port: 8080}", "port: 8080, failures: 1.5}", "health.failures", "must be a whole number"),
        ("    rto: 30s\n", "    rto: 30s\n    depends_on: db\n", "depends_on", "must be a list"),
        ("{check: tcp, port: 8080}", "tcp", "health", "must be a mapping"),
        ('{command: [sleep, "60"]}', "[sleep]", "spec", "must be a mapping"),
        ("port: 8080}", "port: 8080, host: [a]}", "health.host", "must be text"),
    ],
)
def test_wrong_types(replace: str, line: str, path: str, message: str) -> None:
    text = catalog(WEB.replace(replace, line))
    (only,) = problems(text)
    assert only.split(": ", 1)[1] == f"components.web.{path}: {message}"


def test_wrong_type_in_a_flag() -> None:
    text = catalog(WEB, top="agent: {stop_processes_on_exit: maybe}\n")
    assert problems(text) == ["c.yaml:2: agent.stop_processes_on_exit: must be true or false"]


def test_out_of_range_number() -> None:
    text = catalog(WEB.replace("port: 8080}", "port: 8080, failures: 0}"))
    assert problems(text) == ["c.yaml:9: components.web.health.failures: must be at least 1"]


def test_a_model_rule_on_one_field_is_reported_at_that_field() -> None:
    text = catalog(WEB.replace("port: 8080}", "port: 8080,\n             interval: 0s}"))
    assert problems(text) == ["c.yaml:10: components.web.health.interval: must be above 0s"]


def test_a_model_rule_on_several_fields_is_reported_at_the_mapping() -> None:
    text = catalog(WEB + "    recovery:\n      - strategy: run\n")
    assert problems(text) == [
        "c.yaml:11: components.web.recovery[0]: give exactly one of command or function"
    ]


def test_bad_component_name_is_reported_at_its_key() -> None:
    text = catalog(WEB.replace("  web:", "  web server:"))
    assert problems(text) == [
        "c.yaml:3: components[\"web server\"]: must be a name of letters, digits, '.', '_' or "
        "'-' that starts with a letter or digit (at most 63 characters)"
    ]


def test_no_components() -> None:
    assert problems("version: 1\ncomponents: {}\n") == [
        "c.yaml:2: components: must name at least one component"
    ]


def test_components_left_empty() -> None:
    assert problems("version: 1\ncomponents:\n") == [
        "c.yaml:2: components: must be a mapping, not empty"
    ]


def test_url_pattern_message() -> None:
    text = catalog(WEB.replace("{check: tcp, port: 8080}", "{check: http, url: 127.0.0.1}"))
    assert problems(text) == [
        "c.yaml:9: components.web.health.url: must be an http:// or https:// URL"
    ]


def test_cron_message() -> None:
    text = catalog(
        "  cache:\n    type: cache\n    rto: 5m\n    rpo: 1m\n    provider: redis\n"
        "    spec: {dir: ./r}\n    health: {check: redis}\n"
        "    backup: {engine: redis_rdb, schedule: daily}\n"
    )
    assert problems(text) == [
        "c.yaml:10: components.cache.backup.schedule: "
        "must be a cron expression of 5 fields like '*/30 * * * *'"
    ]


# ---------------------------------------------------------------- checks across the document


def test_unknown_dependency_suggests_the_close_name() -> None:
    text = catalog(WEB + "    depends_on: [ordersdb]\n" + WEB.replace("web", "orders-db"))
    assert problems(text) == [
        "c.yaml:10: components.web.depends_on[0]: unknown component 'ordersdb'; "
        "did you mean 'orders-db'?"
    ]


def test_unknown_dependency_without_a_close_name_lists_the_components() -> None:
    text = catalog(WEB + "    depends_on:\n      - cache\n")
    assert problems(text) == [
        "c.yaml:11: components.web.depends_on[0]: unknown component 'cache'; known components: web"
    ]


def test_a_component_cannot_depend_on_itself() -> None:
    text = catalog(WEB + "    depends_on: [web]\n")
    assert problems(text) == [
        "c.yaml:10: components.web.depends_on[0]: a component cannot depend on itself"
    ]


def test_each_dependency_cycle_is_spelled_out_once() -> None:
    parts = [
        WEB.replace("web", name) + f"    depends_on: [{deps}]\n"
        for name, deps in [("c", "a"), ("a", "b"), ("b", "c"), ("x", "y"), ("y", "x"), ("z", "a")]
    ]
    assert problems(catalog("".join(parts))) == [
        "c.yaml:18: components.a.depends_on[0]: dependency cycle: a -> b -> c -> a",
        "c.yaml:34: components.x.depends_on[0]: dependency cycle: x -> y -> x",
    ]


def test_unknown_provider_lists_the_known_ones() -> None:
    text = catalog(WEB.replace("provider: process", "provider: redsi"))
    assert problems(text) == [
        "c.yaml:7: components.web.provider: unknown provider 'redsi'; "
        "known providers: aws.asg, aws.ec2, aws.elasticache, aws.rds, files, haproxy, postgres, process, redis"
    ]


def test_spec_problems_have_their_own_lines() -> None:
    text = catalog(
        "  db:\n    type: database\n    rto: 5m\n    rpo: 1m\n    provider: postgres\n"
        "    spec:\n      data_dir: ./pg\n      port: 99999\n      hots: x\n"
        "    health: {check: postgres, dsn: 'postgresql://127.0.0.1/postgres'}\n"
    )
    assert problems(text) == [
        "c.yaml:10: components.db.spec.port: must be at most 65535",
        "c.yaml:11: components.db.spec.hots: unknown key; expected one of: bin_dir, data_dir, "
        "host, load_balancer, port, standby, superuser, user; did you mean 'host'?",
    ]


def test_spec_missing_a_required_setting() -> None:
    text = catalog(WEB.replace('spec: {command: [sleep, "60"]}', "spec: {cwd: /tmp}"))
    assert problems(text) == [
        "c.yaml:8: components.web.spec: give command (a process paramedic owns) or "
        "restart_command/start_command"
    ]


def test_spec_left_out_where_the_provider_needs_one() -> None:
    text = catalog(
        "  cache:\n    type: cache\n    rto: 5m\n    rpo: 1m\n    provider: redis\n"
        "    health: {check: redis}\n"
    )
    assert problems(text) == ["c.yaml:3: components.cache.spec.dir: is required"]


def test_type_the_provider_does_not_suit() -> None:
    text = catalog(
        "  db:\n    type: cache\n    rto: 5m\n    rpo: 1m\n    provider: postgres\n"
        "    spec: {data_dir: ./pg}\n    health: {check: postgres, dsn: 'postgres://h/db'}\n"
    )
    assert problems(text) == [
        "c.yaml:4: components.db.type: provider 'postgres' cannot run a cache; it runs: database"
    ]


def test_process_check_needs_the_process_provider() -> None:
    text = catalog(
        "  cache:\n    type: cache\n    rto: 5m\n    rpo: 1m\n    provider: redis\n"
        "    spec: {dir: ./r}\n    health:\n      check: process\n"
    )
    assert problems(text) == [
        "c.yaml:10: components.cache.health.check: check 'process' needs provider process"
    ]


def test_backup_engine_the_provider_cannot_use() -> None:
    text = catalog(WEB + "    backup:\n      engine: pg_basebackup\n      schedule: '@daily'\n")
    assert problems(text) == [
        "c.yaml:11: components.web.backup.engine: provider 'process' cannot use backup engine "
        "'pg_basebackup'; it can use: none",
        "c.yaml:12: components.web.backup.schedule: "
        "must be a cron expression of 5 fields like '*/30 * * * *'",
    ]


def test_standby_must_name_another_existing_component() -> None:
    db = (
        "  {name}:\n    type: database\n    rto: 5m\n    rpo: 1m\n    provider: postgres\n"
        "    spec: {{data_dir: ./pg, standby: {standby}}}\n"
        "    health: {{check: postgres, dsn: 'postgres://h/db'}}\n"
    )
    text = catalog(
        db.format(name="db", standby="db-standbyy")
        + db.format(name="db-standby", standby="db-standby")
        + "    recovery:\n      - {strategy: failover_to_standby, standby: nowhere}\n"
    )
    assert problems(text) == [
        "c.yaml:8: components.db.spec.standby: unknown component 'db-standbyy'; "
        "did you mean 'db-standby'?",
        "c.yaml:15: components.db-standby.spec.standby: must name another component, not this one",
        "c.yaml:18: components.db-standby.recovery[0].standby: unknown component 'nowhere'; "
        "known components: db, db-standby",
    ]


def test_duplicate_route_names() -> None:
    top = "notify:\n  - {name: ops, url: 'json://h/a'}\n  - {name: ops, url: 'json://h/b'}\n"
    assert problems(catalog(WEB, top=top)) == [
        "c.yaml:4: notify[1].name: route name 'ops' is already used by notify[0]"
    ]


def test_gaps_for_plan_are_not_errors() -> None:
    # redis cannot fail over, and the checks cannot meet a 1s RTO: `plan` reports those.
    text = catalog(
        "  cache:\n    type: cache\n    rto: 1s\n    rpo: 0s\n    provider: redis\n"
        "    spec: {dir: ./r}\n    health: {check: redis, interval: 10s}\n"
        "    recovery: [{strategy: failover_to_standby}, {strategy: scale_out}]\n"
    )
    loaded = load_catalog_text(text, "c.yaml")
    assert [step.strategy for step in loaded.components["cache"].recovery] == [
        "failover_to_standby",
        "scale_out",
    ]


def test_five_mistakes_give_five_lines(tmp_path: Path) -> None:
    path = tmp_path / "paramedic.yaml"
    path.write_text(
        "version: 1\n"  # 1
        "components:\n"  # 2
        "  web:\n"  # 3
        "    type: application_server\n"  # 4
        "    rto: 30s\n"  # 5
        "    rpo: 0s\n"  # 6
        "    depends_on: [ordersdb]\n"  # 7  mistake: unknown component
        "    provider: process\n"  # 8
        "    spec: {command: [sleep, '60']}\n"  # 9
        "    health:\n"  # 10
        "      check: http\n"  # 11
        "      url: http://127.0.0.1:8080/\n"  # 12
        "      interval: soon\n"  # 13 mistake: duration
        "  orders-db:\n"  # 14
        "    type: database\n"  # 15
        "    criticality: urgent\n"  # 16 mistake: enum
        "    rto: 5m\n"  # 17
        "    rpo: 1m\n"  # 18
        "    provider: postgress\n"  # 19 mistake: unknown provider
        "    health: {check: postgres, dsn: 'postgresql://h/db'}\n"  # 20
        "    recovery:\n"  # 21
        "      - strategy: restart_service\n"  # 22
        "        tmeout: 30s\n"  # 23 mistake: unknown key
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert str(caught.value).splitlines() == [
        f"{path}:7: components.web.depends_on[0]: unknown component 'ordersdb'; "
        "did you mean 'orders-db'?",
        f"{path}:13: components.web.health.interval: "
        "must be a duration like 2s (units: ms, s, m, h, d, w)",
        f"{path}:16: components.orders-db.criticality: "
        "must be one of: critical, important, standard",
        f"{path}:19: components.orders-db.provider: unknown provider 'postgress'; "
        "known providers: aws.asg, aws.ec2, aws.elasticache, aws.rds, files, haproxy, postgres, process, redis",
        f"{path}:23: components.orders-db.recovery[0].tmeout: unknown key; expected one of: "
        "approval, approval_timeout, strategy, timeout; did you mean 'timeout'?",
    ]


# ---------------------------------------------------------------- the happy path


def test_realistic_catalog_loads_with_defaults_applied(tmp_path: Path) -> None:
    path = tmp_path / "paramedic.yaml"
    path.write_text(VALID)
    loaded = load_catalog(path)
    assert isinstance(loaded, Catalog)
    assert loaded.source == str(path)
    assert list(loaded.components) == ["orders-db", "orders-db-standby", "cache", "web", "lb"]

    db = loaded.components["orders-db"]
    assert db.type is ComponentType.database
    assert db.criticality is Criticality.critical
    assert (db.rto, db.rpo) == (timedelta(minutes=5), timedelta(minutes=1))
    assert isinstance(db.health, PostgresCheck)
    assert (db.health.interval, db.health.failures, db.health.successes) == (
        timedelta(seconds=2),
        2,
        1,
    )
    assert db.backup is not None and db.backup.keep == timedelta(days=7)
    assert [type(s).__name__ for s in db.recovery] == [
        RestartService.__name__,
        "FailoverToStandby",
        RestoreFromBackup.__name__,
    ]
    restore = db.recovery[2]
    assert isinstance(restore, RestoreFromBackup)
    assert (restore.needs_approval, restore.timeout) == (True, timedelta(minutes=10))
    assert db.spec == {"data_dir": "./pg/main", "port": 5432, "standby": "orders-db-standby"}

    web = loaded.components["web"]
    assert web.criticality is Criticality.standard
    assert web.location is None and loaded.location_of("web") == "site-a"
    assert loaded.location_of("orders-db") == "site-a/rack-3"
    assert isinstance(web.health, HttpCheck)
    assert web.health.timeout == timedelta(milliseconds=500)
    assert web.health.method == "GET" and web.health.status == []
    assert (web.budget.recoveries, web.budget.window) == (3, timedelta(minutes=10))
    assert web.drills.allowed is False
    assert web.depends_on == ["orders-db", "cache"]
    assert loaded.agent.check_concurrency == 256
    assert [r.name for r in loaded.notify] == ["ops"]


def test_relative_paths_resolve_against_the_catalog_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "paramedic.yaml").write_text(VALID)
    monkeypatch.chdir(tmp_path)
    loaded = load_catalog("site/paramedic.yaml")
    assert loaded.source == "site/paramedic.yaml"
    assert loaded.base_dir == folder.resolve()
    assert loaded.resolve_path("./pg/main") == folder.resolve() / "pg" / "main"
    assert loaded.resolve_path("/var/lib/x") == Path("/var/lib/x")
    assert loaded.state_url() == f"sqlite:///{folder.resolve() / 'state' / 'paramedic.db'}"


def test_text_without_a_folder_resolves_against_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    loaded = load_catalog_text(VALID, "<stdin>")
    assert loaded.source == "<stdin>"
    assert loaded.resolve_path("site") == tmp_path.resolve() / "site"
    other = load_catalog_text(VALID, "x.yaml", base_dir=tmp_path / "elsewhere")
    assert other.resolve_path("site") == tmp_path / "elsewhere" / "site"


def test_a_thousand_components_load_quickly() -> None:
    parts = ["version: 1", "components:"]
    for i in range(1000):
        deps = f"[svc-{i - 1}]" if i else "[]"
        parts.append(
            f"  svc-{i}:\n    type: application_server\n    criticality: important\n"
            f"    rto: 30s\n    rpo: 0s\n    depends_on: {deps}\n    provider: process\n"
            f"    spec:\n      command: [python3, -m, http.server, '{8000 + i}']\n"
            f"    health: {{check: http, url: 'http://127.0.0.1:{8000 + i}/', interval: 1s}}\n"
            "    recovery:\n      - strategy: restart_service\n      - strategy: replace_instance"
        )
    text = "\n".join(parts) + "\n"
    started = time.perf_counter()
    loaded = load_catalog_text(text, "big.yaml")
    elapsed = time.perf_counter() - started
    assert len(loaded.components) == 1000
    # Generous: ~0.2 s on libyaml (13,000 lines); ruamel's pure-Python round trip took ~2.5 s.
    assert elapsed < 5, f"loading 1,000 components took {elapsed:.1f}s"


# ---------------------------------------------------------------- the JSON Schema


def _yaml_data(text: str) -> object:
    """The catalog as JSON-like data, the way an editor's YAML plugin hands it to the schema."""
    return json.loads(json.dumps(YAML(typ="safe", pure=True).load(text), default=str))


def test_schema_header_and_provider_completion() -> None:
    schema = catalog_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == "paramedic catalog"
    assert "$id" not in schema
    component = schema["$defs"]["Component"]
    assert component["properties"]["provider"]["enum"] == [
        "aws.asg",
        "aws.ec2",
        "aws.elasticache",
        "aws.rds",
        "files",
        "haproxy",
        "postgres",
        "process",
        "redis",
    ]
    rules = {r["if"]["properties"]["provider"]["const"]: r["then"] for r in component["allOf"]}
    assert rules["postgres"] == {"properties": {"spec": {"$ref": "#/$defs/PostgresSpec"}}}
    assert schema["$defs"]["HttpCheck"]["properties"]["interval"]["default"] == "5s"
    json.dumps(schema)  # plain JSON all through


def test_schema_validates_a_valid_catalog_and_refuses_bad_specs() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = catalog_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert list(validator.iter_errors(_yaml_data(VALID))) == []

    bad_spec = _yaml_data(VALID.replace("port: 5433}", "port: 5433, hots: x}"))
    assert [e.json_path for e in validator.iter_errors(bad_spec)] == [
        "$.components['orders-db-standby'].spec"
    ]
    bad_provider = _yaml_data(VALID.replace("provider: haproxy", "provider: nginx"))
    assert [e.json_path for e in validator.iter_errors(bad_provider)] == [
        "$.components.lb.provider"
    ]
    bad_name = _yaml_data(VALID.replace("  lb:", "  l b:"))
    assert [e.json_path for e in validator.iter_errors(bad_name)] == ["$.components"]


EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("**/*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_schema_and_loader_accept_the_example_catalogs(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    load_catalog(path)
    validator = jsonschema.Draft202012Validator(catalog_schema())
    assert [e.message for e in validator.iter_errors(_yaml_data(path.read_text()))] == []


# ---------------------------------------------------------------- bounds and forms (issues 13, 14)


def test_an_oversized_duration_is_located_and_bounded() -> None:
    text = catalog(WEB.replace("rto: 30s", "rto: 99999999999999999999w"))
    assert problems(text) == [
        "c.yaml:5: components.web.rto: is too large: a duration is at most 100 years (36500d)"
    ]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        (
            "mysql://u:pw-s3cret@h/db",
            "must be sqlite:///FILE or postgresql://user@host/db (found 'mysql'); "
            "those are the state stores paramedic supports",
        ),
        (
            "paramedic.db",
            "must be sqlite:///FILE or postgresql://user@host/db (found no scheme); "
            "those are the state stores paramedic supports",
        ),
        (
            "sqlite:///:memory:",
            "must name a file: sqlite:///paramedic.db or sqlite:////abs/path.db",
        ),
    ],
)
def test_an_unsupported_state_url_is_refused_where_it_is_written(state: str, message: str) -> None:
    lines = problems(catalog(WEB, top=f"state: '{state}'\n"))
    assert lines == [f"c.yaml:2: state: {message}"]
    assert "s3cret" not in lines[0]


@pytest.mark.parametrize(
    "state", ["sqlite:///x.db", "sqlite:////abs/x.db", "postgresql://u@h/db", "postgres://h/db"]
)
def test_the_state_urls_the_store_opens_are_valid(state: str) -> None:
    assert load_catalog_text(catalog(WEB, top=f"state: {state}\n"), "c.yaml").state == state


def test_a_command_that_is_neither_a_list_nor_a_string_says_both_forms() -> None:
    text = catalog(WEB.replace('{command: [sleep, "60"]}', "{command: 42}"))
    assert problems(text) == [
        "c.yaml:8: components.web.spec.command: must be a command: a list like "
        "[python3, app.py] or a string like 'python3 app.py'"
    ]
    loaded = load_catalog_text(catalog(WEB.replace('[sleep, "60"]', '"sleep 60"')), "c.yaml")
    assert loaded.components["web"].spec["command"] == "sleep 60"  # split by the provider


def test_flapping_limit_comes_from_the_catalog() -> None:
    text = catalog(WEB + "    flapping: {incidents: 8, window: 30m}\n")
    web = load_catalog_text(text, "c.yaml").components["web"]
    assert (web.flapping.incidents, web.flapping.window) == (8, timedelta(minutes=30))
    default = load_catalog_text(catalog(WEB), "c.yaml").components["web"].flapping
    assert (default.incidents, default.window) == (3, timedelta(minutes=10))


def test_bad_flapping_settings_name_the_key() -> None:
    text = catalog(WEB + "    flapping: {incidents: 0, window: 0s, after: 2}\n")
    assert problems(text) == [
        "c.yaml:10: components.web.flapping.incidents: must be at least 1",
        "c.yaml:10: components.web.flapping.window: must be above 0s",
        "c.yaml:10: components.web.flapping.after: unknown key; expected one of: incidents, window",
    ]
