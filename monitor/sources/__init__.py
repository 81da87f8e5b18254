"""Sources: fetch bytes politely (http.py), read them into Stories (one module per kind).

::

    http.py      the shared client pool: limits, politeness, conditional GET, size cap
    fetch.py     one fetch of one source, whatever its kind (sniff.py reads the kind)
    feed.py      RSS and Atom (fastfeed.py: the lxml fast path; feedparser otherwise)
    jsonfeed.py  JSON Feed 1.0/1.1
    sitemap.py   news sitemaps and sitemap indexes
    page.py      a section front's article links
    fulltext.py  article text for new stories (robots.py, monitor/extract.py)
    health.py    backoff and stale-source alerts
"""

from monitor.sources.base import FetchResult, SourceState
from monitor.sources.fetch import fetch_source

__all__ = ["FetchResult", "SourceState", "fetch_source"]
