"""The contextual Bradley-Terry fit behind style control (see :mod:`ranking.style`).

P(i beats j) = σ(θ_i − θ_j [+ h] + βᵀz) on per-vote rows (the features make every vote
its own cell). Damped Newton to max|∇f| ≤ tol on the per-vote mean loss, like
:func:`ranking.bt.fit` (same prior on θ, same null-space handling with ``prior=0``),
plus ½·reg·N·‖β‖²; intervals: the robust sandwich H⁻¹BH⁻¹ over votes, for θ, h and β.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.special import expit

from . import bt
from .errors import RankingError
from .families import log_sigmoid, sigmoid

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]


@dataclass
class StyleFit:
    """A contextual fit: ``fit`` holds θ (and h) like :class:`ranking.bt.Fit`; ``cov`` is
    the sandwich covariance of the centred θ; ``beta`` / ``beta_se`` the coefficients
    (log-odds per standard deviation of each feature) and ``position_se``."""

    fit: bt.Fit
    cov: Matrix
    names: list[str]
    beta: Vector
    beta_se: Vector
    position_se: float | None
    dropped: list[str]


def fit_style(
    i: npt.NDArray[np.int64],
    j: npt.NDArray[np.int64],
    y: Vector,
    w: Vector,
    features: Matrix,
    names: list[str],
    m: int,
    *,
    position: bool,
    prior: float,
    reg: float,
    tol: float,
    max_iter: int = bt.MAX_ITER,
    cluster: npt.NDArray[np.int64] | None = None,
) -> StyleFit:
    """Fit θ (M models, i/j index them), optional h and β on per-vote rows.

    ``y``: the left side's score (1, 0 or ½), ``w``: weights, ``features``: raw (not yet
    standardised) rows × features. A feature that is constant over the rows says
    nothing and is dropped (listed in ``dropped``). ``cluster``: a voter code per row for
    the voter-clustered sandwich (scores summed per voter before the outer product).
    """
    sd = features.std(axis=0)
    keep = sd > 1e-12 * np.maximum(1.0, np.abs(features).max(axis=0, initial=0.0))
    dropped = [n for n, k in zip(names, keep, strict=True) if not k]
    names = [n for n, k in zip(names, keep, strict=True) if k]
    z = (features[:, keep] - features[:, keep].mean(axis=0)) / sd[keep]
    rows, nf = z.shape
    p_cols = m + int(position)
    k_params = p_cols + nf
    cols = [i, j] + ([np.full(rows, m)] if position else []) + [np.full(rows, p_cols + f) for f in range(nf)]
    vals = [np.ones(rows), -np.ones(rows)] + ([np.ones(rows)] if position else []) + [z[:, f] for f in range(nf)]
    X = sp.csr_matrix(
        (np.concatenate(vals), (np.tile(np.arange(rows), len(cols)), np.concatenate(cols))), shape=(rows, k_params)
    )
    X.sum_duplicates()
    n = float(w.sum())
    if n <= 0:
        raise RankingError("no votes to fit")
    ridge = reg * n

    def evaluate(x: Vector) -> tuple[float, Vector, Matrix]:
        d = X @ x
        ll = float((w * (y * log_sigmoid(np, d) + (1 - y) * log_sigmoid(np, -d))).sum())
        p = expit(d)
        g = X.T @ (w * (y - p))
        H = (X.T @ X.multiply((w * p * (1 - p))[:, None])).toarray()
        th = x[:m]
        ll += prior * 0.5 * float((log_sigmoid(np, th) + log_sigmoid(np, -th)).sum())
        s = sigmoid(np, th)
        g[:m] += prior * (0.5 - s)
        H[np.arange(m), np.arange(m)] += prior * s * (1 - s)
        beta = x[p_cols:]
        ll -= 0.5 * ridge * float(beta @ beta)
        g[p_cols:] -= ridge * beta
        H[np.arange(p_cols, k_params), np.arange(p_cols, k_params)] += ridge
        return ll, g, H

    null_space = prior == 0
    x = np.zeros(k_params)
    ll, g, H = evaluate(x)
    it, converged = 0, False
    while True:
        gnorm = float(np.abs(g).max()) / n
        if gnorm <= tol:
            converged = True
            step = np.linalg.solve(bt.regularised(H, m, null_space), g)
            ll_new, g_new, H_new = evaluate(x + step)
            if np.abs(g_new).max() / n < gnorm:
                x, ll, g, H, gnorm = x + step, ll_new, g_new, H_new, float(np.abs(g_new).max()) / n
            break
        if it >= max_iter:
            break
        it += 1
        step = np.linalg.solve(bt.regularised(H, m, null_space), g)
        slope = float(g @ step)
        alpha = 1.0
        for _ in range(50):
            ll_new, g_new, H_new = evaluate(x + alpha * step)
            if ll_new >= ll + 1e-4 * alpha * slope or abs(ll_new - ll) <= 1e-13 * abs(ll) + 1e-300:
                break
            alpha *= 0.5
        x = x + alpha * step
        ll, g, H = ll_new, g_new, H_new

    p = expit(X @ x)
    score = w * (y - p)
    if cluster is None:
        meat = (X.T @ X.multiply((score * score)[:, None])).toarray()
    else:
        _, group = np.unique(cluster, return_inverse=True)
        group = group.ravel()
        ind = sp.csr_matrix((np.ones(rows), (group, np.arange(rows))), shape=(int(group.max()) + 1, rows))
        sums = ind @ X.multiply(score[:, None]).tocsr()  # voters × params
        meat = (sums.T @ sums).toarray()
    Hinv = np.linalg.inv(bt.regularised(H, m, null_space))
    V = Hinv @ meat @ Hinv
    C = np.eye(m) - 1.0 / m
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    f = bt.Fit(
        family="bt",
        params=x[:p_cols],
        theta=x[:m] - x[:m].mean(),
        position=float(x[m]) if position else None,
        tie_param=None,
        loglik=ll,
        n=n,
        grad_norm=gnorm,
        iterations=it,
        converged=converged,
        hessian=H,
        null_space=null_space,
        prior=prior,
    )
    return StyleFit(
        fit=f,
        cov=C @ V[:m, :m] @ C,
        names=names,
        beta=x[p_cols:].copy(),
        beta_se=se[p_cols:],
        position_se=float(se[m]) if position else None,
        dropped=dropped,
    )
