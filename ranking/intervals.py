"""Confidence intervals for ratings and ranks.

* sandwich: V = H⁻¹ B H⁻¹ (H the Hessian of ℓ + prior, B the meat of per-vote scores),
  robust to a misspecified tie model and to weights; θ̂_i ± z·√V_ii on the centred
  scale. Its rank interval comes from draws of N(θ̂, V).
* bootstrap (cells or voters): percentile intervals of the replicas.

Rank (UB), as LMArena shows it: 1 + #{models whose lower bound is above this model's
upper bound}. It uses marginal intervals, so it is not a simultaneous guarantee; the
rank interval [rank_low, rank_high] is the central ``level`` range of the model's rank
across replicas (or normal draws).
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from .bt import Fit, meat, regularised
from .design import Pairs

Array = npt.NDArray[np.float64]
Ints = npt.NDArray[np.intp]


def sandwich_cov(pairs: Pairs, f: Fit) -> Array:
    """Covariance of the centred θ (M × M) from the robust sandwich."""
    m = pairs.n_models
    Hinv = np.linalg.inv(regularised(f.hessian, m, f.null_space))
    V = Hinv @ meat(pairs, f) @ Hinv
    C = np.eye(m) - 1.0 / m  # centring: θ_i − mean(θ)
    out: Array = C @ V[:m, :m] @ C
    return out


def param_se(pairs: Pairs, f: Fit) -> Array:
    """Sandwich standard errors of all parameters (θ uncentred, then h, u)."""
    Hinv = np.linalg.inv(regularised(f.hessian, pairs.n_models, f.null_space))
    out: Array = np.sqrt(np.clip(np.diag(Hinv @ meat(pairs, f) @ Hinv), 0, None))
    return out


def normal_draws(theta: Array, cov: Array, rounds: int, seed: int) -> Array:
    """Draws from N(θ̂, V), rounds × M, to turn the sandwich into rank intervals."""
    w, q = np.linalg.eigh(cov)
    root = q * np.sqrt(np.clip(w, 0, None))
    z = np.random.default_rng(seed).standard_normal((rounds, len(theta)))
    out: Array = theta + z @ root.T
    return out


def normal_ci(theta: Array, cov: Array, level: float) -> tuple[Array, Array]:
    z = NormalDist().inv_cdf(0.5 + level / 2)  # not scipy.stats: its import takes ~0.4 s
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    return theta - z * se, theta + z * se


def percentile_ci(reps: Array, level: float) -> tuple[Array, Array]:
    a = (1 - level) / 2
    lo, hi = np.quantile(reps, [a, 1 - a], axis=0)
    return lo, hi


def ranks(values: Array) -> Ints:
    """1 + number of strictly larger values, along the last axis (ties share a rank)."""
    s = np.sort(values, axis=-1)
    n = values.shape[-1]
    out: Ints
    if values.ndim == 1:
        out = 1 + n - np.searchsorted(s, values, side="right")
        return out
    out = 1 + n - np.stack([np.searchsorted(s[k], values[k], side="right") for k in range(len(values))])
    return out


def rank_ub(ci_low: Array, ci_high: Array) -> Ints:
    """LMArena's Rank (UB): 1 + #{j : ci_low_j > ci_high_i}."""
    s = np.sort(ci_low)
    return 1 + len(s) - np.searchsorted(s, ci_high, side="right")


def rank_interval(reps: Array, level: float) -> tuple[Ints, Ints]:
    r = ranks(reps)
    a = (1 - level) / 2
    lo = np.quantile(r, a, axis=0, method="inverted_cdf")
    hi = np.quantile(r, 1 - a, axis=0, method="inverted_cdf")
    return lo.astype(np.intp), hi.astype(np.intp)
