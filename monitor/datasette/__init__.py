"""`monitor ui`: Datasette on the hit history, with our metadata and canned queries.

``metadata.json`` beside this file describes the tables and holds the canned
queries (latest hits, hits by rule, failed deliveries). Datasette keys it by
the database's file name, so ``monitor ui`` rewrites that key for the
configured database; by hand, ``datasette monitor.db -m metadata.json`` works
when the file is called ``monitor.db``. Datasette reads through ``mode=ro``
connections, so the UI cannot change the history.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from monitor.errors import MonitorError

#: The database name metadata.json is written for.
METADATA_DATABASE = "monitor"


def metadata_text() -> str:
    return (resources.files(__package__) / "metadata.json").read_text(encoding="utf-8")


def metadata_for(database: Path) -> dict[str, Any]:
    """Our metadata, keyed by the name Datasette will give ``database`` (its file stem)."""
    metadata: dict[str, Any] = json.loads(metadata_text())
    metadata["databases"] = {database.stem: metadata["databases"][METADATA_DATABASE]}
    return metadata


def serve_command(
    database: Path, metadata: Path, host: str, port: int, open_browser: bool = False
) -> list[str]:
    """The ``datasette serve`` command line for ``database``, read-only."""
    if importlib.util.find_spec("datasette") is None:
        raise MonitorError(
            "Datasette is not installed",
            hint="install the extra: pip install 'monitor[ui]' (or pip install datasette)",
        )
    if not database.exists():
        raise MonitorError(
            f"database {str(database)!r} does not exist yet",
            hint="run the daemon first (monitor run --once), or check `database` in the config",
        )
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(database),
        "--metadata",
        str(metadata),
        "--host",
        host,
        "--port",
        str(port),
    ]
    return [*command, "--open"] if open_browser else command
