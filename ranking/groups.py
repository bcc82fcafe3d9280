"""Grouped leaderboards: one fit per value of a column (category, language, dimension...).

Each group is fitted on its own votes with its own intervals. A group with fewer than
``min_votes`` votes is reported as :class:`TooSmall` rather than fitted: with a few
hundred votes spread over many models, intervals are wide and ranks mostly noise
(FastChat hides categories below 300 votes). A group whose votes cannot be fitted
(one model, a disconnected graph) is also reported, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .counts import Counts
from .errors import RankingError
from .result import Leaderboard, TooSmall


def grouped(counts: Counts, min_votes: int, board: Callable[[int], Leaderboard]) -> dict[str, Leaderboard | TooSmall]:
    """Map group label -> ``board(group_code)`` or :class:`TooSmall`, largest group first.

    Labels are the column's values as strings; raises :class:`RankingError` when two
    values differ only in type (``1`` and ``"1"``).
    """
    if counts.group is None:
        raise RankingError("no group column was read")
    labels = [str(g) for g in counts.groups]
    if len(set(labels)) < len(labels):
        raise RankingError("two group labels differ only in type (e.g. 1 and '1')")
    totals = np.bincount(counts.group, weights=counts.n, minlength=len(labels))
    out: dict[str, Leaderboard | TooSmall] = {}
    for code in np.argsort(-totals, kind="stable"):
        label, votes = labels[code], int(round(totals[code]))
        if votes == 0:
            continue
        if votes < min_votes:
            out[label] = TooSmall(label, votes, f"{votes} votes, fewer than min_votes={min_votes}")
            continue
        try:
            out[label] = board(int(code))
        except RankingError as exc:
            out[label] = TooSmall(label, votes, str(exc))
    return out
