"""Simulated arenas with known strengths, for tests, benchmarks and method checks.

Votes follow Bradley-Terry with half ties exactly: with d = θ_a − θ_b (+ position
advantage, + the voter's personal offsets), the tie probability is t = c·4σ(d)(1−σ(d))
and P(a wins) = σ(d) − t/2, P(b wins) = 1 − σ(d) − t/2, so the expected score of a is
σ(d) for any tie rate: the half-tie BT estimator is consistent for θ. Pairs are drawn
unevenly (model popularity is log-normal), as in real arenas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

SCALE = 400 / math.log(10)
WINNERS = ["model_a", "model_b", "tie", "both_bad"]


@dataclass
class Arena:
    """Simulated votes as codes (``a``, ``b``, ``winner`` into WINNERS, ``voter``)."""

    models: list[str]
    theta: np.ndarray  # true log-strengths, centred
    a: np.ndarray
    b: np.ndarray
    winner: np.ndarray
    voter: np.ndarray | None

    @property
    def true_ratings(self) -> pd.Series:
        return pd.Series(1000 + SCALE * self.theta, index=self.models, name="rating")

    def frame(self) -> pd.DataFrame:
        cat = pd.Categorical.from_codes
        df = pd.DataFrame(
            {
                "model_a": cat(self.a, self.models),
                "model_b": cat(self.b, self.models),
                "winner": cat(self.winner, WINNERS),
            }
        )
        if self.voter is not None:
            df["judge"] = cat(self.voter, [f"voter-{v:06d}" for v in range(int(self.voter.max()) + 1)])
        return df


def simulate(
    n_models: int = 50,
    n_votes: int = 100_000,
    *,
    seed: int = 0,
    spread: float = 1.0,
    tie_rate: float = 0.15,
    both_bad_share: float = 0.3,
    uneven: float = 0.7,
    position: float = 0.0,
    voters: int = 0,
    voter_bias: float = 0.0,
    theta: np.ndarray | None = None,
) -> Arena:
    """``spread``: s.d. of true log-strengths (1.0 ≈ 174 Elo). ``voter_bias``: s.d. of
    each voter's personal log-strength offset per model (votes of one voter are then
    correlated). ``both_bad_share``: fraction of ties labelled both_bad."""
    rng = np.random.default_rng(seed)
    if theta is None:
        theta = rng.normal(0.0, spread, n_models)
    theta = np.asarray(theta, dtype=np.float64) - np.mean(theta)
    pop = np.exp(uneven * rng.standard_normal(n_models))
    cdf = np.cumsum(pop / pop.sum())
    a = np.minimum(np.searchsorted(cdf, rng.random(n_votes)), n_models - 1)
    b = np.minimum(np.searchsorted(cdf, rng.random(n_votes)), n_models - 1)
    while (same := a == b).any():
        b[same] = np.minimum(np.searchsorted(cdf, rng.random(int(same.sum()))), n_models - 1)
    d = theta[a] - theta[b] + position
    voter = None
    if voters:
        activity = rng.pareto(1.5, voters) + 1
        vcdf = np.cumsum(activity / activity.sum())
        voter = np.minimum(np.searchsorted(vcdf, rng.random(n_votes)), voters - 1)
        if voter_bias > 0:
            offset = rng.normal(0.0, voter_bias, (voters, n_models))
            d = d + offset[voter, a] - offset[voter, b]
    p = 1 / (1 + np.exp(-d))
    shape = 4 * p * (1 - p)
    c = min(tie_rate / max(shape.mean(), 1e-12), 0.5)
    t = c * shape
    u = rng.random(n_votes)
    winner = np.where(u < p - t / 2, 0, np.where(u < p + t / 2, 2, 1)).astype(np.int8)
    if both_bad_share > 0:
        winner[(winner == 2) & (rng.random(n_votes) < both_bad_share)] = 3
    width = len(str(n_models - 1))
    return Arena(
        models=[f"model-{k:0{width}d}" for k in range(n_models)],
        theta=theta,
        a=a.astype(np.int32),
        b=b.astype(np.int32),
        winner=winner,
        voter=None if voter is None else voter.astype(np.int32),
    )
