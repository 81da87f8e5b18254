"""monitor: a media-monitoring alerting daemon.

Stories flow one way: sources -> stories -> matching -> store -> notify.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
