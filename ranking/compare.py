"""Compare two leaderboards fitted on disjoint groups of votes (say, two countries' voters).

Per model ranked on both boards: its rating in each, the difference with an interval,
and a two-sided z-test of "no difference", with a multiple-testing correction across
the models (Holm's step-down, which controls the family-wise error rate). Then the rank
correlation between the two boards (Spearman's rho, with a Fisher-z interval using the
Fieller-Hartley-Pearson variance 1.06 / (n - 3)).

Ratings are only defined up to a shift, so the boards are aligned by the median of the
per-model differences (each board's ratings centred on the models both rank, board b
shifted by that median): a model that truly differs then moves alone, and the others
stay near zero difference (a mean would spread its move over all of them). Each
rating's standard error is read from its interval (half-width / z at the board's level);
the two groups hold different votes, so their errors add in quadrature. Pure function,
standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, median
from typing import Protocol

from .errors import RankingError

_NORMAL = NormalDist()
_SPEARMAN_VARIANCE = 1.06  # Fieller, Hartley & Pearson (1957): var(atanh(rho_s)) ~ 1.06 / (n - 3)


class RatedRow(Protocol):
    """What a board row needs for a comparison (ranking.BoardRow has it)."""

    @property
    def model(self) -> str: ...
    @property
    def rating(self) -> float: ...
    @property
    def ci_low(self) -> float: ...
    @property
    def ci_high(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ModelDifference:
    """One model on both boards: its ratings as fitted; ``difference`` = b - a once the boards are aligned."""

    model: str
    rating_a: float
    rating_b: float
    difference: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    p_adjusted: float  # Holm-adjusted across the models compared
    significant: bool  # p_adjusted < alpha


@dataclass(frozen=True, slots=True)
class Comparison:
    """The models both boards rank (largest absolute difference first) and their rank correlation."""

    rows: tuple[ModelDifference, ...]
    correlation: float  # Spearman's rho between the two boards' ratings
    correlation_low: float | None  # Fisher-z interval at `level` (None with fewer than 4 models)
    correlation_high: float | None
    models: int
    level: float
    alpha: float
    correction: str = "holm"
    correlation_method: str = "spearman"


def compare_boards(
    a: Sequence[RatedRow], b: Sequence[RatedRow], *, level: float = 0.95, alpha: float = 0.05
) -> Comparison:
    """Compare board `a` with board `b` (rows with model, rating, ci_low, ci_high at `level`).

    Raises RankingError when fewer than two models are on both boards or a setting is out of range.
    """
    if not 0 < level < 1 or not 0 < alpha < 1:
        raise RankingError("level and alpha must be between 0 and 1")
    in_b = {row.model: row for row in b}
    pairs = [(row, in_b[row.model]) for row in a if row.model in in_b]
    if len(pairs) < 2:
        raise RankingError("fewer than two models are ranked on both boards: nothing to compare")
    centre_a = sum(ra.rating for ra, _ in pairs) / len(pairs)
    centre_b = centre_a + median(rb.rating - ra.rating for ra, rb in pairs)
    z_level = _NORMAL.inv_cdf(0.5 + level / 2)
    raw: list[tuple[str, float, float, float, float, float]] = []  # model, ra, rb, diff, se, p
    for ra, rb in pairs:
        se = math.hypot(_se(ra, z_level), _se(rb, z_level))
        diff = (rb.rating - centre_b) - (ra.rating - centre_a)
        z = diff / se if se > 0 else (math.inf if diff else 0.0)
        p = 2 * (1 - _NORMAL.cdf(abs(z))) if math.isfinite(z) else 0.0
        raw.append((ra.model, ra.rating, rb.rating, diff, se, p))
    adjusted = holm([p for *_, p in raw])
    rows = [
        ModelDifference(
            model=model,
            rating_a=rating_a,
            rating_b=rating_b,
            difference=diff,
            ci_low=diff - z_level * se,
            ci_high=diff + z_level * se,
            z=diff / se if se > 0 else 0.0,
            p_value=p,
            p_adjusted=p_adj,
            significant=p_adj < alpha,
        )
        for (model, rating_a, rating_b, diff, se, p), p_adj in zip(raw, adjusted, strict=True)
    ]
    rows.sort(key=lambda row: (-abs(row.difference), row.model))
    rho = spearman([ra.rating for ra, _ in pairs], [rb.rating for _, rb in pairs])
    low: float | None = None
    high: float | None = None
    n = len(pairs)
    if n >= 4 and math.isfinite(rho):
        centre = math.atanh(max(-0.999999, min(0.999999, rho)))
        half = z_level * math.sqrt(_SPEARMAN_VARIANCE / (n - 3))
        low, high = math.tanh(centre - half), math.tanh(centre + half)
    return Comparison(tuple(rows), rho, low, high, n, level, alpha)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (in the input order), monotone and capped at 1."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [1.0] * m
    running = 0.0
    for step, index in enumerate(order):
        running = max(running, min(1.0, (m - step) * p_values[index]))
        adjusted[index] = running
    return adjusted


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    rx, ry = _ranks(x), _ranks(y)
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    sxy = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    sxx = sum((a - mx) ** 2 for a in rx)
    syy = sum((b - my) ** 2 for b in ry)
    if sxx == 0 or syy == 0:
        return math.nan
    return sxy / math.sqrt(sxx * syy)


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for position in range(start, end + 1):
            ranks[order[position]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def _se(row: RatedRow, z_level: float) -> float:
    return max(row.ci_high - row.ci_low, 0.0) / (2 * z_level)
