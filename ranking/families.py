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

from typing import Any, Literal, TypeAlias

import numpy as np

Array: TypeAlias = Any
"""A numpy array or a torch tensor: the maths below is written once for both."""
Module: TypeAlias = Any
"""The array module, ``numpy`` or ``torch``."""
# Values that only a family with a tie parameter has are None for the others; they
# are typed ``Array`` (Any) because callers branch on ``tie_param``, not on None.
FamilyName = Literal["bt", "davidson"]


def softplus(xp: Module, x: Array) -> Array:
    """log(1 + e^x) without overflow."""
    return x.clip(min=0) + xp.log1p(xp.exp(-abs(x)))


def log_sigmoid(xp: Module, x: Array) -> Array:
    return -softplus(xp, -x)


def sigmoid(xp: Module, x: Array) -> Array:
    """σ(x) = 1 / (1 + e^−x): in place on one new array for numpy (scipy's expit computes
    the same, about 2x slower, and importing scipy.special costs ~40 ms of the command
    line's start), torch.sigmoid for torch. e^−x overflows to inf for x < −709, giving 0."""
    if xp is np:
        with np.errstate(over="ignore"):
            out = np.negative(x, dtype=np.float64)
            if not isinstance(out, np.ndarray):  # a scalar
                return 1.0 / (1.0 + np.exp(out))
            np.exp(out, out=out)
            out += 1.0
            return np.reciprocal(out, out=out)
    return xp.sigmoid(x)


class Family:
    """An outcome model: log-likelihood, gradient, curvature and scores per row of
    counts, in d (and u when ``tie_param``). ``u`` is None for families without one."""

    name: FamilyName
    tie_param: bool

    def loglik(self, xp: Module, W: Array, L: Array, T: Array, d: Array, u: Array) -> Array:
        raise NotImplementedError

    def suff(self, W: Array, L: Array, T: Array) -> tuple[Array, ...]:
        """What the gradient needs from the counts."""
        raise NotImplementedError

    def grad_suff(self, xp: Module, s: tuple[Array, ...], d: Array, u: Array) -> tuple[Array, Array]:
        """(∂ℓ/∂d per row, ∂ℓ/∂u summed over rows or None) from :meth:`suff`'s statistics."""
        raise NotImplementedError

    def grad(self, xp: Module, W: Array, L: Array, T: Array, d: Array, u: Array) -> tuple[Array, Array]:
        return self.grad_suff(xp, self.suff(W, L, T), d, u)

    def curvature(self, xp: Module, n: Array, d: Array, u: Array) -> tuple[Array, Array, Array]:
        """(∂²ℓ/∂d², ∂²ℓ/∂d∂u, ∂²ℓ/∂u²) per row; the last two None without a tie parameter."""
        raise NotImplementedError

    def scores(self, xp: Module, d: Array, u: Array) -> tuple[tuple[Array, Array, Array], Array]:
        """Per-vote ∂ℓ/∂d for a win, a loss and a tie (and ∂ℓ/∂u, or None)."""
        raise NotImplementedError

    def share(self, xp: Module, d: Array, u: Array) -> Array:
        """Expected score of i (win = 1, tie = ½): the predicted win rate."""
        raise NotImplementedError


class BradleyTerry(Family):
    name = "bt"
    tie_param = False

    def loglik(self, xp: Module, W: Array, L: Array, T: Array, d: Array, u: Array) -> Array:
        a, b = log_sigmoid(xp, d), log_sigmoid(xp, -d)
        return (W * a + L * b + 0.5 * T * (a + b)).sum(-1)

    def suff(self, W: Array, L: Array, T: Array) -> tuple[Array, ...]:
        """Score y = W + T/2 and n."""
        return W + 0.5 * T, W + L + T

    def grad_suff(self, xp: Module, s: tuple[Array, ...], d: Array, u: Array) -> tuple[Array, Array]:
        y, n = s
        return y - n * sigmoid(xp, d), None

    def curvature(self, xp: Module, n: Array, d: Array, u: Array) -> tuple[Array, Array, Array]:
        p = sigmoid(xp, d)
        return -n * p * (1 - p), None, None

    def scores(self, xp: Module, d: Array, u: Array) -> tuple[tuple[Array, Array, Array], Array]:
        p = sigmoid(xp, d)
        return (1 - p, -p, 0.5 - p), None

    def share(self, xp: Module, d: Array, u: Array) -> Array:
        return sigmoid(xp, d)


class Davidson(Family):
    name = "davidson"
    tie_param = True

    @staticmethod
    def _probs(xp: Module, d: Array, u: Array) -> tuple[Array, Array, Array, Array]:
        half = 0.5 * d
        m = xp.maximum(abs(half), u)
        log_z = m + xp.log(xp.exp(half - m) + xp.exp(-half - m) + xp.exp(u - m))
        return xp.exp(half - log_z), xp.exp(-half - log_z), xp.exp(u - log_z), log_z

    def loglik(self, xp: Module, W: Array, L: Array, T: Array, d: Array, u: Array) -> Array:
        *_, log_z = self._probs(xp, d, u)
        return (0.5 * d * (W - L) + T * u - (W + L + T) * log_z).sum(-1)

    def suff(self, W: Array, L: Array, T: Array) -> tuple[Array, ...]:
        return 0.5 * (W - L), T, W + L + T

    def grad_suff(self, xp: Module, s: tuple[Array, ...], d: Array, u: Array) -> tuple[Array, Array]:
        half_diff, T, n = s
        pa, pb, pt, _ = self._probs(xp, d, u)
        return half_diff - 0.5 * n * (pa - pb), (T - n * pt).sum(-1)

    def curvature(self, xp: Module, n: Array, d: Array, u: Array) -> tuple[Array, Array, Array]:
        pa, pb, pt, _ = self._probs(xp, d, u)
        delta = pa - pb
        return (-0.25 * n * ((pa + pb) - delta * delta), 0.5 * n * pt * delta, -n * pt * (1 - pt))

    def scores(self, xp: Module, d: Array, u: Array) -> tuple[tuple[Array, Array, Array], Array]:
        pa, pb, pt, _ = self._probs(xp, d, u)
        half = 0.5 * (pa - pb)
        return (0.5 - half, -0.5 - half, -half), (-pt, -pt, 1 - pt)

    def share(self, xp: Module, d: Array, u: Array) -> Array:
        pa, _, pt, _ = self._probs(xp, d, u)
        return pa + 0.5 * pt


FAMILIES: dict[str, Family] = {"bt": BradleyTerry(), "davidson": Davidson()}
