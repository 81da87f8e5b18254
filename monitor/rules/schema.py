"""The JSON Schema (draft 2020-12) of rule and dictionary files, for editors.

Editors use it for completion, hover help and squiggles while an analyst types;
the loader stays the authority, since some checks (a regex RE2 accepts, a query
that parses, a dictionary name that exists) need more than a schema can say.
The schema ships as package data (``schema.json`` beside this module) so that
``monitor schema`` works from an installed wheel, not only from a checkout.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

__all__ = ["load_schema", "schema_text"]

_RESOURCE = "schema.json"


def schema_text() -> str:
    """The schema as shipped: pretty-printed JSON ending in a newline."""
    return files("monitor.rules").joinpath(_RESOURCE).read_text(encoding="utf-8")


def load_schema() -> dict[str, Any]:
    """The schema as a JSON object."""
    schema: dict[str, Any] = json.loads(schema_text())
    return schema
