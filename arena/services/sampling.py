"""Which two models meet in an anonymous battle.

Two samplers, chosen per modality (ARENA_SAMPLER):

- ``uniform``: pairs are drawn with probability proportional to w_a * w_b (uniform over
  pairs when all weights are equal; the new-model boost raises a provisional model's w).
- ``active``: votes go where they resolve the leaderboard's order fastest. As in Chiang
  et al. 2024 (Chatbot Arena, §5: pairs are drawn by the reduction of uncertainty one more
  vote on them is expected to bring), but aimed at what the board shows, the order of
  neighbours. From the cached board's ratings, intervals and battle counts, the Fisher
  information of the Bradley-Terry fit gives the ratings' covariance Σ (scaled so its
  centred diagonal matches the board's interval widths). A neighbour pair (k, k+1) with
  gap Δ and standard error σ is resolved at 95% when Δ > 1.96 σ; the sampler plans the
  next votes (a horizon of four times those on the board) to raise Σ_c Φ((Δ_c/σ_c − 1.96)/2),
  the expected number of resolved neighbours, smoothed by 2 because Δ itself is estimated.
  The plan is found by Frank-Wolfe: each step adds the single pair whose vote gains most
  (with x = e_a − e_b and v = p_ab(1 − p_ab), a vote lowers σ_c² by about v (cᵀΣx)²) and
  recomputes Σ with the votes planned so far, so diminishing returns spread the plan over
  the pairs that matter: neighbours near resolution, not those already resolved or tied.
  The distribution is (1 − floor)·plan + floor·uniform, so every pair keeps at least
  ``floor`` times its uniform probability; the boost multiplies both parts.
  Measured (benchmarks/sampling.py, 50 models, s.d. 100 Elo, the same seeds for both
  samplers): 20 neighbour pairs resolved after 36.0% fewer votes than uniform over 12
  seeds (28.0% over seeds 0-5, 39.5% over seeds 6-11: per seed, active needs 0.35 to 0.93
  times uniform's votes, so a 6-seed median moves by ten points with the seeds),
  19.1% fewer by the expected count, at the cost of wider intervals for the models whose
  order is already settled (mean width 20 Elo after 34% more votes). A horizon of 1 and a
  floor of 5% did better on seeds 0-5 (40.1%) and worse on seeds 6-11 (28.6%; 29.8% over
  12, 14.6% by the expected count), so the horizon and floor stay. The default is uniform.

Either way the probability of the drawn unordered pair is returned and stored with the
battle (battles.pair_probability), so a fit can weigh each vote by 1/probability
(inverse propensity, Chiang et al. eq. 7; ARENA_INVERSE_PROPENSITY) and estimate the
ratings a uniform design would have. The boards give the fit each (pair, outcome) cell
as a Kish row (arena.services.leaderboards.kish_rows), so its intervals carry the spread
of the weights: in the benchmark's active runs (12 seeds) they held the true rating 93.7%
of the time (86.3% with each cell's mean weight only), at a mean width of 38 Elo against
15 for the unweighted fit of the same votes: the price of unbiased ratings from a skewed
design.
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
HORIZON = 4.0  # the votes planned for, as a multiple of those on the board
SPREAD = 2.0  # smoothing of the resolved count: the gaps are estimates (r itself has s.d. about 1)
ITERATIONS = 64  # Frank-Wolfe steps: the plan spreads over at most this many pairs
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
    # scale to the board's own intervals (bootstrap or clustered ones are wider than the model's);
    # the board's ratings are centred, so compare with the centred covariance: the ridge leaves
    # Var(mean θ) at 1/(m·ridge), which would otherwise swamp every diagonal entry
    centred = cov - cov.mean(axis=0) - cov.mean(axis=1)[:, None] + cov.mean()
    ratio = se_board**2 / np.diag(centred)
    ratio = ratio[np.isfinite(ratio) & (ratio > 0)]
    # plan the next votes by Frank-Wolfe on the expected number of neighbour pairs (k, k+1)
    # resolved at 95%, Σ_c Φ((Δ_c/σ_c − z)/SPREAD), with Δ_c the gap and σ_c its standard
    # error from Σ after the planned votes
    gap = np.maximum(theta[:-1] - theta[1:], 0.0)
    below = np.arange(m - 1)
    ia, ib = np.triu_indices(m, 1)
    vp = v[ia, ib]
    horizon = max(HORIZON * float(n.sum()) / 2, 10.0 * m)
    scale = float(np.median(ratio)) if len(ratio) else 1.0
    plan = np.zeros(len(ia))
    for step in range(ITERATIONS):
        added = np.zeros((m, m))
        added[ia, ib] = added[ib, ia] = -horizon * plan * vp
        added[np.diag_indices(m)] = -added.sum(axis=1)
        cov = scale * np.linalg.inv(fisher + added)
        contrast = cov[:-1] - cov[1:]  # rows cᵀΣ, c = e_k − e_{k+1}
        sigma2 = np.maximum(contrast[below, below] - contrast[below, below + 1], 1e-12)
        r = gap / np.sqrt(sigma2)
        # d E[resolved] / d(−σ_c²) ∝ φ((r_c − z)/SPREAD) r_c / σ_c²; a vote on x lowers σ_c² by
        # about v (cᵀΣx)², summed over c: Gram matrix of the contrasts, O(M³)
        weight = np.exp(-0.5 * ((r - Z95) / SPREAD) ** 2) * r / sigma2
        if step == 0 and (bool(np.all(r >= Z95)) or float(weight.sum()) <= 1e-12):
            return {}  # every neighbour resolved (or nothing to gain): uniform
        gram = contrast.T @ (weight[:, None] * contrast)
        gain = vp * (gram[ia, ia] + gram[ib, ib] - 2 * gram[ia, ib])
        rate = 2.0 / (step + 2.0)
        plan *= 1.0 - rate
        plan[int(np.argmax(gain))] += rate
    out: dict[Pair, float] = {}
    for i, j, share in zip(ia.tolist(), ib.tolist(), plan.tolist(), strict=True):
        out[tuple(sorted((names[i], names[j])))] = share  # type: ignore[index]
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
