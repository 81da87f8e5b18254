"""config.example.toml shows every key the config accepts, each with its default, and loads.

The keys come from config.py's own table (``KEYS``), so a key added there and
not here fails a test. "Every key" counts commented ones: uncommenting each
``# key = value`` and ``# [table]`` line gives a config that must load too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from monitor.config import KEYS, Settings, load_config
from monitor.errors import ConfigError
from monitor.tomlkeys import Path as KeyPath
from monitor.tomlkeys import locate

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
#: Dummy values for the example's ${VAR}s.
ENVIRON = {
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/dummy",
    "SLACK_BOT_TOKEN": "xoxb-dummy",
    "SMTP_PASSWORD": "dummy",
}
#: A commented-out key or table header, at the start of a line.
COMMENTED = re.compile(r"^# ?(?=\[|[a-z_]+ = )", re.MULTILINE)
#: How a line says that its value is not the default.
SAYS_DEFAULT = re.compile(r"\bno default\b|\bdefault: ")


def uncommented() -> str:
    return COMMENTED.sub("", EXAMPLE.read_text(encoding="utf-8"))


def write(folder: Path, text: str) -> Path:
    path = folder / "monitor.toml"
    path.write_text(text, encoding="utf-8")
    return path


def first_path(located: dict[KeyPath, tuple[int, int]], table: str, key: str) -> KeyPath | None:
    """Where ``key`` of ``table`` first appears (in [[sources]], in any of them)."""
    prefix = tuple(table.split(".")) if table else ()
    for path in located:
        rest = path[len(prefix) :]
        if path[: len(prefix)] != prefix:
            continue
        if rest == (key,) or (table == "sources" and len(rest) == 2 and rest[1] == key):
            return path
    return None


ACCEPTED = sorted((table, key) for table, keys in KEYS.items() for key in keys)


def test_the_example_loads_cleanly() -> None:
    settings = load_config(EXAMPLE, environ=ENVIRON)

    assert settings.slack is not None and settings.email is not None
    assert [source.name for source in settings.sources] == ["world", "local-archive"]


def test_the_example_with_every_commented_key_uncommented_loads(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, uncommented()), environ=ENVIRON)

    assert settings.health is not None and settings.delivery.quiet_hours is not None


def test_the_example_needs_its_secrets_only_to_send() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(EXAMPLE, environ={})

    assert (
        "notify.slack.webhook_url: environment variable SLACK_WEBHOOK_URL" in caught.value.message
    )
    assert "notify.email.password: environment variable SMTP_PASSWORD" in caught.value.message
    assert load_config(EXAMPLE, environ={}, sending=False).database.name == "monitor.db"


@pytest.mark.parametrize(("table", "key"), ACCEPTED, ids=[f"{t or '-'}.{k}" for t, k in ACCEPTED])
def test_every_accepted_key_is_in_the_example(table: str, key: str) -> None:
    located = locate(uncommented()).keys

    assert first_path(located, table, key) is not None, (
        f"config.py accepts {table + '.' if table else ''}{key} "
        "but config.example.toml does not show it"
    )


def load_without_line(folder: Path, text: str, line: int, key: str) -> Settings | None:
    lines = text.splitlines(keepends=True)
    del lines[line - 1]
    try:
        return load_config(write(folder, "".join(lines)), environ=ENVIRON)
    except ConfigError as error:
        assert f"{key}: " in error.message  # the key is needed, not the TOML broken
        return None


#: The keys with a value of their own (not tables, which show as [table] headers).
SHOWN = [(t, k) for t, k in ACCEPTED if f"{t}.{k}".lstrip(".") not in KEYS]


@pytest.mark.parametrize(("table", "key"), SHOWN, ids=[f"{t or '-'}.{k}" for t, k in SHOWN])
def test_each_value_shown_is_the_default_or_says_which_is(
    tmp_path: Path, table: str, key: str
) -> None:
    text = uncommented()
    located = locate(text).keys
    path = first_path(located, table, key)
    assert path is not None
    line = located[path][0]
    shown = load_config(write(tmp_path, text), environ=ENVIRON)
    left_out = load_without_line(tmp_path, text, line, key)
    if left_out is None or left_out == shown:
        return  # what the example shows is what the key takes when left out (or it is required)
    lines = text.splitlines()
    said = [lines[line - 1]]
    if line < len(lines) and lines[line].startswith(" ") and lines[line].lstrip().startswith("#"):
        said.append(lines[line])  # an indented comment line goes on with the key's comment
    assert any(SAYS_DEFAULT.search(part) for part in said), (
        f"config.example.toml line {line}: {lines[line - 1]!r} is not the default; "
        "say which is (`default: ...`, or `no default`)"
    )
