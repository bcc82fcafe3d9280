"""Latencies over the last minute, for `/health`: p50 and p99 of what a caller waited.

Counters since start hide a bad minute; a sliding window says how the worker serves now.
Written by a model's thread, read by the event loop: a lock keeps the two apart.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque

WINDOW_S = 60.0


class LatencyWindow:
    """Samples (in seconds) of the last `window_s`; quantiles in milliseconds."""

    def __init__(self, window_s: float = WINDOW_S):
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._samples.append((now, seconds))
            self._prune(now)

    def values(self) -> list[float]:
        with self._lock:
            self._prune(time.monotonic())
            return [value for _, value in self._samples]

    def summary(self, name: str) -> dict[str, float | int | None]:
        """`{name}_p50_ms`, `{name}_p99_ms` and `{name}_count` over the window (None when empty)."""
        values = sorted(self.values())
        return {
            f"{name}_p50_ms": _quantile_ms(values, 0.50),
            f"{name}_p99_ms": _quantile_ms(values, 0.99),
            f"{name}_count": len(values),
        }

    def _prune(self, now: float) -> None:
        while self._samples and self._samples[0][0] < now - self.window_s:
            self._samples.popleft()


def _quantile_ms(ordered: list[float], q: float) -> float | None:
    """The nearest-rank quantile: the smallest sample with at least q of them at or below it."""
    if not ordered:
        return None
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 1)
