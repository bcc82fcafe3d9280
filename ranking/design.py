"""From counts to the fitting problem: rows of (left model i, right model j) with the
number of votes each outcome got, after the tie conventions are applied.

Outcomes per row are ``[i wins, j wins, tie]``. Without a position parameter the side
does not matter, so rows are unordered pairs (i < j) and the problem has at most
M(M-1)/2 rows; with ``position=True`` rows are ordered, i being ``model_a`` (first,
left). ``scale`` multiplies the raw counts (per-vote weights and inverse-pair-frequency
reweighting) while ``counts`` stays raw, so the bootstrap resamples votes, not weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .counts import Counts
from .errors import RankingError
from .io import A_WINS, B_WINS, BOTH_BAD
from .options import BOTH_BAD as BOTH_BAD_CHOICES
from .options import TIES, BothBad, Ties

WIN, LOSS, DRAW = 0, 1, 2
REWEIGHT_FLOOR = 50  # arena-rank's min_pair_count: pairs rarer than this are not up-weighted further


@dataclass(frozen=True)
class Pairs:
    models: tuple[str, ...]
    i: np.ndarray
    j: np.ndarray
    counts: np.ndarray  # (3, R) raw votes: i wins, j wins, ties
    scale: np.ndarray | None = None  # (3, R) weight per vote, None = all ones
    position: bool = False
    voters: sp.csr_matrix | None = None  # (voters, 3R) raw votes per voter and cell
    _design: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_models(self) -> int:
        return len(self.models)

    @property
    def n_params(self) -> int:
        return self.n_models + int(self.position)

    @property
    def effective(self) -> np.ndarray:
        return self.counts if self.scale is None else self.counts * self.scale

    def design(self) -> npt.NDArray[np.float64]:
        """Dense R x P matrix: +1 at i, -1 at j, and a column of ones for position.

        Dense on purpose: the batched bootstrap multiplies it with (B x R) blocks, which
        BLAS (or a GPU) does faster than any scatter at M in the hundreds.
        """
        if "D" not in self._design:
            r = len(self.i)
            d = np.zeros((r, self.n_params))
            d[np.arange(r), self.i] = 1.0
            d[np.arange(r), self.j] = -1.0
            if self.position:
                d[:, -1] = 1.0
            self._design["D"] = d
        out: npt.NDArray[np.float64] = self._design["D"]
        return out

    def sparse_design(self) -> sp.csr_matrix:
        """The design as CSR: products with it cost O(R), with no BLAS threads."""
        if "S" not in self._design:
            self._design["S"] = sp.csr_matrix(self.design())
        return self._design["S"]


def build_pairs(
    counts: Counts,
    *,
    ties: Ties = "half",
    both_bad: BothBad = "tie",
    position: bool = False,
    reweight: bool = False,
    group: int | None = None,
    with_voters: bool = False,
) -> Pairs:
    """Apply the tie conventions and collapse cells to rows (one per pair, or ordered pair).

    ``ties``: "half" or "davidson" keep ties, "drop" removes them. ``both_bad``: "tie"
    counts it as a tie, "drop" removes it.
    """
    if ties not in TIES:
        raise RankingError(f"ties must be one of {', '.join(TIES)}, not {ties!r}")
    if both_bad not in BOTH_BAD_CHOICES:
        raise RankingError(f"both_bad must be one of {', '.join(BOTH_BAD_CHOICES)}, not {both_bad!r}")
    keep = np.ones(len(counts.n), dtype=bool)
    if group is not None:
        keep &= counts.group == group
    o = counts.outcome
    if ties == "drop":
        keep &= (o == A_WINS) | (o == B_WINS)
    elif both_bad == "drop":
        keep &= o != BOTH_BAD
    a, b, o, n = counts.a[keep], counts.b[keep], o[keep], counts.n[keep]
    w = counts.w[keep] if counts.w is not None else None
    if len(n) == 0:
        raise RankingError("no votes left after applying the tie conventions")
    k = np.where(o == A_WINS, WIN, np.where(o == B_WINS, LOSS, DRAW))
    if not position:
        swap = a > b
        a, b = np.where(swap, b, a), np.where(swap, a, b)
        k = np.where(swap & (k != DRAW), 1 - k, k)
    used = np.unique(np.concatenate([a, b]))
    lut = np.full(len(counts.models), -1, dtype=np.int64)
    lut[used] = np.arange(len(used))
    a, b = lut[a], lut[b]
    m = len(used)
    rows, row_of = np.unique(a * m + b, return_inverse=True)
    row_of = row_of.ravel()
    cell = k * len(rows) + row_of
    raw = np.bincount(cell, weights=n, minlength=3 * len(rows)).reshape(3, len(rows))
    scale = None
    if w is not None:
        wsum = np.bincount(cell, weights=w, minlength=3 * len(rows)).reshape(3, len(rows))
        scale = np.divide(wsum, raw, out=np.ones_like(raw), where=raw > 0)
    i, j = rows // m, rows % m
    if reweight:
        scale = _inverse_pair_frequency(i, j, raw, scale)
    voters = None
    if with_voters and counts.voter is not None:
        v, vcode = np.unique(counts.voter[keep], return_inverse=True)
        voters = sp.csr_matrix((n, (vcode.ravel(), cell)), shape=(len(v), 3 * len(rows)))
        voters.sum_duplicates()
    return Pairs(
        models=tuple(counts.models[u] for u in used),
        i=i,
        j=j,
        counts=raw,
        scale=scale,
        position=position,
        voters=voters,
    )


def _inverse_pair_frequency(i: np.ndarray, j: np.ndarray, raw: np.ndarray, scale: np.ndarray | None) -> np.ndarray:
    """arena-rank's reweighting: each vote of pair {i, j} weighs 1/max(n_ij, 50).

    This approximates inverse-propensity weighting (Chiang et al. 2024, eq. 7) with
    realised pair counts, so that over-sampled pairs do not dominate the fit. Weights
    are normalised so the weighted number of votes equals the raw number.
    """
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    m = int(max(hi.max(), 0)) + 1
    pair = lo * m + hi
    per_row = raw.sum(axis=0)
    _, inv = np.unique(pair, return_inverse=True)
    n_pair = np.bincount(inv.ravel(), weights=per_row)[inv.ravel()]
    factor = 1.0 / np.maximum(n_pair, REWEIGHT_FLOOR)
    base = np.ones_like(raw) if scale is None else scale
    new = base * factor
    out: np.ndarray = new * ((raw * base).sum() / (raw * new).sum())
    return out


def check_connected(pairs: Pairs) -> list[list[str]]:
    """Connected components of the comparison graph (models joined by any vote)."""
    m = pairs.n_models
    total = pairs.counts.sum(axis=0) > 0
    g = sp.coo_matrix((np.ones(total.sum()), (pairs.i[total], pairs.j[total])), shape=(m, m))
    n_comp, label = connected_components(g, directed=False)
    comps = [[pairs.models[k] for k in np.flatnonzero(label == c)] for c in range(n_comp)]
    return sorted(comps, key=len, reverse=True)


def describe_components(comps: list[list[str]]) -> str:
    def show(c: list[str]) -> str:
        head = ", ".join(c[:4])
        return "{" + head + (f", +{len(c) - 4} more" if len(c) > 4 else "") + "}"

    return (
        f"the comparison graph is disconnected ({len(comps)} components: "
        + " | ".join(show(c) for c in comps[:5])
        + (" | ..." if len(comps) > 5 else "")
        + "); ratings across components are not comparable "
        "(rank_components, or --components separate, fits each one)"
    )


def check_mle_exists(pairs: Pairs) -> None:
    """Without a prior the MLE is finite only if every model both wins and loses along
    some cycle: the directed "beat (or tied)" graph must be strongly connected."""
    m = pairs.n_models
    c = pairs.counts
    fwd = (c[WIN] + c[DRAW]) > 0  # i scored against j: edge j -> i
    bwd = (c[LOSS] + c[DRAW]) > 0
    src = np.concatenate([pairs.j[fwd], pairs.i[bwd]])
    dst = np.concatenate([pairs.i[fwd], pairs.j[bwd]])
    g = sp.coo_matrix((np.ones(len(src)), (src, dst)), shape=(m, m))
    n_comp, label = connected_components(g, directed=True, connection="strong")
    if n_comp > 1:
        sizes = np.bincount(label)
        lonely = [pairs.models[k] for k in range(m) if sizes[label[k]] < m][:3]
        raise RankingError(
            "without a prior the ratings are infinite: some models never "
            f"lose (or never win) against the rest, e.g. {', '.join(lonely)}; "
            "use prior > 0"
        )


def subset_pairs(pairs: Pairs, names: list[str]) -> Pairs:
    """The rows among ``names`` only (one connected component), renumbered."""
    keep_models = np.isin(np.array(pairs.models, dtype=object), np.array(names, dtype=object))
    lut = np.cumsum(keep_models) - 1
    rows = keep_models[pairs.i] & keep_models[pairs.j]
    r = len(pairs.i)
    voters = None
    if pairs.voters is not None:
        cols = np.concatenate([np.flatnonzero(rows) + k * r for k in range(3)])
        voters = pairs.voters[:, cols].tocsr()
    return Pairs(
        models=tuple(m for m, k in zip(pairs.models, keep_models, strict=True) if k),
        i=lut[pairs.i[rows]],
        j=lut[pairs.j[rows]],
        counts=pairs.counts[:, rows],
        scale=None if pairs.scale is None else pairs.scale[:, rows],
        position=pairs.position,
        voters=voters,
    )
