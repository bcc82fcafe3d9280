"""What a ranking run returns: a :class:`Leaderboard` of :class:`BoardRow`, or
:class:`TooSmall` for a group that was not fitted. Both turn into plain JSON via
``to_dict()``; a leaderboard's rows also as plain dicts (``records()``) or a DataFrame
(``to_frame()``). pandas is imported only when a DataFrame is asked for."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Literal, NotRequired, TypeAlias, TypedDict

import numpy as np
import numpy.typing as npt

from .options import BothBad, CIMethod, Ties

if TYPE_CHECKING:
    import pandas as pd

JSON: TypeAlias = "None | bool | int | float | str | list[JSON] | dict[str, JSON]"


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One model on a leaderboard.

    ``rating``: 1000 + 400·log10(strength ratio to the mean), or shifted by the anchor;
    ``ci_low``–``ci_high``: its interval at the board's level. ``rank``: 1 + number of
    models rated higher; ``rank_ub``: 1 + number of models whose lower bound is above
    this model's upper bound (LMArena's Rank (UB)); ``rank_low``–``rank_high``: the
    central interval of its rank across replicas. ``votes``: votes it took part in;
    ``win_rate``: its score share (a tie is half a win); ``provisional``: fewer votes
    than ``provisional_votes``.
    """

    model: str
    rating: float
    ci_low: float
    ci_high: float
    rank: int
    rank_ub: int
    rank_low: int
    rank_high: int
    votes: int
    win_rate: float
    provisional: bool

    def as_dict(self) -> BoardRowDict:
        """The row as a plain dict (Python scalars; the keys of :data:`ROW_KEYS`)."""
        return BoardRowDict(
            model=self.model,
            rating=self.rating,
            ci_low=self.ci_low,
            ci_high=self.ci_high,
            rank=self.rank,
            rank_ub=self.rank_ub,
            rank_low=self.rank_low,
            rank_high=self.rank_high,
            votes=self.votes,
            win_rate=self.win_rate,
            provisional=self.provisional,
        )


class BoardRowDict(TypedDict):
    """:meth:`BoardRow.as_dict`: the same fields, as a dict."""

    model: str
    rating: float
    ci_low: float
    ci_high: float
    rank: int
    rank_ub: int
    rank_low: int
    rank_high: int
    votes: int
    win_rate: float
    provisional: bool


ROW_KEYS: tuple[str, ...] = tuple(f.name for f in fields(BoardRow))


class Diagnostics(TypedDict):
    """How a board was fitted: convergence, settings, sizes and timings (seconds).

    ``position_advantage`` (Elo points, with its ``_se``) is present with
    ``position=True``, ``tie_param`` (Davidson's ν) with ``ties="davidson"``, the
    ``bootstrap_*`` keys with a bootstrap, ``n_voters`` with ``ci="cluster"``.
    ``skipped``: rows of the input that were skipped, by reason (``not_anonymous``,
    ``missing_field``, ``unknown_winner``, ``self_comparison``; only reasons that
    occurred), for the whole input (also on a group's board); present on boards that
    :func:`ranking.rank` and its siblings return. ``style`` ("controlled"),
    ``style_reg`` and ``style_dropped`` (constant features, not fitted) with style control.
    """

    converged: bool
    iterations: int
    grad_norm: float
    tol: float
    ci: CIMethod
    level: float
    rounds: int
    seed: int
    n_votes: float
    n_models: int
    n_pairs: int
    family: Literal["bt", "davidson"]
    prior: float
    anchor: tuple[str, float] | None
    loglik: float
    ties: Ties
    both_bad: BothBad
    reweight: bool
    position: bool
    device: str
    timings: dict[str, float]
    bootstrap_unconverged: NotRequired[int]
    bootstrap_max_grad_norm: NotRequired[float]
    n_voters: NotRequired[int]
    position_advantage: NotRequired[float]
    position_advantage_se: NotRequired[float]
    tie_param: NotRequired[float]
    skipped: NotRequired[dict[str, int]]
    style: NotRequired[str]
    style_reg: NotRequired[float]
    style_dropped: NotRequired[list[str]]


def _plain(x: object) -> JSON:
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
    if x is None or isinstance(x, str):
        return x
    return str(x)


@dataclass(frozen=True)
class PairMatrices:
    """The models × models matrices of a board, as numpy, rows and columns in ``models``
    order: observed score share of the row model against the column model (NaN where
    they never met), the same predicted by the fit, and votes per pair."""

    models: tuple[str, ...]
    observed: npt.NDArray[np.float64]
    predicted: npt.NDArray[np.float64]
    battles: npt.NDArray[np.int64]

    def frame(self, values: npt.NDArray[np.generic]) -> pd.DataFrame:
        import pandas as pd

        names = list(self.models)
        return pd.DataFrame(values, index=pd.Index(names, name="model"), columns=names)

    def to_json(self, values: npt.NDArray[np.generic]) -> JSON:
        return {"models": [str(m) for m in self.models], "values": _plain(values)}


@dataclass(frozen=True)
class Leaderboard:
    """One leaderboard: rows best first, matrices indexed by model in row order.

    ``win_rate_matrix``: observed score share of the row model against the column
    model (NaN where they never met); ``predicted_win_rate``: the same from the fit;
    ``battle_counts``: votes per pair; each a DataFrame, built on first use from
    ``matrices`` (the same as numpy). ``replicas`` holds the bootstrap (or
    sandwich-normal) ratings, rounds × models in row order, for further analysis; it is
    not part of ``to_dict()``. ``style`` (with style control only): the fitted style
    coefficients, log-odds per standard deviation of each feature (positive: voters
    favour the side with more of it), and ``style_ci`` their intervals at the board's
    level.
    """

    rows: tuple[BoardRow, ...]
    matrices: PairMatrices = field(repr=False)
    diagnostics: Diagnostics
    replicas: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    style: dict[str, float] | None = None
    style_ci: dict[str, tuple[float, float]] | None = None

    @property
    def models(self) -> list[str]:
        return [r.model for r in self.rows]

    @cached_property
    def win_rate_matrix(self) -> pd.DataFrame:
        return self.matrices.frame(self.matrices.observed)

    @cached_property
    def predicted_win_rate(self) -> pd.DataFrame:
        return self.matrices.frame(self.matrices.predicted)

    @cached_property
    def battle_counts(self) -> pd.DataFrame:
        return self.matrices.frame(self.matrices.battles)

    def records(self) -> list[BoardRowDict]:
        """The rows as plain dicts, best first."""
        return [r.as_dict() for r in self.rows]

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with the columns of :data:`ROW_KEYS`."""
        import pandas as pd

        return pd.DataFrame(self.records(), columns=list(ROW_KEYS))

    def to_dict(self) -> dict[str, JSON]:
        """rows, diagnostics and the three matrices ({"models", "values"}) as plain JSON;
        with style control also ``style`` ({feature: {"coef", "ci_low", "ci_high"}})."""
        out: dict[str, JSON] = {
            "rows": _plain(self.records()),
            "diagnostics": _plain(self.diagnostics),
            "win_rate_matrix": self.matrices.to_json(self.matrices.observed),
            "predicted_win_rate": self.matrices.to_json(self.matrices.predicted),
            "battle_counts": self.matrices.to_json(self.matrices.battles),
        }
        if self.style is not None:
            ci = self.style_ci or {}
            out["style"] = {
                k: _plain(
                    {"coef": v, "ci_low": ci.get(k, (math.nan,) * 2)[0], "ci_high": ci.get(k, (math.nan,) * 2)[1]}
                )
                for k, v in self.style.items()
            }
        return out

    def __repr__(self) -> str:
        d = self.diagnostics
        return (
            f"Leaderboard({len(self.rows)} models, {d['n_votes']:,.0f} votes, "
            f"ci={d['ci']}, top={self.rows[0].model if self.rows else None})"
        )


@dataclass(frozen=True)
class TooSmall:
    """A group that was reported, not fitted: too few votes, or no valid comparison."""

    group: str
    votes: int
    reason: str

    @property
    def too_small(self) -> Literal[True]:
        return True

    def to_dict(self) -> dict[str, JSON]:
        return {"group": self.group, "votes": self.votes, "too_small": True, "reason": self.reason}
