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
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from .counts import Counts
from .errors import RankingError
from .io import A_WINS, B_WINS, BOTH_BAD
from .options import BOTH_BAD as BOTH_BAD_CHOICES
from .options import TIES, BothBad, Ties

if TYPE_CHECKING:
    import scipy.sparse as sp

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
    voters: sp.csr_matrix | None = None  # (voters, 3R) effective votes per voter and cell: scale applied
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

    # Products with the design through its indices (two nonzeros per row, plus the
    # position column): O(R), no BLAS threads and no scipy.sparse (whose import is a
    # tenth of a second of the command line's start).

    def forward(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """D x: the rows' d = θ_i − θ_j (+ h), for x of shape (..., P)."""
        d: npt.NDArray[np.float64] = x[..., self.i] - x[..., self.j]
        if self.position:
            d += x[..., self.n_models : self.n_models + 1]
        return d

    def backward(self, g: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Dᵀ g for one value per row (R,): the P parameters' sums."""
        p = self.n_params
        out = (np.bincount(self.i, g, p) - np.bincount(self.j, g, p)).astype(np.float64, copy=False)
        if self.position:
            out[-1] = g.sum()
        return out

    def gram(self, w: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """Dᵀ diag(w) D, dense P × P."""
        p, m = self.n_params, self.n_models
        if "G" not in self._design:
            i, j = self.i, self.j
            parts = [i * p + i, j * p + j, i * p + j, j * p + i]
            if self.position:
                parts += [i * p + m, m * p + i, j * p + m, m * p + j, np.full(len(i), m * p + m)]
            self._design["G"] = np.concatenate(parts)
        signs = [w, w, -w, -w] + ([w, w, -w, -w, w] if self.position else [])
        out = np.bincount(self._design["G"], np.concatenate(signs), p * p).astype(np.float64, copy=False)
        return out.reshape(p, p)


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
    weighted = scale
    i, j = rows // m, rows % m
    if reweight:
        scale = _inverse_pair_frequency(i, j, raw, scale)
    voters = None
    if with_voters and counts.voter is not None:
        import scipy.sparse as sp

        # each voter's own weighted votes (a cell's mean weight would redraw a voter's votes at
        # other voters' weights), times the pair reweighting on top of the weights, if any
        own = n if w is None else w
        if scale is not None:
            own = own * (scale if weighted is None else np.divide(scale, weighted)).ravel()[cell]
        v, vcode = np.unique(counts.voter[keep], return_inverse=True)
        voters = sp.csr_matrix((own, (vcode.ravel(), cell)), shape=(len(v), 3 * len(rows)))
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
    """Connected components of the comparison graph (models joined by any vote), largest
    first; components of one size in the order of their first model."""
    total = pairs.counts.sum(axis=0) > 0
    label = component_labels(pairs.n_models, pairs.i[total], pairs.j[total])
    comps = [[pairs.models[k] for k in np.flatnonzero(label == c)] for c in np.unique(label)]
    return sorted(comps, key=len, reverse=True)


def component_labels(m: int, i: npt.NDArray[np.int64], j: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Each of m nodes' smallest node in its connected component (edges i–j).

    Label propagation with pointer jumping, in numpy: every node keeps a node of its own
    component no larger than itself; edges pull both ends down to the smaller label and
    labels jump to their label's label, until nothing changes. A few passes over the
    edges for an arena's graph, and no scipy.sparse.csgraph to import.
    """
    label = np.arange(m)
    while True:
        new = label.copy()
        np.minimum.at(new, i, label[j])
        np.minimum.at(new, j, label[i])
        while True:
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return label
        label = new


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
    import scipy.sparse as sp  # only without a prior (not the default): not on every start
    from scipy.sparse.csgraph import connected_components

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
