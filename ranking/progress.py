"""A progress bar on stderr: tqdm when it is installed, a tiny fallback when not."""

from __future__ import annotations

import sys
import time
from typing import Any


class Progress:
    """``with Progress(total, "bootstrap", enabled) as bar: bar.update(n)``.

    Disabled bars cost nothing, so library code can always call ``update``.
    """

    def __init__(self, total: float | None, desc: str, enabled: bool) -> None:
        self.total, self.desc, self.enabled = total, desc, enabled
        self.done = 0.0
        self._bar: Any = None
        self._last = 0.0

    def __enter__(self) -> Progress:
        if self.enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                self._bar = None
            else:
                self._bar = tqdm(total=self.total, desc=self.desc, file=sys.stderr, leave=False, dynamic_ncols=True)
        return self

    def update(self, n: float = 1) -> None:
        if not self.enabled:
            return
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._last < 0.2:
            return
        self._last = now
        if self.total:
            frac = min(self.done / self.total, 1.0)
            filled = int(30 * frac)
            sys.stderr.write(f"\r{self.desc} [{'#' * filled}{'.' * (30 - filled)}] {frac:4.0%}")
        else:
            sys.stderr.write(f"\r{self.desc} {self.done:,.0f}")
        sys.stderr.flush()

    def __exit__(self, *exc: object) -> None:
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            sys.stderr.write("\r" + " " * 50 + "\r")
            sys.stderr.flush()
