"""Test martingales by betting, vectorised over many (unit, component) sequences.

A *unit* is a voter (or a group of voters, pooled); a *component* is one hypothesis
about it (e.g. "favours model m"). Each event is one vote of the unit that bears on
the component, with a normalised *edge* ``x`` >= -1 whose conditional mean under the
null is <= 0 (the consensus board predicts it). Betting a fraction ``f`` of the wealth
multiplies it by ``1 + f·x``: a nonnegative supermartingale under the null for every
``f`` in [0, 1), so the average over a fixed grid of fractions is one too (a mixture
e-process; no fitted bet, hence no look-ahead). Ville's inequality bounds the chance
that its running maximum ever reaches ``1/a`` by ``a``: the test is valid under
continuous monitoring, whatever the stopping rule.

Two-sided components carry two edges per event (one per direction); the mixture runs
over both. *Decay* components test where the unit's votes fall (selection): an event
is a vote that hits the component (edge ``(1-p)/p`` with p the population's hit
share), and every vote that misses multiplies the wealth by ``1 - f`` (the bet on a hit
is lost); the wealth is largest right after a hit, so the running maximum is read at
hits only.

Everything is computed in log space, sorted by (unit, component, step) and summed with
one cumulative sum; memory is bounded by processing whole segments in slices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

GRID: Floats = np.array([0.01, 0.02, 0.04, 0.08, 0.15, 0.25, 0.4, 0.6, 0.85])
"""Betting fractions mixed with equal weight: small ones accumulate weak evidence over
hundreds of votes, large ones catch a blatant voter in a handful."""
LOG_MISS: Floats = np.log1p(-GRID)
CAP = 700.0  # exp() clip: log wealth above this is reported as 700 nats
SLICE_EVENTS = 1 << 19  # events per slice: bounds memory at ~ SLICE·sides·len(GRID) floats


@dataclass
class Events:
    """One family's events (any order); ``edges`` is (E, 1) or (E, 2) for two-sided tests.

    ``stat`` and ``mean`` are the observed statistic and its null mean (for the reasons
    shown to people; the test uses ``edges``). ``decay``: misses cost ``1 - f``.
    """

    unit: Ints
    comp: Ints
    step: Ints
    edges: Floats
    stat: Floats
    mean: Floats
    decay: bool = False

    def __len__(self) -> int:
        return len(self.unit)

    def subset(self, keep: Bools) -> Events:
        return Events(
            self.unit[keep],
            self.comp[keep],
            self.step[keep],
            self.edges[keep],
            self.stat[keep],
            self.mean[keep],
            self.decay,
        )


@dataclass
class Segments:
    """One row per (unit, component) sequence.

    ``log_e``: the running maximum of the mixture wealth, in nats (>= 0: the wealth
    starts at 1). ``first_step``: the unit's step at which the wealth first reached
    ``threshold`` (-1: never). ``n``: events; ``stat`` / ``mean``: their sums.
    ``up``: for two-sided tests, whether the upward direction carries more wealth.
    """

    unit: Ints
    comp: Ints
    log_e: Floats
    first_step: Ints
    n: Ints
    stat: Floats
    mean: Floats
    up: Bools

    @staticmethod
    def empty() -> Segments:
        z = np.zeros(0, dtype=np.int64)
        f = np.zeros(0)
        return Segments(z, z.copy(), f, z.copy(), z.copy(), f.copy(), f.copy(), np.zeros(0, dtype=bool))


def run(ev: Events, threshold: float) -> Segments:
    """Running-maximum log wealth of every (unit, component) sequence in ``ev``."""
    if len(ev) == 0:
        return Segments.empty()
    n_comp = int(ev.comp.max()) + 1
    n_step = int(ev.step.max()) + 1
    order = np.argsort((ev.unit * n_comp + ev.comp) * n_step + ev.step, kind="stable")
    unit, comp, step = ev.unit[order], ev.comp[order], ev.step[order]
    edges, stat, mean = ev.edges[order], ev.stat[order], ev.mean[order]
    new = np.ones(len(unit), dtype=bool)
    new[1:] = (unit[1:] != unit[:-1]) | (comp[1:] != comp[:-1])
    starts = np.flatnonzero(new)
    parts = []
    lo = 0
    while lo < len(starts):
        # Whole segments per slice, about SLICE_EVENTS events each.
        hi = max(int(np.searchsorted(starts, starts[lo] + SLICE_EVENTS, side="right")), lo + 1)
        a = int(starts[lo])
        b = int(starts[hi]) if hi < len(starts) else len(unit)
        parts.append(_slice(step[a:b], edges[a:b], starts[lo:hi] - a, ev.decay, threshold))
        lo = hi
    n = np.diff(np.append(starts, len(unit)))
    return Segments(
        unit=unit[starts],
        comp=comp[starts],
        log_e=np.concatenate([p[0] for p in parts]),
        first_step=np.concatenate([p[1] for p in parts]),
        n=n,
        stat=np.add.reduceat(stat, starts),
        mean=np.add.reduceat(mean, starts),
        up=np.concatenate([p[2] for p in parts]),
    )


def _slice(step: Ints, edges: Floats, starts: Ints, decay: bool, threshold: float) -> tuple[Floats, Ints, Bools]:
    sides = edges.shape[1]
    g = len(GRID)
    # log(1 + f·x) for every event, side and fraction: (E, sides·G)
    logf = np.log1p(edges[:, :, None] * GRID[None, None, :]).reshape(len(step), sides * g)
    cum = np.cumsum(logf, axis=0)
    seg = np.zeros(len(step), dtype=np.int64)
    seg[starts[1:]] = 1
    seg = np.cumsum(seg)
    before = np.zeros((len(starts), sides * g))
    before[1:] = cum[starts[1:] - 1]
    cum -= before[seg]
    if decay:
        misses = step - (np.arange(len(step)) - starts[seg]) - 1  # the unit's votes so far that missed
        cum += misses[:, None].astype(np.float64) * np.tile(LOG_MISS, sides)[None, :]
    wealth = np.exp(np.minimum(cum, CAP))  # exp clipped at e^700: scores stop near 1e304
    log_e = np.log(wealth.mean(axis=1))
    seg_max = np.maximum(np.maximum.reduceat(log_e, starts), 0.0)
    never = np.iinfo(np.int64).max
    first = np.minimum.reduceat(np.where(log_e >= threshold, step, never), starts)
    first = np.where(first == never, -1, first)
    if sides == 2:
        up = np.maximum.reduceat(wealth[:, :g].sum(axis=1), starts) >= np.maximum.reduceat(
            wealth[:, g:].sum(axis=1), starts
        )
    else:
        up = np.ones(len(starts), dtype=bool)
    return seg_max, first.astype(np.int64), up


def local_steps(unit: Ints, n_units: int) -> Ints:
    """1-based position of each vote within its unit, for votes already in time order."""
    order = np.argsort(unit, kind="stable")
    counts = np.bincount(unit, minlength=n_units)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    steps = np.empty(len(unit), dtype=np.int64)
    steps[order] = np.arange(len(unit)) - starts[unit[order]] + 1
    return steps
