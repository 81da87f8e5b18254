"""Notice rule-file edits, and wait for an editor's save burst to settle.

Polling the folder's listing (names, sizes, modification times) once a
second needs no extra dependency, works on every filesystem (network mounts
and containers included, where inotify often does not), and costs one stat
per file. Editors save in bursts (a temporary file, a rename, a chmod), so a
change is only reported once the folder has looked the same for ``settle``
seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

Signature = tuple[tuple[str, int, int], ...]


def signature(folder: Path) -> Signature:
    """What the rule files in ``folder`` look like now (empty when it is missing)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return ()
    found = []
    for entry in entries:
        if not entry.name.endswith((".yaml", ".yml")) or entry.name.startswith("."):
            continue
        try:
            stat = entry.stat()
        except OSError:
            continue  # removed between the listing and the stat
        found.append((entry.name, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


class RuleWatcher:
    """Reports a settled change of the rule folder, once per change."""

    def __init__(self, folder: Path, settle: float = 1.0) -> None:
        self.settle = settle
        self.folder = folder
        self._loaded: Signature = ()
        self._last: Signature = ()
        self._since = 0.0
        self.reset(folder)

    def poll(self, now: float) -> bool:
        """True when the folder changed and has been still for ``settle`` seconds."""
        current = signature(self.folder)
        if current != self._last:
            self._last, self._since = current, now
            return False
        if current != self._loaded and now - self._since >= self.settle:
            self._loaded = current
            return True
        return False

    def reset(self, folder: Path, loaded: Signature | None = None) -> None:
        """Take ``folder`` as loaded (at start, and after any reload).

        ``loaded`` is how the folder looked when the reload read it (default:
        now); a reload that read it a moment ago passes it, so an edit saved
        meanwhile still counts as a change.
        """
        self.folder = folder
        self._loaded = self._last = signature(folder) if loaded is None else loaded
        self._since = 0.0
