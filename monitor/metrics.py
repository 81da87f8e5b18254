"""Prometheus metrics, counted from the daemon's own events.

``Metrics.observe`` is subscribed to the event stream (see log.py), so the
counters move exactly when a ``fetched``, ``fetch_failed``, ``hit``,
``alert_sent`` or ``delivery_failed`` line is logged; the daemon adds what no
event carries (poll duration, outbox depth, what is loaded). Each Metrics has
its own registry: nothing is registered at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

from monitor import __version__

_POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)


class Metrics:
    """The daemon's metrics; ``render()`` is the body of ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.stories_fetched = Counter(
            "monitor_stories_fetched", "Items read from each source's feed.", ["source"], registry=r
        )
        self.stories_new = Counter(
            "monitor_stories_new", "New stories stored from each source.", ["source"], registry=r
        )
        self.fetch_errors = Counter(
            "monitor_fetch_errors", "Failed fetches of each source.", ["source"], registry=r
        )
        self.poll_seconds = Histogram(
            "monitor_fetch_duration_seconds",
            "Time to fetch, parse, match and store one source.",
            ["source"],
            buckets=_POLL_BUCKETS,
            registry=r,
        )
        self.hits = Counter("monitor_hits", "Hits recorded for each rule.", ["rule"], registry=r)
        self.alerts_sent = Counter(
            "monitor_alerts_sent", "Alerts delivered on each channel.", ["channel"], registry=r
        )
        self.alerts_failed = Counter(
            "monitor_alerts_failed",
            "Failed delivery attempts on each channel (retried or not).",
            ["channel"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "monitor_outbox_pending", "Alerts waiting in the outbox.", registry=r
        )
        self.last_success = Gauge(
            "monitor_last_success_timestamp_seconds",
            "Unix time of the last successful poll of any source.",
            registry=r,
        )
        self.rules_loaded = Gauge("monitor_rules_loaded", "Rules the daemon runs with.", registry=r)
        self.sources = Gauge("monitor_sources", "Sources the daemon polls.", registry=r)
        Info("monitor_build", "The running monitor's version.", registry=r).info(
            {"version": __version__}
        )

    def observe(self, name: str, fields: Mapping[str, Any]) -> None:
        """Count one event (the log.py listener)."""
        if name == "fetched":
            source = str(fields.get("source", ""))
            self.stories_fetched.labels(source).inc(int(fields.get("items", 0)))
            self.stories_new.labels(source).inc(int(fields.get("new", 0)))
        elif name == "fetch_failed":
            self.fetch_errors.labels(str(fields.get("source", ""))).inc()
        elif name == "hit":
            self.hits.labels(str(fields.get("rule", ""))).inc()
        elif name == "alert_sent":
            self.alerts_sent.labels(str(fields.get("channel", ""))).inc()
        elif name == "delivery_failed":
            self.alerts_failed.labels(str(fields.get("channel", ""))).inc()

    def poll_done(self, source: str, seconds: float, ok: bool) -> None:
        self.poll_seconds.labels(source).observe(seconds)
        if ok:
            self.last_success.set_to_current_time()

    def loaded(self, sources: int, rules: int) -> None:
        self.sources.set(sources)
        self.rules_loaded.set(rules)

    def render(self) -> bytes:
        return generate_latest(self.registry)
