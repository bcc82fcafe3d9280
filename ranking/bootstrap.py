"""Batched bootstrap: resample counts for B rounds at once and refit them all together.

Two resampling schemes, both on sufficient statistics:

* cells: the N votes are redrawn with replacement, i.e. the 3R cell counts are one
  multinomial draw Mult(N, counts/N) per round (FastChat/arena-rank's bootstrap, but
  O(cells) per round instead of O(votes); see :func:`sample_cells`).
* voters: voters are redrawn with replacement (V draws from V voters), and a round's
  cell counts are Σ_v (times voter v was drawn)·(voter v's counts) — one sparse
  product. Votes of one voter move together, which is what makes the interval honest
  when voters have personal tastes. With weights, each voter's counts are weighted by
  the voter's own weights, not by their cell's mean.

Refitting: every replica starts at the point estimate x̂ and takes chord-Newton steps
x ← x + H⁻¹ ∇(ℓ + prior) with the point fit's Hessian H, shared by all replicas. A
replica's Hessian differs from H by O(1/√n), so the iteration contracts fast (typically
4–6 steps to max|∇f| ≤ 1e-8), and a step is two (B×R)·(R×M) products plus elementwise
work — no per-replica solves. Replicas still unconverged after ``MAX_CHORD`` steps get
the full damped Newton of :func:`ranking.bt.fit`.

Rounds are processed in fixed chunks, each with its own child of
``SeedSequence(seed)``, so results are reproducible and independent of the number of
threads; chunks run on a thread pool (numpy releases the GIL in sampling and BLAS).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .bt import Fit, fit, regularised
from .design import Pairs
from .families import FAMILIES, sigmoid
from .options import TOL
from .progress import Progress

if TYPE_CHECKING:
    import scipy.sparse as sp

CHUNK = 50
MAX_CHORD = 25


class NumpyOps:
    """The handful of array operations the generic refit needs, for numpy."""

    xp = np

    def asarray(self, a: Any) -> np.ndarray:
        return np.asarray(a, dtype=np.float64)

    def numpy(self, a: Any) -> np.ndarray:
        return np.asarray(a)

    def amax_abs(self, a: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.abs(a).max(axis=-1)
        return out

    def nonzero(self, mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask)

    def layout(self, a: np.ndarray) -> np.ndarray:
        """B × R arrays column-major, the layout the sparse products produce and take
        without copies, so elementwise work never mixes layouts."""
        return np.asfortranarray(a)

    def arange(self, n: int) -> np.ndarray:
        return np.arange(n)

    def cat(self, parts: list[Any], axis: int) -> np.ndarray:
        return np.concatenate(parts, axis=axis)

    def products(self, pairs: Pairs) -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
        """x ↦ x·Dᵀ (B × P → B × R) and g ↦ g·D (B × R → B × P) through the design's
        indices (two nonzeros per row, plus the position column): gathers and segment
        sums over whole rows of the R × B transposes, which B × R arrays in column-major
        order are without a copy. O(B·R), single-threaded, so chunks parallelise cleanly
        (a multithreaded BLAS called from several threads at once thrashes)."""
        m, p = pairs.n_models, pairs.n_params
        ends = (_segments(pairs.i), 1.0), (_segments(pairs.j), -1.0)

        def fwd(x: np.ndarray) -> np.ndarray:
            xt = np.ascontiguousarray(x.T)  # P × B
            d: np.ndarray = xt[pairs.i] - xt[pairs.j]  # R × B
            if pairs.position:
                d += xt[m]
            return d.T

        def bwd(g: np.ndarray) -> np.ndarray:
            gt = g.T  # R × B
            out = np.zeros((p, gt.shape[1]))
            for (order, nodes, starts), sign in ends:
                rows = gt if order is None else gt[order]
                out[nodes] += sign * np.add.reduceat(rows, starts, axis=0)
            if pairs.position:
                out[m] = gt.sum(axis=0)
            return out.T

        return fwd, bwd


def _segments(
    index: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.intp] | None, npt.NDArray[np.int64], npt.NDArray[np.intp]]:
    """Rows grouped by ``index``: the order that sorts them (None when they are sorted,
    as :func:`ranking.design.build_pairs` makes them by their first model), each group's
    value and where it starts in that order."""
    if bool((np.diff(index) >= 0).all()):
        nodes, starts = np.unique(index, return_index=True)
        return None, nodes, starts
    order = np.argsort(index, kind="stable")
    nodes, starts = np.unique(index[order], return_index=True)
    return order, nodes, starts


@dataclass
class Replicas:
    """θ of every round (rounds × M, centred) and how well the refits converged."""

    theta: np.ndarray
    unconverged: int
    max_grad: float


def chord_matrix(pairs: Pairs, f: Fit) -> np.ndarray:
    """H⁻¹ at the point estimate (regularised along 𝟙 when there is no prior)."""
    return np.linalg.inv(regularised(f.hessian, pairs.n_models, f.null_space))


def refit(
    ops: Any, pairs: Pairs, f: Fit, counts: Any, *, tol: float = TOL, hinv: np.ndarray | None = None
) -> tuple[np.ndarray, int, float]:
    """Fit every replica of ``counts`` (B × 3 × R, effective counts) from ``f``.

    Returns the parameter matrix (B × K, numpy), the number of replicas that did not
    reach ``tol`` and the largest max|∇f| at which a replica stopped.
    """
    xp = ops.xp
    fam = FAMILIES[f.family]
    m = pairs.n_models
    fwd, bwd = ops.products(pairs)
    P = pairs.n_params
    Hinv = ops.asarray(chord_matrix(pairs, f) if hinv is None else hinv)
    B = counts.shape[0]
    W, L, T = counts[:, 0], counts[:, 1], counts[:, 2]
    stats = tuple(ops.layout(s) for s in fam.suff(W, L, T))
    nb = (W + L + T).sum(-1)
    ratio = f.n / nb
    X = ops.asarray(np.tile(f.params, (B, 1)))
    idx = ops.arange(B)
    worst = 0.0
    for _ in range(MAX_CHORD):
        full = len(idx) == B
        Xa = X if full else X[idx]
        sa = stats if full else tuple(s[idx] for s in stats)
        d = fwd(Xa[:, :P])
        u = Xa[:, P : P + 1] if fam.tie_param else None
        gd, gu = fam.grad_suff(xp, sa, d, u)
        g = bwd(gd)
        if fam.tie_param:
            g = ops.cat([g, gu[:, None]], 1)
        th = Xa[:, :m]
        g[:, :m] = g[:, :m] + f.prior * (0.5 - sigmoid(xp, th))
        gn = ops.amax_abs(g) / nb[idx]
        over = gn > tol
        if bool((~over).any()):
            worst = max(worst, float(gn[~over].max()))
        still = ops.nonzero(over)
        idx = idx[still]
        if len(idx) == 0:
            break
        X[idx] = X[idx] + (g[still] @ Hinv) * ratio[idx][:, None]
    X = ops.numpy(X).copy()
    left = 0
    if len(idx):
        eff = ops.numpy(counts)
        for k in ops.numpy(idx):
            r = fit(pairs, f.family, prior=f.prior, tol=tol, x0=X[k], counts=eff[k])
            X[k] = r.params
            left += not r.converged
            worst = max(worst, r.grad_norm)
    return X, left, worst


def sample_cells(rng: np.random.Generator, raw: np.ndarray, size: int) -> np.ndarray:
    """``size`` exact multinomial redraws Mult(N, raw/N) of the cell counts (3 × R).

    numpy's multinomial costs one binomial (~100 ns) per cell and round. We draw
    independent Poisson(raw) counts instead (~2× cheaper), whose total N* ~ Poisson(N)
    is off by about √N, and correct it exactly: given N*, the Poisson counts are
    Mult(N*, p); adding N − N* draws from p (when N* < N), or removing N* − N of the N*
    drawn votes uniformly without replacement (when N* > N), gives Mult(N, p). The
    correction touches ~√N votes, O(√N log cells).
    """
    flat = raw.ravel()
    nz = np.flatnonzero(flat)
    lam = flat[nz]
    total = int(round(lam.sum()))
    cdf = np.cumsum(lam / lam.sum())
    draws = rng.poisson(lam, size=(size, len(nz)))
    for k in range(size):
        row = draws[k]
        extra = total - int(row.sum())
        if extra > 0:
            hit = np.minimum(np.searchsorted(cdf, rng.random(extra), side="right"), len(nz) - 1)
            row += np.bincount(hit, minlength=len(nz))
        elif extra < 0:
            votes = np.cumsum(row)
            pick = rng.choice(int(votes[-1]), size=-extra, replace=False)
            row -= np.bincount(np.searchsorted(votes, pick, side="right"), minlength=len(nz))
    out = np.zeros((size, flat.size))
    out[:, nz] = draws
    return out.reshape(size, *raw.shape)


def sample_voters(rng: np.random.Generator, voters: sp.csr_matrix, size: int) -> np.ndarray:
    """``size`` voter-cluster redraws: V voters drawn with replacement per round."""
    v = voters.shape[0]
    w = np.empty((size, v))
    for k in range(size):
        w[k] = np.bincount(rng.integers(0, v, size=v), minlength=v)
    cells = np.asarray(voters.T @ w.T).T
    return cells.reshape(size, 3, -1)


def bootstrap(
    pairs: Pairs,
    f: Fit,
    *,
    rounds: int,
    seed: int,
    kind: str = "cells",
    device: str = "cpu",
    progress: bool = False,
    tol: float = TOL,
) -> Replicas:
    """θ for ``rounds`` bootstrap replicas (cells or voters), numpy or torch."""
    if device != "cpu":
        from .torch_bootstrap import bootstrap_torch

        return bootstrap_torch(pairs, f, rounds=rounds, seed=seed, kind=kind, device=device, progress=progress, tol=tol)
    sizes = [min(CHUNK, rounds - s) for s in range(0, rounds, CHUNK)]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))
    ops = NumpyOps()
    hinv = chord_matrix(pairs, f)

    def one(k: int) -> tuple[np.ndarray, int, float]:
        rng = np.random.default_rng(seeds[k])
        if kind == "cells":
            raw = sample_cells(rng, pairs.counts, sizes[k])
            eff = raw if pairs.scale is None else raw * pairs.scale
        else:
            eff = sample_voters(rng, pairs.voters, sizes[k])  # weighted already: each voter's own weights
        return refit(ops, pairs, f, eff, tol=tol, hinv=hinv)

    workers = max(1, min(4, os.cpu_count() or 1, len(sizes)))
    results = []
    with Progress(rounds, f"bootstrap ({kind})", progress) as bar, ThreadPoolExecutor(workers) as pool:
        for k, res in enumerate(pool.map(one, range(len(sizes)))):
            results.append(res)
            bar.update(sizes[k])
    X = np.concatenate([r[0] for r in results])
    theta = X[:, : pairs.n_models]
    theta = theta - theta.mean(axis=1, keepdims=True)
    return Replicas(theta=theta, unconverged=sum(r[1] for r in results), max_grad=max(r[2] for r in results))
