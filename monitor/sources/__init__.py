"""Sources: fetch bytes politely (http.py), parse them into Stories (feed.py)."""

from monitor.sources.feed import FetchResult, SourceState, fetch_source

__all__ = ["FetchResult", "SourceState", "fetch_source"]
