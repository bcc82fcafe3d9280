"""Which two models meet in an anonymous battle.

Two samplers, chosen per modality (ARENA_SAMPLER):

- ``uniform``: pairs are drawn with probability proportional to w_a * w_b (uniform over
  pairs when all weights are equal; the new-model boost raises a provisional model's w).
- ``active``: votes go where they shrink the leaderboard's uncertainty fastest. As in
  Chiang et al. 2024 (Chatbot Arena, §5 eq. 9: a pair's probability follows the
  reduction of uncertainty that one more vote on it is expected to bring), but aimed
  at what the board shows, the order of neighbours: from the cached board's ratings,
  intervals and battle counts, the Fisher information of the Bradley-Terry fit gives the
  ratings' covariance Σ (scaled to the board's interval widths); one more vote on pair
  (a, b) with x = e_a − e_b and v = p_ab(1 − p_ab) lowers Var(cᵀθ) by
  v (cᵀΣx)² / (1 + v xᵀΣx) (Sherman-Morrison). A neighbour pair (k, k+1) with gap Δ and
  standard error σ (of θ_k − θ_{k+1}, from Σ) is resolved at 95% when Δ > 1.96 σ; one
  that is not still lacks the share (1.96 σ/Δ)² − 1 of the information it needs. A vote's
  value is the sum over unresolved neighbour pairs of the information it adds to their
  difference (δ/σ⁴), each divided by the share that pair still lacks (+ 0.2): pairs
  close to resolution get most, pairs already resolved nothing, hopeless ties little.
  The distribution is (1 − floor)·active + floor·uniform, so every pair keeps at least
  ``floor`` times its uniform probability; the boost multiplies both parts.
  Measured (benchmarks/sampling.py, 50 models, s.d. 100 Elo): no fewer votes than
  uniform yet; with strengths this spread, uniform pairs are nearly as informative for
  neighbours as any focus the board's noisy estimates can justify. The default is uniform.

Either way the probability of the drawn unordered pair is returned and stored with the
battle (battles.pair_probability), so a fit can weigh each vote by 1/probability
(inverse propensity, Chiang et al. eq. 7; ARENA_INVERSE_PROPENSITY) and estimate the
ratings a uniform design would have.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any, Protocol

import numpy as np

Pair = tuple[str, str]  # unordered: names in sorted order


class SampledBoard(Protocol):
    """What the active sampler reads from a cached board (arena.services.leaderboards.Board)."""

    status: str
    rows: list[dict[str, Any]]
    battle_counts: dict[str, dict[str, float]]


FLOOR = 0.1  # share of the uniform distribution mixed into the active one
Z95 = 1.959963984540054
SCALE = 400 / math.log(10)  # Elo points per unit of log-strength (ranking.api.SCALE)
SLACK = 0.2  # keeps pairs that are nearly resolved from taking every vote
RIDGE = 0.125  # the fit's prior, 0.5 virtual ties per model, as information (0.5 * 1/4)


def pair_weights(models: dict[str, float]) -> list[tuple[tuple[str, str], float]]:
    pairs = [((a, b), models[a] * models[b]) for a, b in combinations(sorted(models), 2)]
    return [(pair, weight) for pair, weight in pairs if weight > 0]


def uniform_pairs(models: Mapping[str, float]) -> dict[Pair, float]:
    """The uniform sampler's distribution over unordered pairs: ∝ w_a * w_b (sums to 1).
    Raises ValueError with fewer than two models of positive weight."""
    pairs = pair_weights(dict(models))
    if not pairs:
        raise ValueError("fewer than two models with positive weight")
    total = sum(weight for _, weight in pairs)
    return {pair: weight / total for pair, weight in pairs}


def active_scores(
    rows: Sequence[Mapping[str, Any]], battle_counts: Mapping[str, Mapping[str, float]]
) -> dict[Pair, float]:
    """The active part alone: each pair of rated models -> its share (sums to 1), or {} when
    fewer than two models are rated or no pair would gain (then the sampler is uniform).

    ``rows``: the board's rows (``model``, ``rating``, ``ci_low``, ``ci_high`` in Elo, at
    95%); ``battle_counts``: votes per pair ({a: {b: n}}), as a cached board holds them.
    """
    rated = [
        r
        for r in rows
        if all(isinstance(r.get(k), int | float) and math.isfinite(r[k]) for k in ("rating", "ci_low", "ci_high"))
    ]
    if len(rated) < 2:
        return {}
    rated.sort(key=lambda r: -float(r["rating"]))
    names = [str(r["model"]) for r in rated]
    m = len(names)
    theta = np.array([float(r["rating"]) for r in rated]) / SCALE
    se_board = np.array([float(r["ci_high"]) - float(r["ci_low"]) for r in rated]) / (2 * Z95 * SCALE)
    n = np.zeros((m, m))
    for i, a in enumerate(names):
        row = battle_counts.get(a, {})
        for j, b in enumerate(names):
            if i != j:
                n[i, j] = float(row.get(b, 0.0) or 0.0)
    n = np.maximum(n, n.T)
    p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
    v = p * (1.0 - p)
    info = n * v
    fisher = np.diag(info.sum(axis=1)) - info + RIDGE * np.eye(m)
    cov = np.linalg.inv(fisher)
    # scale to the board's own intervals (bootstrap or clustered ones are wider than the model's)
    ratio = se_board**2 / np.diag(cov)
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    if len(ratio):
        cov *= float(np.median(ratio))
    # neighbour pairs (k, k+1) in rating order: gap Δ, its standard error σ (from Σ)
    contrast = cov[:-1] - cov[1:]  # rows cᵀΣ, c = e_k − e_{k+1}
    below = np.arange(m - 1)
    sigma = np.sqrt(np.maximum(contrast[below, below] - contrast[below, below + 1], 1e-12))
    gap = np.maximum(theta[:-1] - theta[1:], 0.0)
    r = gap / sigma
    # unresolved pairs, cheapest first: (z/r)² − 1 is the share of information a pair still
    # lacks to be resolved at its estimated gap; resolved pairs (r ≥ z) get nothing
    lacking = (Z95 / np.maximum(r, 1e-9)) ** 2 - 1.0
    lam = np.where(lacking > 0, 1.0 / (lacking + SLACK), 0.0)
    # a vote lowers Var(cᵀθ) by δ = v (cᵀΣx)² / (1 + v xᵀΣx), adding about δ/σ⁴ to its
    # information; its value is Σ λ_c δ_c / σ_c⁴. With P = CΣ (rows cᵀΣ) and W = diag(λ/σ⁴),
    # Σ_c W_c (P_ca − P_cb)² = G_aa + G_bb − 2 G_ab for G = Pᵀ W P: O(M³), not O(M⁴)
    gram = contrast.T @ ((lam / sigma**4)[:, None] * contrast)
    ia, ib = np.triu_indices(m, 1)
    q = cov[ia, ia] + cov[ib, ib] - 2 * cov[ia, ib]  # xᵀΣx
    vp = v[ia, ib]
    gain = vp / (1.0 + vp * q) * (gram[ia, ia] + gram[ib, ib] - 2 * gram[ia, ib])
    total = float(gain.sum())
    if not math.isfinite(total) or total <= 0:
        return {}
    out: dict[Pair, float] = {}
    for i, j, g in zip(ia.tolist(), ib.tolist(), gain.tolist(), strict=True):
        a, b = sorted((names[i], names[j]))
        out[a, b] = g / total
    return out


def active_pairs(models: Mapping[str, float], scores: Mapping[Pair, float], floor: float = FLOOR) -> dict[Pair, float]:
    """The active sampler's distribution over the pairs of ``models`` (sums to 1).

    ``models``: name -> sampling weight (boost included); ``scores``: :func:`active_scores`
    of the cached board. A pair with a model the board has not rated yet gets the mean
    score. Result: floor·U + (1 − floor)·A, with U the uniform sampler's distribution and
    A ∝ w_a·w_b·score, so every pair has at least ``floor`` times its uniform probability.
    Raises ValueError with fewer than two models of positive weight.
    """
    uniform = uniform_pairs(models)
    if not scores or floor >= 1:
        return uniform
    mean = 1.0 / len(scores)
    raw = {pair: u * scores.get(pair, mean) for pair, u in uniform.items()}
    total = sum(raw.values())
    if total <= 0:
        return uniform
    return {pair: floor * uniform[pair] + (1 - floor) * raw[pair] / total for pair in uniform}


def draw(pairs: Mapping[Pair, float], rng: random.Random) -> tuple[str, str, float]:
    """Draw from a distribution over unordered pairs: (left, right, probability of the
    unordered pair); left/right is a coin flip."""
    items = [(pair, p) for pair, p in pairs.items() if p > 0]
    if not items:
        raise ValueError("fewer than two models with positive weight")
    (a, b), probability = rng.choices(items, weights=[p for _, p in items], k=1)[0]
    if rng.random() < 0.5:
        a, b = b, a
    return a, b, probability


def draw_pair(models: dict[str, float], rng: random.Random) -> tuple[str, str, float]:
    """The uniform sampler: (left, right, probability of this unordered pair)."""
    return draw(uniform_pairs(models), rng)
