"""Health, status and metrics without a running daemon: the judgement, the CLI, the endpoint.

The daemon end to end (its heartbeat seen by `monitor status`, its /metrics)
is in test_daemon.py; here a real SQLite file gets a heartbeat written by the
same functions the daemon uses, with times chosen by the test.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import sqlite_utils
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import HealthConfig, Settings, SourceConfig, load_config
from monitor.endpoint import Endpoint
from monitor.errors import ConfigError
from monitor.health import Health, State, assess, check, render
from monitor.log import configure, event, redact
from monitor.metrics import Metrics
from monitor.store import Store, heartbeat
from monitor.store.heartbeat import Beat, Outbox, Snapshot, SourceRow
from monitor.store.schema import MIGRATIONS
from monitor.timeutil import isoformat

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def settings(tmp_path: Path, *names: str) -> Settings:
    return Settings(
        path=tmp_path / "monitor.toml",
        database=tmp_path / "monitor.db",
        rules=tmp_path / "rules",
        sources=tuple(SourceConfig(name, f"https://example.org/{name}") for name in names),
    )


def beat(**changes: object) -> Beat:
    values: dict[str, object] = {
        "pid": 1,
        "host": "elsewhere.example",  # another host: the PID is not looked up
        "version": "0.1.0",
        "config": "monitor.toml",
        "started_at": NOW - timedelta(hours=2),
        "beat_at": NOW - timedelta(seconds=5),
        "stopped_at": None,
        "interval": timedelta(seconds=10),
        "sources": 2,
        "rules": 3,
        "last_cycle_at": NOW - timedelta(seconds=40),
    }
    values.update(changes)
    return Beat(**values)  # type: ignore[arg-type]


def ok_row(name: str) -> SourceRow:
    return SourceRow(name, NOW - timedelta(minutes=1), None, 0)


# The judgement ---------------------------------------------------------------


def test_running_with_every_source_fetched_is_ok(tmp_path: Path) -> None:
    snapshot = Snapshot(beat(), {"a": ok_row("a"), "b": ok_row("b")}, Outbox(pending=2))

    health = assess(settings(tmp_path, "a", "b"), snapshot, NOW)

    assert health.state is State.OK and health.state == 0
    assert health.running and health.reasons == ()
    assert health.uptime == timedelta(hours=2)


@pytest.mark.parametrize(
    ("snapshot", "reason"),
    [
        (None, "no database at"),
        (Snapshot(None, {}, Outbox()), "no daemon has run"),
        (Snapshot(beat(stopped_at=NOW - timedelta(minutes=3)), {}, Outbox()), "stopped at"),
        (Snapshot(beat(beat_at=NOW - timedelta(seconds=31)), {}, Outbox()), "no heartbeat for 31s"),
    ],
)
def test_no_fresh_heartbeat_is_down(tmp_path: Path, snapshot: Snapshot | None, reason: str) -> None:
    health = assess(settings(tmp_path, "a"), snapshot, NOW)

    assert health.state is State.DOWN and health.state == 2
    assert not health.running
    assert reason in health.reasons[0]


def test_a_heartbeat_from_a_dead_process_on_this_host_is_down(tmp_path: Path) -> None:
    gone = beat(host=socket.gethostname(), pid=2**22 + 1)  # above any pid_max: never alive

    health = assess(settings(tmp_path), Snapshot(gone, {}, Outbox()), NOW)

    assert health.state is State.DOWN
    assert "gone without stopping cleanly" in health.reasons[0]


@pytest.mark.parametrize(
    ("rows", "outbox", "reason"),
    [
        (
            {"a": SourceRow("a", NOW, "HTTP 503 from https://example.org/a", 3)},
            Outbox(),
            "source a failing (3 in a row): HTTP 503",
        ),
        ({}, Outbox(failed=4, failed_recently=1), "1 alert(s) failed for good in the last 24h"),
        ({}, Outbox(pending=1, oldest_pending_at=NOW - timedelta(hours=2)), "waited 2h 00m"),
    ],
)
def test_trouble_while_running_is_degraded(
    tmp_path: Path, rows: dict[str, SourceRow], outbox: Outbox, reason: str
) -> None:
    health = assess(settings(tmp_path, "a"), Snapshot(beat(), rows, outbox), NOW)

    assert health.state is State.DEGRADED and health.state == 1
    assert health.running
    assert any(reason in r for r in health.reasons), health.reasons


def test_an_old_failed_alert_or_a_new_source_is_no_trouble(tmp_path: Path) -> None:
    # "b" was just added to the config and has not been fetched yet.
    snapshot = Snapshot(beat(), {"a": ok_row("a")}, Outbox(failed=7, failed_recently=0))

    health = assess(settings(tmp_path, "a", "b"), snapshot, NOW)

    assert health.state is State.OK
    assert [s.state for s in health.sources] == ["ok", "pending"]


def test_render_gives_one_fact_per_line_and_the_verdict_last(tmp_path: Path) -> None:
    rows = {"a": ok_row("a"), "b": SourceRow("b", NOW, "timed out after 20s", 2)}
    health = assess(settings(tmp_path, "a", "b"), Snapshot(beat(), rows, Outbox(3, 1)), NOW)

    lines = render(health)

    assert lines[0] == "daemon:     running, pid 1 on elsewhere.example, up 2h 00m (monitor 0.1.0)"
    assert "last cycle: 2026-11-26 11:59:20 UTC (40s ago)" in lines
    assert "rules:      3 loaded" in lines
    assert "sources:    1 ok, 1 failing" in lines
    assert "  b: 2 failure(s): timed out after 20s" in lines
    assert "outbox:     3 pending, 1 failed" in lines
    assert lines[-1].startswith("status:     degraded: source b failing")


# Against a real database ------------------------------------------------------


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "rules").mkdir()
    path = tmp_path / "monitor.toml"
    path.write_text(
        'database = "monitor.db"\nrules = "rules"\n'
        '[[sources]]\nname = "world"\nurl = "https://example.org/world.xml"\n'
    )
    return path


@pytest.fixture
def conn(config: Path) -> Iterator[sqlite3.Connection]:
    Store.open(config.parent / "monitor.db").close()  # the schema, by the real migrations
    connection = sqlite3.connect(config.parent / "monitor.db", isolation_level=None)
    yield connection
    connection.close()


def fetched(conn: sqlite3.Connection, name: str, error: str | None = None) -> None:
    conn.execute(
        "INSERT INTO sources (name, url, last_fetch_at, last_error, consecutive_failures) "
        "VALUES (?, ?, ?, ?, ?)",
        [name, f"https://example.org/{name}.xml", isoformat(NOW), error, 1 if error else 0],
    )


def status(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["status", "--config", str(config), *args])
    return result.exit_code, result.output


def test_status_of_a_healthy_daemon_exits_0(config: Path, conn: sqlite3.Connection) -> None:
    heartbeat.record_start(conn, config, sources=1, rules=4, interval=10)
    fetched(conn, "world")

    code, output = status(config)

    assert code == 0, output
    assert "daemon:     running, pid" in output
    assert "rules:      4 loaded" in output
    assert output.rstrip().endswith("status:     ok")


def test_status_of_a_degraded_daemon_exits_1_and_says_why(
    config: Path, conn: sqlite3.Connection
) -> None:
    heartbeat.record_start(conn, config, sources=1, rules=4, interval=10)
    fetched(conn, "world", error="HTTP 500 from https://example.org/world.xml")

    code, output = status(config, "--json")

    assert code == 1
    report = json.loads(output)
    assert report["status"] == "degraded"
    assert report["sources"][0]["error"] == "HTTP 500 from https://example.org/world.xml"


def test_status_after_a_clean_stop_exits_2(config: Path, conn: sqlite3.Connection) -> None:
    heartbeat.record_start(conn, config, sources=1, rules=4, interval=10)
    heartbeat.record_stop(conn)

    code, output = status(config)

    assert code == 2
    assert "daemon:     not running" in output
    assert "status:     down: stopped at" in output


def test_status_without_a_database_exits_2_and_creates_nothing(config: Path) -> None:
    code, output = status(config)

    assert code == 2
    assert "the daemon has never run with this config" in output
    assert list(config.parent.iterdir()) == [config.parent / "rules", config]


def test_status_reads_an_idle_database_without_leaving_files(
    config: Path, conn: sqlite3.Connection
) -> None:
    heartbeat.record_start(conn, config, sources=1, rules=4, interval=10)
    conn.close()  # the last connection: SQLite removes -wal and -shm
    before = sorted(p.name for p in config.parent.iterdir())

    status(config)

    # Files left by `sudo monitor status` would belong to root and lock the service out.
    assert sorted(p.name for p in config.parent.iterdir()) == before


def test_status_with_a_broken_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "monitor.toml"
    config.write_text("database = [\n")

    code, output = status(config)

    assert code == 2
    assert "error:" in output


def test_check_reads_an_unreadable_database_as_down(tmp_path: Path) -> None:
    (tmp_path / "monitor.db").write_text("not a database")

    health = check(settings(tmp_path))

    assert health.state is State.DOWN
    assert "cannot read database" in health.reasons[0]


def test_an_old_database_is_upgraded_in_place_with_the_heartbeat(config: Path) -> None:
    database = config.parent / "monitor.db"
    old = sqlite3.connect(database, isolation_level=None)
    MIGRATIONS[0](sqlite_utils.Database(old))  # as the first release left it
    old.execute("PRAGMA user_version = 1")
    old.execute("INSERT INTO sources (name, url) VALUES ('world', 'https://example.org/w.xml')")
    old.close()

    store = Store.open(database)
    try:
        heartbeat.record_start(store.conn, config, sources=1, rules=0, interval=10)
        kept = [row[0] for row in store.conn.execute("SELECT name FROM sources")]
        version = store.conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        store.close()

    assert kept == ["world"]
    assert version == len(MIGRATIONS)
    assert check(load_config(config)).beat is not None


# Config ----------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(text)
    return path


def test_health_table_and_log_level_are_read(tmp_path: Path) -> None:
    loaded = load_config(write(tmp_path, 'log_level = "debug"\n[health]\nlisten = "[::1]:9200"\n'))

    assert loaded.log_level == "debug"
    assert loaded.health == HealthConfig("::1", 9200)
    assert loaded.health.listen == "[::1]:9200"
    assert load_config(write(tmp_path, "[health]\n")).health == HealthConfig("127.0.0.1", 9108)
    assert load_config(write(tmp_path, "")).health is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[health]\nlisten = "9108"\n', "health.listen: '9108' is not an address and port"),
        ('[health]\nlisten = "localhost:http"\n', "health.listen"),
        ('[health]\nlistn = "127.0.0.1:1"\n', "did you mean 'listen'?"),
        ('log_level = "loud"\n', "log_level: 'loud' is not one of debug, info, warning, error"),
        ('log_levle = "info"\n', "did you mean 'log_level'?"),
    ],
)
def test_bad_health_or_log_level_names_the_key(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert message in str(caught.value)


# Metrics and the endpoint ------------------------------------------------------


def test_metrics_count_the_events() -> None:
    metrics = Metrics()

    metrics.observe("fetched", {"source": "world", "items": 9, "new": 2, "hits": 1})
    metrics.observe("fetch_failed", {"source": "slow", "reason": "timed out"})
    metrics.observe("hit", {"rule": "syria", "source": "world"})
    metrics.observe("alert_sent", {"channel": "slack"})
    metrics.observe("delivery_failed", {"channel": "email"})
    metrics.observe("something_else", {})
    metrics.poll_done("world", 0.3, ok=True)
    metrics.loaded(sources=2, rules=5)
    text = metrics.render().decode()

    for sample in (
        'monitor_stories_fetched_total{source="world"} 9.0',
        'monitor_stories_new_total{source="world"} 2.0',
        'monitor_fetch_errors_total{source="slow"} 1.0',
        'monitor_hits_total{rule="syria"} 1.0',
        'monitor_alerts_sent_total{channel="slack"} 1.0',
        'monitor_alerts_failed_total{channel="email"} 1.0',
        'monitor_fetch_duration_seconds_bucket{le="0.5",source="world"} 1.0',
        "monitor_rules_loaded 5.0",
        "monitor_sources 2.0",
        'monitor_build_info{version="0.1.0"} 1.0',
    ):
        assert sample in text
    assert "monitor_last_success_timestamp_seconds 0.0" not in text


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[httpx.Client, list[Health]]]:
    verdicts = [Health(State.OK, (), True, "monitor.db", "monitor.toml")]
    endpoint = Endpoint(HealthConfig("127.0.0.1", 0), lambda: verdicts[0], lambda: b"up 1\n")
    endpoint.start()
    with httpx.Client(base_url=f"http://{endpoint.address}", trust_env=False) as client:
        yield client, verdicts
    endpoint.close()


def test_healthz_is_200_until_down(served: tuple[httpx.Client, list[Health]]) -> None:
    client, verdicts = served

    ok = client.get("/healthz")
    verdicts[0] = Health(State.DEGRADED, ("source a failing",), True, "db", "toml")
    degraded = client.get("/healthz")
    verdicts[0] = Health(State.DOWN, ("no heartbeat for 40s",), False, "db", "toml")
    down = client.get("/healthz")

    assert (ok.status_code, ok.json()["status"]) == (200, "ok")
    assert (degraded.status_code, degraded.json()["reasons"]) == (200, ["source a failing"])
    assert (down.status_code, down.json()["status"]) == (503, "down")


def test_metrics_path_serves_the_prometheus_text(served: tuple[httpx.Client, list[Health]]) -> None:
    client, _ = served

    response = client.get("/metrics")

    assert response.status_code == 200
    assert response.text == "up 1\n"
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert client.get("/").status_code == 404


def test_a_taken_port_is_a_config_error_naming_the_key() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as caught:
            Endpoint(HealthConfig("127.0.0.1", port), lambda: None, lambda: b"")  # type: ignore[arg-type,return-value]
    assert f"health.listen: cannot listen on 127.0.0.1:{port}" in str(caught.value)


# Logs ------------------------------------------------------------------------


def test_key_value_lines_hide_registered_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure("info", "keyvalue")
    redact(["xoxb-redacted-in-logs-1234", "abc"])  # too short to hide safely: ignored

    event("delivery_failed", logging.WARNING, reason="token xoxb-redacted-in-logs-1234 refused")
    logging.getLogger("slack_sdk").warning("sending to xoxb-redacted-in-logs-1234")
    logging.getLogger("httpx").info("HTTP Request: GET https://example.org/feed")

    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert 'level=warning event=delivery_failed reason="token *** refused"' in lines[0]
    assert 'event=log logger=slack_sdk message="sending to ***"' in lines[1]


def test_a_longer_secret_is_hidden_whole_and_values_are_quoted_when_needed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure("info", "keyvalue")
    redact(["hooks-secret-part"])
    redact(["https://hooks.example.org/hooks-secret-part/more"])  # added later, yet first

    event("sent", url="https://hooks.example.org/hooks-secret-part/more", note="a=b", empty="")

    (line,) = capsys.readouterr().err.splitlines()
    assert line.endswith(' level=info event=sent url=*** note="a=b" empty=""')


def test_each_line_carries_its_own_second(capsys: pytest.CaptureFixture[str]) -> None:
    configure("info", "keyvalue")
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "monitor-stderr")
    for created in (1764115200.2, 1764115200.9, 1764115261.5, 1764115200.0):
        record = logging.makeLogRecord({"msg": "tick", "created": created, "fields": {}})
        handler.emit(record)

    stamps = [line.split()[0] for line in capsys.readouterr().err.splitlines()]
    assert stamps == [
        "2025-11-26T00:00:00Z",
        "2025-11-26T00:00:00Z",
        "2025-11-26T00:01:01Z",
        "2025-11-26T00:00:00Z",
    ]


def test_json_lines_parse_and_respect_the_level(capsys: pytest.CaptureFixture[str]) -> None:
    configure("warning", "json")

    event("fetched", source="world", new=3)
    event("fetch_failed", logging.WARNING, source="world", reason="HTTP 500")

    (line,) = capsys.readouterr().err.splitlines()
    record = json.loads(line)
    assert record["event"] == "fetch_failed" and record["level"] == "warning"
    assert (record["source"], record["reason"]) == ("world", "HTTP 500")
    configure()
