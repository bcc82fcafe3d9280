"""Outcome models on one row of counts, written once for numpy and torch.

Notation, per row r: d = θ_i − θ_j (+ h, the first-position advantage), counts W (i
wins), L (j wins), T (ties), n = W + L + T. Every function takes the array module
``xp`` (numpy or torch) and broadcasts over leading batch axes, so the point fit, the
batched bootstrap and the GPU path share the maths.

Bradley-Terry with half ties (LMArena's convention):
    P(i beats j) = p = σ(d); a tie scores ½ for each side, so
    ℓ = W log p + L log(1−p) + T·½(log p + log(1−p)),
    ∂ℓ/∂d = (W + T/2) − n p,     ∂²ℓ/∂d² = −n p(1−p).
  This is the likelihood of "fractional wins"; with T = 0 it is plain BT.

Davidson (1970), with u = log ν:
    P(i) = e^{d/2}/Z, P(j) = e^{−d/2}/Z, P(tie) = ν/Z, Z = e^{d/2} + e^{−d/2} + ν,
    ℓ = W d/2 − L d/2 + T u − n log Z,
    ∂ℓ/∂d = (W − L)/2 − n(pA − pB)/2,   ∂ℓ/∂u = T − n pT,
    ∂²ℓ/∂d² = −n[(pA + pB) − (pA − pB)²]/4,  ∂²ℓ/∂u² = −n pT(1 − pT),
    ∂²ℓ/∂d∂u = n pT (pA − pB)/2.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit


def softplus(xp: Any, x: Any) -> Any:
    """log(1 + e^x) without overflow."""
    return x.clip(min=0) + xp.log1p(xp.exp(-abs(x)))


def log_sigmoid(xp: Any, x: Any) -> Any:
    return -softplus(xp, -x)


def sigmoid(xp: Any, x: Any) -> Any:
    """σ(x) in one pass: scipy's expit for numpy, torch.sigmoid for torch."""
    if xp is np:
        return expit(x)
    return xp.sigmoid(x)


class BradleyTerry:
    name = "bt"
    tie_param = False

    @staticmethod
    def loglik(xp, W, L, T, d, u=None):
        a, b = log_sigmoid(xp, d), log_sigmoid(xp, -d)
        return (W * a + L * b + 0.5 * T * (a + b)).sum(-1)

    @staticmethod
    def suff(W, L, T):
        """What the gradient needs from the counts: score y = W + T/2 and n."""
        return W + 0.5 * T, W + L + T

    @staticmethod
    def grad_suff(xp, s, d, u=None):
        y, n = s
        return y - n * sigmoid(xp, d), None

    @classmethod
    def grad(cls, xp, W, L, T, d, u=None):
        return cls.grad_suff(xp, cls.suff(W, L, T), d, u)

    @staticmethod
    def curvature(xp, n, d, u=None):
        """(∂²ℓ/∂d², ∂²ℓ/∂d∂u, ∂²ℓ/∂u²) per row; the last two are None here."""
        p = sigmoid(xp, d)
        return -n * p * (1 - p), None, None

    @staticmethod
    def scores(xp, d, u=None):
        """Per-vote ∂ℓ/∂d for a win, a loss and a tie (and ∂ℓ/∂u, None here)."""
        p = sigmoid(xp, d)
        return (1 - p, -p, 0.5 - p), None

    @staticmethod
    def share(xp, d, u=None):
        """Expected score of i (win = 1, tie = ½): the predicted win rate."""
        return sigmoid(xp, d)


class Davidson:
    name = "davidson"
    tie_param = True

    @staticmethod
    def _probs(xp, d, u):
        half = 0.5 * d
        m = xp.maximum(abs(half), u)
        log_z = m + xp.log(xp.exp(half - m) + xp.exp(-half - m) + xp.exp(u - m))
        return xp.exp(half - log_z), xp.exp(-half - log_z), xp.exp(u - log_z), log_z

    @classmethod
    def loglik(cls, xp, W, L, T, d, u):
        *_, log_z = cls._probs(xp, d, u)
        return (0.5 * d * (W - L) + T * u - (W + L + T) * log_z).sum(-1)

    @staticmethod
    def suff(W, L, T):
        return 0.5 * (W - L), T, W + L + T

    @classmethod
    def grad_suff(cls, xp, s, d, u):
        half_diff, T, n = s
        pa, pb, pt, _ = cls._probs(xp, d, u)
        return half_diff - 0.5 * n * (pa - pb), (T - n * pt).sum(-1)

    @classmethod
    def grad(cls, xp, W, L, T, d, u):
        return cls.grad_suff(xp, cls.suff(W, L, T), d, u)

    @classmethod
    def curvature(cls, xp, n, d, u):
        pa, pb, pt, _ = cls._probs(xp, d, u)
        delta = pa - pb
        return (-0.25 * n * ((pa + pb) - delta * delta), 0.5 * n * pt * delta,
                -n * pt * (1 - pt))

    @classmethod
    def scores(cls, xp, d, u):
        pa, pb, pt, _ = cls._probs(xp, d, u)
        half = 0.5 * (pa - pb)
        return (0.5 - half, -0.5 - half, -half), (-pt, -pt, 1 - pt)

    @classmethod
    def share(cls, xp, d, u):
        pa, _, pt, _ = cls._probs(xp, d, u)
        return pa + 0.5 * pt


FAMILIES = {"bt": BradleyTerry, "davidson": Davidson}
