"""Coordinated groups of voter ids, tested later on their pooled votes.

- ``ip``: each voter id belongs to the group value (e.g. ``ip_hash``) most of its votes
  came from; ids that share it form a group. One group per id keeps the union bound
  over groups at one test per voter.
- ``co-vote``: two ids are linked when at least ``min_covotes`` of their votes went to
  the same side of the same pair (ties alike) within ``window`` seconds of each other;
  the connected parts of that graph with two or more ids are groups.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..io import A_WINS, B_WINS
from .evidence import Floats, Ints

MAX_OFFSET = 256  # neighbours in (pair, side, time) order compared per vote


def primary_groups(
    voter: Ints, group: Ints, n_voters: int, labels: Sequence[str], missing: str
) -> tuple[Ints, list[str]]:
    """Each voter's most frequent group (-1 when it is the missing value), and the labels."""
    n_groups = len(labels)
    key = voter * n_groups + group
    uniq, counts = np.unique(key, return_counts=True)
    v, g = uniq // n_groups, uniq % n_groups
    order = np.lexsort((g, -counts, v))  # per voter: most votes first, then first label
    v, g = v[order], g[order]
    first = np.ones(len(v), dtype=bool)
    first[1:] = v[1:] != v[:-1]
    primary = np.full(n_voters, -1, dtype=np.int64)
    primary[v[first]] = g[first]
    bad = [k for k, label in enumerate(labels) if label in (missing, "", "nan", "None")]
    if bad:
        primary[np.isin(primary, bad)] = -1
    return primary, list(labels)


def covote_links(
    a: Ints, b: Ints, y: npt.NDArray[np.int8], voter: Ints, time: Floats, n_voters: int, window: float, min_covotes: int
) -> tuple[Ints, Ints]:
    """Pairs of voter ids (u < w) with at least ``min_covotes`` co-votes."""
    none = np.zeros(0, dtype=np.int64)
    ok = np.isfinite(time)
    idx = np.flatnonzero(ok)
    if len(idx) < 2:
        return none, none
    a, b, y, voter, time = a[idx], b[idx], y[idx], voter[idx], time[idx]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    winner = np.where(y == A_WINS, a, np.where(y == B_WINS, b, -1))
    side = np.where(winner == lo, 0, np.where(winner == hi, 1, 2))
    m = int(max(a.max(), b.max())) + 1
    key = (lo * m + hi) * 3 + side
    order = np.lexsort((time, key))
    key, voter, time = key[order], voter[order], time[order]
    links_v: list[Ints] = []
    links_i: list[Ints] = []
    links_j: list[Ints] = []
    for off in range(1, MAX_OFFSET + 1):
        near = (key[off:] == key[:-off]) & (time[off:] - time[:-off] <= window)
        if not near.any():
            break
        i = np.flatnonzero(near)
        j = i + off
        vi, vj = voter[i], voter[j]
        other = vi != vj
        i, j, vi, vj = i[other], j[other], vi[other], vj[other]
        links_v.append(np.minimum(vi, vj) * n_voters + np.maximum(vi, vj))
        links_i.append(np.where(vi < vj, i, j))
        links_j.append(np.where(vi < vj, j, i))
    if not links_v or not sum(len(x) for x in links_v):
        return none, none
    pair = np.concatenate(links_v)
    # co-votes of a pair of ids: distinct votes on each side, the smaller count
    n_votes = len(key)
    left = np.unique(pair * n_votes + np.concatenate(links_i)) // n_votes
    right = np.unique(pair * n_votes + np.concatenate(links_j)) // n_votes
    pairs, n_left = np.unique(left, return_counts=True)
    pairs_r, n_right = np.unique(right, return_counts=True)
    n = np.minimum(n_left, n_right[np.searchsorted(pairs_r, pairs)])
    strong = pairs[n >= min_covotes]
    return strong // n_voters, strong % n_voters


def components(u: Ints, w: Ints, keep: npt.NDArray[np.bool_], n_voters: int) -> Ints:
    """Group of each voter (-1: none) in the graph of links between kept voters; groups
    have two or more ids and are numbered from 0, largest first."""
    out = np.full(n_voters, -1, dtype=np.int64)
    ok = keep[u] & keep[w]
    u, w = u[ok], w[ok]
    if len(u) == 0:
        return out
    graph = sp.coo_matrix((np.ones(len(u)), (u, w)), shape=(n_voters, n_voters)).tocsr()
    _, comp = connected_components(graph, directed=False)
    sizes = np.bincount(comp)
    linked = np.zeros(n_voters, dtype=bool)
    linked[u] = linked[w] = True
    big = np.flatnonzero(sizes >= 2)
    big = big[np.argsort(-sizes[big], kind="stable")]
    renumber = np.full(len(sizes), -1, dtype=np.int64)
    renumber[big] = np.arange(len(big))
    out = np.where(linked, renumber[comp], -1)
    return out
