"""What a ranking run returns: a :class:`Leaderboard`, or :class:`TooSmall` for a group
that was not fitted. Both turn into plain JSON via ``to_dict()``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

ROW_KEYS = ("model", "rating", "ci_low", "ci_high", "rank", "rank_ub", "rank_low",
            "rank_high", "votes", "win_rate", "provisional")


def _plain(x: Any) -> Any:
    """numpy scalars -> Python, NaN/inf -> None, recursively: safe for json.dumps."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    return x


def _matrix(df: pd.DataFrame) -> dict:
    return {"models": list(df.index), "values": _plain(df.to_numpy())}


@dataclass
class Leaderboard:
    """One leaderboard: rows best first, matrices indexed by model in row order.

    ``rows``: dicts with keys model, rating, ci_low, ci_high, rank, rank_ub, rank_low,
    rank_high, votes, win_rate, provisional. ``replicas`` holds the bootstrap (or
    sandwich-normal) ratings, rounds × models in row order, for further analysis; it is
    not part of ``to_dict()``.
    """

    rows: list[dict]
    win_rate_matrix: pd.DataFrame
    predicted_win_rate: pd.DataFrame
    battle_counts: pd.DataFrame
    diagnostics: dict
    replicas: np.ndarray | None = field(default=None, repr=False)

    @property
    def models(self) -> list[str]:
        return [r["model"] for r in self.rows]

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=list(self.rows[0].keys()) if self.rows else ROW_KEYS)

    def to_dict(self) -> dict:
        return {"rows": _plain(self.rows), "diagnostics": _plain(self.diagnostics),
                "win_rate_matrix": _matrix(self.win_rate_matrix),
                "predicted_win_rate": _matrix(self.predicted_win_rate),
                "battle_counts": _matrix(self.battle_counts)}

    def __repr__(self) -> str:
        d = self.diagnostics
        return (f"Leaderboard({len(self.rows)} models, {d.get('n_votes', 0):,.0f} votes, "
                f"ci={d.get('ci')}, top={self.rows[0]['model'] if self.rows else None})")


@dataclass
class TooSmall:
    """A group that was reported, not fitted: too few votes, or no valid comparison."""

    group: Any
    votes: int
    reason: str
    too_small: bool = True

    def to_dict(self) -> dict:
        return _plain({"group": self.group, "votes": self.votes, "too_small": True,
                       "reason": self.reason})
