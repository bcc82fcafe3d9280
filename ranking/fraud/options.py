"""The options of an audit, each checked when it is built (no numpy, pandas or scipy here).

:class:`AuditOptions` fails before any vote is read, with a :class:`RankingError` that
says what is allowed, like :class:`ranking.RankOptions`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, SupportsFloat, get_args

from ..errors import RankingError
from ..options import check_integer

AuditFormat = Literal["table", "json"]
AUDIT_FORMATS: tuple[AuditFormat, ...] = get_args(AuditFormat)

ALPHA = 0.01  # default level: share of honest voters ever flagged
TOLERANCE = 0.5  # personal taste allowed per model, natural-log strength (~87 Elo)
POSITION_TOLERANCE = 0.25  # personal left/right preference allowed, log-odds
NEIGHBOURS = 3  # omnipresent rigging: the models ranked just above a target
WINDOW = 600.0  # seconds: co-votes (same pair, same side) closer than this link voters
MIN_COVOTES = 2  # co-votes that link two voter ids
PASSES = 3  # refits of the consensus without the flagged voters
SYBIL_IDS = 10  # a group behind one ip_hash with this many voter ids is listed


@dataclass(frozen=True)
class AuditOptions:
    """How to audit a votes table; every field is checked on construction.

    ``alpha``: the level. Under continuous monitoring (the audit rerun after every vote)
    a voter who follows the consensus board, up to the tolerances below, is ever flagged
    with probability at most ``alpha``: a quarter of it is spent on the voter's ``ip_hash``
    group (when there is a group column), a quarter on its co-vote group (when there is a
    time column), the rest on the voter's own tests.
    ``voter``: voter column (default: judge, judge_hash or voter). ``group``: column that
    groups voters for coordination tests (default: ``ip_hash`` when present; ``""``
    turns group tests off). ``tolerance``: the personal taste for or against one model
    that still counts as honest, in natural-log strength (0.5 is about 87 Elo).
    ``position_tolerance``: the personal left/right preference that counts as honest,
    in log-odds. ``neighbours``: how many models ranked just above a target the
    omnipresent test watches. ``window`` (seconds) and ``min_covotes``: two voter ids
    that cast ``min_covotes`` votes for the same side of the same pair, each within
    ``window`` of the other's, are linked; linked ids form a co-vote group (needs a time
    column). ``passes``: how many times the consensus is refitted without the voters
    flagged so far. ``sybil_ids``: groups with at least this many voter ids are listed
    in the report even when their votes pass. ``strict``: refuse rows with a missing
    field, an unknown winner label or one model on both sides instead of skipping them
    (the report's ``skipped`` counts them). ``all_battles``: audit every battle even where
    an ``anony`` column says it was not anonymous.
    """

    alpha: float = ALPHA
    voter: str | None = None
    group: str | None = None
    tolerance: float = TOLERANCE
    position_tolerance: float = POSITION_TOLERANCE
    neighbours: int = NEIGHBOURS
    window: float = WINDOW
    min_covotes: int = MIN_COVOTES
    passes: int = PASSES
    sybil_ids: int = SYBIL_IDS
    strict: bool = False
    all_battles: bool = False

    def __post_init__(self) -> None:
        alpha = _number("alpha", self.alpha)
        if not 0 < alpha < 1:
            raise RankingError(f"alpha must be between 0 and 1 (exclusive), not {alpha:g}")
        self._set("alpha", alpha)
        for name in ("tolerance", "position_tolerance"):
            value = _number(name, getattr(self, name))
            if value < 0:
                raise RankingError(f"{name} must be a finite number >= 0, not {value:g}")
            self._set(name, value)
        window = _number("window", self.window)
        if not window > 0:
            raise RankingError(f"window must be a positive number of seconds, not {window:g}")
        self._set("window", window)
        self._set("neighbours", check_integer("neighbours", self.neighbours, minimum=0))
        self._set("min_covotes", check_integer("min_covotes", self.min_covotes, minimum=1))
        self._set("passes", check_integer("passes", self.passes, minimum=1))
        self._set("sybil_ids", check_integer("sybil_ids", self.sybil_ids, minimum=2))
        if self.voter is not None and (not isinstance(self.voter, str) or not self.voter):
            raise RankingError(f"voter must be a column name or None, not {self.voter!r}")
        for name in ("strict", "all_battles"):
            if not isinstance(getattr(self, name), bool):
                raise RankingError(f"{name} must be True or False, not {getattr(self, name)!r}")
        if self.group is not None and not isinstance(self.group, str):
            raise RankingError(f"group must be a column name, '' (off) or None, not {self.group!r}")

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, SupportsFloat):
        raise RankingError(f"{name} must be a number, not {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise RankingError(f"{name} must be a finite number, not {value!r}")
    return x
