"""Online Elo in timestamp order (FastChat's ``compute_elo``), for comparison with BT.

Each vote moves both ratings by K·(score − expected), expected = 1/(1 + base^((r_b −
r_a)/scale)); a tie scores ½. Unlike BT the result depends on the order of votes and
on K, and it has no likelihood to draw intervals from — which is why the leaderboard
uses BT. It needs individual votes (not counted rows), read in full, O(votes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import RankingError
from .io import A_WINS, B_WINS, BOTH_BAD, VoteSource, open_votes
from .options import BOTH_BAD as BOTH_BAD_CHOICES
from .options import BothBad


def online_elo(
    data: VoteSource,
    *,
    k: float = 4.0,
    init: float = 1000.0,
    scale: float = 400.0,
    base: float = 10.0,
    both_bad: BothBad = "tie",
    strict: bool = False,
    all_battles: bool = False,
) -> pd.Series:
    """Elo ratings after one pass over the votes, sorted best first.

    Votes are taken in timestamp order when a timestamp column (tstamp, timestamp,
    time, created_at) exists, else in file order. ``both_bad="drop"`` skips both-bad
    votes; otherwise they count as ties. ``strict`` and ``all_battles`` as in
    :class:`ranking.RankOptions` (rows that cannot be rated are skipped by default).
    """
    if not k > 0:
        raise RankingError("the Elo K-factor must be positive")
    if both_bad not in BOTH_BAD_CHOICES:
        raise RankingError(f"both_bad must be one of {', '.join(BOTH_BAD_CHOICES)}, not {both_bad!r}")
    src = open_votes(data, need_time=True, strict=strict, all_battles=all_battles)
    parts = list(src.batches)
    if not parts or sum(len(p.a) for p in parts) == 0:
        raise src.no_votes_left()
    a = np.concatenate([p.a for p in parts])
    b = np.concatenate([p.b for p in parts])
    w = np.concatenate([p.winner for p in parts])
    if src.columns.time is not None:
        order = np.argsort(np.concatenate([p.time for p in parts]), kind="stable")
        a, b, w = a[order], b[order], w[order]
    if both_bad == "drop":
        keep = w != BOTH_BAD
        a, b, w = a[keep], b[keep], w[keep]
    if (a == b).any():
        raise RankingError("some votes compare a model with itself")
    names = [str(v) for v in src.models.values]
    if len(set(a.tolist()) | set(b.tolist())) < 2:
        raise RankingError("only one model: nothing to rank")
    score = np.where(w == A_WINS, 1.0, np.where(w == B_WINS, 0.0, 0.5)).tolist()
    r = [init] * len(names)
    for x, y, s in zip(a.tolist(), b.tolist(), score, strict=True):
        e = 1.0 / (1.0 + base ** ((r[y] - r[x]) / scale))
        delta = k * (s - e)
        r[x] += delta
        r[y] -= delta
    used = sorted(set(a.tolist()) | set(b.tolist()))
    out = pd.Series({names[u]: r[u] for u in used}, name="elo")
    out.index.name = "model"
    return out.sort_values(ascending=False)
