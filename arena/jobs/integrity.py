"""The integrity job: fraud scans in a background thread, after votes, at most every `audit_every_s`.

Recorded votes (an event on the store's bus) mark a scan as due; the thread runs it
once `audit_every_s` has passed since the previous one (and since start), so a burst
of votes costs one scan and a vote never waits for one. Each pass, due or not, also
re-reads the banned voters (other replicas' bans) and compares the votes table's
fingerprint, which catches votes written by another process.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import pandas as pd

from arena.services.integrity import Detection, Integrity, ScanResult, detect
from arena.services.leaderboards import votes_fingerprint
from arena.settings import Settings
from arena.store.events import Event, VotesRecorded

log = logging.getLogger("arena.jobs.integrity")


class IntegrityJob:
    def __init__(self, integrity: Integrity, settings: Settings):
        self.integrity = integrity
        self.settings = settings
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._due = True  # votes may have come in while no process was watching: one scan after start
        self._thread: threading.Thread | None = None
        self._fingerprint: tuple[int, ...] | None = None
        self._pool: ProcessPoolExecutor | None = None
        integrity.store.events.subscribe(self.on_event)

    def on_event(self, event: Event) -> None:
        if isinstance(event, VotesRecorded):
            self._due = True
            self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            # The audit is CPU-bound Python and numpy (about 3 s per 100k votes): in a process of
            # its own it never takes the GIL from the request handlers.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
            self._thread = threading.Thread(target=self._loop, name="integrity-job", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _detect(self, votes: pd.DataFrame, alpha: float) -> Detection:
        if self._pool is None:
            return detect(votes, alpha)
        return self._pool.submit(detect, votes, alpha).result()

    def run_once(self) -> ScanResult | None:
        """One pass: refresh the banned voters; scan if votes came in (here or elsewhere)."""
        self.integrity.refresh()
        store = self.integrity.store
        fingerprint = votes_fingerprint(store)
        if not self._due and fingerprint == self._fingerprint:
            return None
        self._due = False
        result = self.integrity.scan(self._detect)
        self._fingerprint = votes_fingerprint(store)  # after the scan's own invalidations
        return result

    def _loop(self) -> None:
        every = max(self.settings.audit_every_s, 0.1)
        last = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(every)
            wait = last + every - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            if self._stop.is_set():
                return
            self._wake.clear()
            try:
                self.run_once()
            except Exception:  # keep the last flags; try again next time
                log.exception("fraud scan failed")
            last = time.monotonic()
