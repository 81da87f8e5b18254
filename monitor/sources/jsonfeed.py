"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) -> Stories."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitor.errors import SourceError
from monitor.models import Story
from monitor.sources.base import MAX_ITEMS, language_code, make_story


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # ids are strings by the spec, but numbers are common
    return ""


def parse(source: str, data: bytes, url: str, fetched_at: datetime) -> tuple[Story, ...]:
    """A JSON Feed's items as stories; anything else JSON is a SourceError."""
    try:
        document = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SourceError(source, f"not a JSON Feed (invalid JSON: {exc})") from None
    version = _string(document.get("version")) if isinstance(document, dict) else ""
    items = document.get("items") if isinstance(document, dict) else None
    if not version.startswith("https://jsonfeed.org/version/") or not isinstance(items, list):
        raise SourceError(
            source, "not a JSON Feed (no jsonfeed.org version and items list at the top level)"
        )
    language = language_code(document.get("language"))
    stories = []
    for item in items[:MAX_ITEMS]:
        if not isinstance(item, dict):
            continue
        content = _string(item.get("content_html")) or _string(item.get("content_text"))
        summary = _string(item.get("summary"))
        if not summary:
            summary, content = content, ""
        stories.append(
            make_story(
                source,
                fetched_at,
                base_url=url,
                url=_string(item.get("url")) or _string(item.get("external_url")),
                guid=_string(item.get("id")),
                title=_string(item.get("title")),
                summary=summary,
                body=content if content != summary else "",
                date=_string(item.get("date_published")) or _string(item.get("date_modified")),
                language=language_code(item.get("language")) or language,
            )
        )
    return tuple(stories)
