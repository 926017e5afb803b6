"""A minimal text progress bar on stderr, updated between compiled chunks of a long run."""

from __future__ import annotations

import sys
import time


class ProgressBar:
    """``desc |█████·····| done/total [elapsed<remaining] note``, redrawn in place."""

    def __init__(self, total: int, desc: str, enabled: bool = True, width: int = 30):
        self.total, self.desc, self.enabled, self.width = total, desc, enabled, width
        self.start = time.perf_counter()
        self._width_shown = 0
        self._first = self._shown = 0
        self.update(0)

    def resumed(self, done: int) -> None:
        """A resumed run: ``done`` units were done before this call. Shown at once, and left out
        of the estimate of the remaining time (the rate of this call's own units). Ignored once
        the bar has shown progress (a later restart of the same run)."""
        if self._shown == self._first:
            self._first = done
            self.start = time.perf_counter()
            self.update(done)

    def update(self, done: int, note: str = "") -> None:
        """Show ``done`` of ``total`` units, with an optional note (e.g. the current loss)."""
        if not self.enabled:
            return
        self._shown = done
        elapsed = time.perf_counter() - self.start
        fraction = min(done / self.total, 1.0) if self.total else 1.0
        ran = done - self._first  # units of this call: t_left = t · (total − done) / ran
        left = max(self.total - done, 0)
        remaining = f"{elapsed * left / ran:.1f}s" if ran > 0 else "?"
        filled = int(round(self.width * fraction))
        bar = "█" * filled + "·" * (self.width - filled)
        line = f"{self.desc} |{bar}| {done}/{self.total} [{elapsed:.1f}s<{remaining}] {note}"
        sys.stderr.write("\r" + line.ljust(self._width_shown))
        self._width_shown = len(line)
        sys.stderr.flush()

    def close(self) -> None:
        """End the line."""
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()
