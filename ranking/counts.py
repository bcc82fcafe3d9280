"""Sufficient statistics: votes -> counts per (model_a, model_b, outcome[, group][, voter]).

Bradley-Terry, Davidson, the sandwich and the cell bootstrap depend on the votes only
through these counts, so after this step every cost grows with the number of cells
(at most 4·M² per group, times the voters for the cluster bootstrap), never with the
number of votes. Batches are reduced as they arrive and merged now and then, so a
streamed file needs memory for cells, not votes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from math import prod

import numpy as np

from .errors import RankingError
from .io import Batch, VoteStream
from .progress import Progress

_DENSE_LIMIT = 1 << 23  # bincount over the full key space when it is at most this big


@dataclass(frozen=True)
class Counts:
    """Vote counts per cell; model codes index ``models`` (sorted names).

    ``n`` is the number of votes in a cell, ``w`` the sum of their weights (None when
    the votes carry no weights). ``voter`` and ``group`` are codes into ``voters`` and
    ``groups`` when those columns were read.
    """

    models: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    outcome: np.ndarray
    n: np.ndarray
    w: np.ndarray | None = None
    voter: np.ndarray | None = None
    n_voters: int = 0
    group: np.ndarray | None = None
    groups: tuple[object, ...] = ()
    skipped: dict[str, int] = field(default_factory=dict)
    """Rows of the source skipped (or left out) by reason: see :mod:`ranking.skipped`."""

    @property
    def n_votes(self) -> float:
        return float(self.n.sum())


def reduce_cells(
    keys: list[np.ndarray], sizes: list[int], n: np.ndarray | None, w: np.ndarray | None
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None]:
    """Sum ``n`` (and ``w``) over identical key tuples; each key k lies in [0, sizes[k]).

    Packs the tuple into one int64 (mixed radix) and uses ``bincount`` when the key
    space is small, ``np.unique`` otherwise: both O(rows), no Python loop.
    """
    rows = len(keys[0])
    ones = n is None
    space = prod(max(s, 1) for s in sizes)
    if space < 2**62:
        flat = keys[0].astype(np.int64)
        for key, size in zip(keys[1:], sizes[1:], strict=True):  # mixed radix, no bounds checks
            flat *= max(size, 1)
            flat += key
        if space <= max(_DENSE_LIMIT, 2 * rows) and space <= 8 * _DENSE_LIMIT:
            nsum = np.bincount(flat, weights=n, minlength=space)
            cells = np.flatnonzero(nsum)
            wsum = np.bincount(flat, weights=w, minlength=space)[cells] if w is not None else None
            out = np.unravel_index(cells, [max(s, 1) for s in sizes])
            nsum = nsum[cells].astype(np.float64)
        else:
            cells, inv = np.unique(flat, return_inverse=True)
            nsum = np.bincount(inv, weights=n).astype(np.float64)
            wsum = np.bincount(inv, weights=w) if w is not None else None
            out = np.unravel_index(cells, [max(s, 1) for s in sizes])
    else:
        uniq, inv = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
        inv = inv.ravel()
        nsum = np.bincount(inv, weights=n).astype(np.float64)
        wsum = np.bincount(inv, weights=w) if w is not None else None
        out = tuple(uniq.T)
    if not ones:
        keep = nsum > 0
        if not keep.all():
            out = tuple(o[keep] for o in out)
            nsum = nsum[keep]
            wsum = wsum[keep] if wsum is not None else None
    return [np.asarray(o, dtype=np.int64) for o in out], nsum, wsum


class _Accumulator:
    """Reduced cells of the batches seen so far, merged when they pile up."""

    def __init__(self, has_w: bool, extra: list[str]) -> None:
        self.parts: list[tuple[list[np.ndarray], np.ndarray, np.ndarray | None]] = []
        self.pending = 0
        self.merged = 0
        self.has_w, self.extra = has_w, extra

    def add(self, keys: list[np.ndarray], n: np.ndarray, w: np.ndarray | None, sizes: list[int]) -> None:
        self.parts.append((keys, n, w))
        self.pending += len(n)
        if self.pending > 4 * self.merged + (1 << 20):
            self.merge(sizes)

    def merge(self, sizes: list[int]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray | None]:
        keys = [np.concatenate([p[0][k] for p in self.parts]) for k in range(len(sizes))]
        n = np.concatenate([p[1] for p in self.parts])
        w = np.concatenate([p[2] for p in self.parts]) if self.has_w else None
        merged = reduce_cells(keys, sizes, n, w)
        self.parts = [merged]
        self.merged = self.pending = len(merged[1])
        return merged


def aggregate(src: VoteStream, *, progress: bool = False, timings: dict[str, float] | None = None) -> Counts:
    """Read every batch of ``src`` and reduce it to :class:`Counts`.

    ``timings`` (if given) receives the seconds spent reading (``read``) and counting
    (``aggregate``), which the benchmark reports separately.
    """
    cols = src.columns
    extra = [r for r in ("group", "voter") if getattr(cols, r) is not None]
    acc = _Accumulator(cols.weight is not None, extra)
    t_read = t_agg = 0.0
    seen = 0.0
    with Progress(src.total_rows, "reading votes", progress) as bar:
        it = iter(src.batches)
        while True:
            t0 = time.perf_counter()
            batch: Batch | None = next(it, None)
            t1 = time.perf_counter()
            t_read += t1 - t0
            if batch is None:
                break
            bar.update(len(batch.a) if batch.rows < 0 else batch.rows)
            if len(batch.a) == 0:
                continue
            keys = [batch.a, batch.b, batch.winner.astype(np.int64)]
            sizes = [len(src.models.values)] * 2 + [4]
            if batch.group is not None:
                keys.append(batch.group)
                sizes.append(len(src.groups.values))
            if batch.voter is not None:
                keys.append(batch.voter)
                sizes.append(len(src.voters.values))
            n = batch.count
            w = None
            if batch.weight is not None:
                w = batch.weight * (n if n is not None else 1.0)
                if n is None:
                    n = np.ones(len(batch.a))
            cells = reduce_cells(keys, sizes, n, w)
            acc.add(*cells, sizes)
            seen += len(batch.a)
            t_agg += time.perf_counter() - t1
    t0 = time.perf_counter()
    if not acc.parts:
        raise src.no_votes_left()
    sizes = [len(src.models.values)] * 2 + [4]
    sizes += [len(src.groups.values)] if cols.group else []
    sizes += [len(src.voters.values)] if cols.voter else []
    keys, n, w = acc.merge(sizes)
    if n.sum() <= 0:
        raise RankingError("no votes: every count is zero")
    counts = _relabel(src, keys, n, w, cols.group is not None, cols.voter is not None)
    if timings is not None:
        timings["read"] = timings.get("read", 0.0) + t_read
        timings["aggregate"] = timings.get("aggregate", 0.0) + t_agg + time.perf_counter() - t0
    return counts


def _relabel(
    src: VoteStream, keys: list[np.ndarray], n: np.ndarray, w: np.ndarray | None, has_group: bool, has_voter: bool
) -> Counts:
    """Renumber models by sorted name, keeping only models that occur in some vote."""
    a, b, o = keys[:3]
    used = np.unique(np.concatenate([a, b]))
    names = [str(src.models.values[k]) for k in used]
    if len(set(names)) < len(names):
        raise RankingError("two model labels differ only in type (e.g. 1 and '1')")
    order = np.argsort(names, kind="stable")
    lut = np.full(len(src.models.values), -1, dtype=np.int64)
    lut[used[order]] = np.arange(len(used))
    if len(used) < 2:
        raise RankingError(f"only one model ({names[0]}): nothing to rank")
    k = 3
    group = voter = None
    if has_group:
        group, k = keys[k], k + 1
    if has_voter:
        voter = keys[k]
    return Counts(
        models=tuple(names[i] for i in order),
        a=lut[a],
        b=lut[b],
        outcome=o.astype(np.int8),
        n=n,
        w=w,
        voter=voter,
        n_voters=len(src.voters.values),
        group=group,
        groups=tuple(src.groups.values),
        skipped={k: v for k, v in src.skipped.items() if v},
    )
