"""The options of a ranking run, each allowed value and default said once.

:class:`RankOptions` is checked when it is built, so a bad value fails before any vote
is read, with a :class:`RankingError` that names the allowed values. The CLI, the
arena and the keyword arguments of :func:`ranking.rank` all go through it.

This module imports nothing heavy (no numpy, pandas or scipy): ``python -m ranking
--help`` and the arena's command line load it without the numerical stack.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, fields, replace
from typing import Literal, SupportsFloat, SupportsIndex, TypedDict, get_args

from .errors import RankingError

CIMethod = Literal["sandwich", "bootstrap", "cluster"]
"""``sandwich``: robust standard errors; ``bootstrap``: multinomial redraws of the vote
cells; ``cluster``: voters redrawn with replacement."""
Ties = Literal["half", "drop", "davidson"]
"""A tie is half a win each (LMArena), dropped, or fitted by Davidson's tie model."""
BothBad = Literal["tie", "drop"]
"""A ``both_bad`` vote counts as a tie, or is dropped."""
Style = Literal["none", "controlled"]
"""``controlled``: ratings with answer style held equal (a contextual Bradley-Terry fit
with style features, as LMArena's style control); ``none``: the plain fit."""
Format = Literal["table", "markdown", "csv", "json"]
"""Text renderings of the command line."""

CI_METHODS: tuple[CIMethod, ...] = get_args(CIMethod)
TIES: tuple[Ties, ...] = get_args(Ties)
BOTH_BAD: tuple[BothBad, ...] = get_args(BothBad)
FORMATS: tuple[Format, ...] = get_args(Format)
STYLES: tuple[Style, ...] = get_args(Style)
DEVICES = ("auto", "cpu", "cuda")  # and "cuda:N"

MIN_VOTES = 300  # smallest group that gets its own leaderboard
PROVISIONAL_VOTES = 300  # models with fewer votes are flagged provisional
PRIOR = 0.5  # virtual ties per model against the mean (see ranking.bt)
TOL = 1e-8  # max |gradient| of the per-vote mean loss at convergence


@dataclass(frozen=True)
class RankOptions:
    """How to turn votes into a leaderboard; every field is checked on construction.

    ``ci``: interval method, one of :data:`CI_METHODS`; ``rounds``: bootstrap rounds
    (also the normal draws behind the sandwich's rank intervals); ``level``: interval
    level in (0, 1). ``ties`` / ``both_bad``: tie conventions (:data:`TIES`,
    :data:`BOTH_BAD`). ``anchor=("model", 1114.0)`` shifts the scale so that model has
    that rating (intervals keep their width); default: mean 1000.
    ``provisional_votes``: models with fewer votes are flagged provisional. ``seed``:
    the bootstrap's and the normal draws' seed. ``reweight``: weigh each vote by
    1/max(pair count, 50) as arena-rank does. ``position``: fit a first-position
    (``model_a``) advantage. ``prior``: virtual ties per model against the mean (0 =
    plain MLE). ``tol``: convergence tolerance of the fit. ``device``: "auto", "cpu",
    "cuda" or "cuda:N" for the bootstrap. ``voter``: voter column for ``ci="cluster"``
    (default: judge, judge_hash or voter). ``weight``: per-vote weight column.
    ``progress``: progress bars on stderr. ``strict``: refuse rows with a missing
    field, an unknown winner label or one model on both sides instead of skipping them
    (the board's ``diagnostics["skipped"]`` counts what was skipped). ``all_battles``:
    count every battle even where an ``anony`` column says it was not anonymous.
    ``style``: "controlled" fits ratings with answer style held equal (style features
    from ``style_*`` columns or ``conversation_a`` / ``conversation_b``; see
    :mod:`ranking.style`), sandwich intervals (``ci="cluster"``: clustered by voter),
    ties "half" or "drop";
    ``style_reg``: ridge penalty ½·reg·N·‖β‖² on the style coefficients (0: plain MLE;
    1: arena-rank's default).

    Raises :class:`RankingError` naming the allowed values when a field is out of range.
    """

    ci: CIMethod = "sandwich"
    rounds: int = 1000
    level: float = 0.95
    ties: Ties = "half"
    both_bad: BothBad = "tie"
    anchor: tuple[str, float] | None = None
    provisional_votes: int = PROVISIONAL_VOTES
    seed: int = 0
    reweight: bool = False
    position: bool = False
    prior: float = PRIOR
    tol: float = TOL
    device: str = "auto"
    voter: str | None = None
    weight: str | None = None
    progress: bool = False
    strict: bool = False
    all_battles: bool = False
    style: Style = "none"
    style_reg: float = 0.0

    def __post_init__(self) -> None:
        _choice("ci", self.ci, CI_METHODS)
        _choice("ties", self.ties, TIES)
        _choice("both_bad", self.both_bad, BOTH_BAD)
        _choice("style", self.style, STYLES)
        self._set("style_reg", _number("style_reg", self.style_reg, minimum=0.0))
        if self.style == "controlled":
            if self.ci == "bootstrap":
                raise RankingError(
                    "style control has sandwich intervals (ci='sandwich', or 'cluster' for the "
                    "voter-clustered sandwich), not ci='bootstrap'"
                )
            if self.ties == "davidson":
                raise RankingError("style control fits ties as half a win (ties half or drop), not davidson")
            if self.reweight:
                raise RankingError("style control cannot be combined with reweight")
        if not isinstance(self.device, str) or (self.device not in DEVICES and not _is_cuda_index(self.device)):
            raise RankingError(f"device must be one of {', '.join(DEVICES)} or cuda:N, not {self.device!r}")
        self._set("rounds", check_integer("rounds", self.rounds, minimum=1))
        self._set("provisional_votes", check_integer("provisional_votes", self.provisional_votes, minimum=0))
        self._set("seed", check_integer("seed", self.seed, minimum=0))
        level = _number("level", self.level)
        if not 0 < level < 1:
            raise RankingError(f"level must be between 0 and 1 (exclusive), not {level}")
        self._set("level", level)
        self._set("prior", _number("prior", self.prior, minimum=0.0))
        tol = _number("tol", self.tol)
        if not tol > 0:
            raise RankingError(f"tol must be positive, not {tol}")
        self._set("tol", tol)
        for name in ("reweight", "position", "progress", "strict", "all_battles"):
            if not isinstance(getattr(self, name), bool):
                raise RankingError(f"{name} must be True or False, not {getattr(self, name)!r}")
        for name in ("voter", "weight"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise RankingError(f"{name} must be a column name or None, not {value!r}")
        self._set("anchor", _anchor(self.anchor))

    def _set(self, name: str, value: object) -> None:
        object.__setattr__(self, name, value)  # normalise (e.g. numpy ints) a frozen field


class RankKwargs(TypedDict, total=False):
    """The fields of :class:`RankOptions` as keyword arguments of :func:`ranking.rank`."""

    ci: CIMethod
    rounds: int
    level: float
    ties: Ties
    both_bad: BothBad
    anchor: tuple[str, float] | None
    provisional_votes: int
    seed: int
    reweight: bool
    position: bool
    prior: float
    tol: float
    device: str
    voter: str | None
    weight: str | None
    progress: bool
    strict: bool
    all_battles: bool
    style: Style
    style_reg: float


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(RankOptions))


def with_overrides(options: RankOptions | None, overrides: RankKwargs) -> RankOptions:
    """``options`` (default: :class:`RankOptions()`) with ``overrides`` applied and checked."""
    base = RankOptions() if options is None else options
    if not isinstance(base, RankOptions):
        raise RankingError(f"options must be a RankOptions, not {type(base).__name__}")
    if not overrides:
        return base
    unknown = sorted(set(overrides) - set(OPTION_NAMES))
    if unknown:
        raise RankingError(f"unknown option {unknown[0]!r} (options: {', '.join(OPTION_NAMES)})")
    return replace(base, **overrides)


def parse_anchor(text: str) -> tuple[str, float]:
    """ "model=1114" -> ("model", 1114.0); the model name may itself contain "="."""
    name, sep, value = text.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        rating = float(value)
    except ValueError:
        raise RankingError(f"anchor must look like MODEL=RATING, not {text!r}") from None
    if not math.isfinite(rating):
        raise RankingError(f"anchor rating must be finite, not {value!r}")
    return name, rating


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise RankingError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def _is_cuda_index(device: str) -> bool:
    head, _, index = device.partition(":")
    return head == "cuda" and index.isdigit()


def check_integer(name: str, value: object, *, minimum: int) -> int:
    """``value`` as an int (a numpy integer too, not a bool or 2.5), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):  # not 2.5 or "3"
        raise RankingError(f"{name} must be an integer >= {minimum}, not {value!r}")
    n = operator.index(value)
    if n < minimum:
        raise RankingError(f"{name} must be an integer >= {minimum}, not {n}")
    return n


def _number(name: str, value: object, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, SupportsFloat):
        raise RankingError(f"{name} must be a number, not {value!r}")
    x = float(value)
    if not math.isfinite(x) or (minimum is not None and x < minimum):
        bound = f" >= {minimum:g}" if minimum is not None else ""
        raise RankingError(f"{name} must be a finite number{bound}, not {value!r}")
    return x


def _anchor(value: object) -> tuple[str, float] | None:
    if value is None:
        return None
    if isinstance(value, str):
        raise RankingError(
            f"anchor must be a (model, rating) pair, not the string {value!r} "
            "(parse_anchor turns 'MODEL=RATING' into one)"
        )
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not isinstance(value[0], str):
        raise RankingError(f"anchor must be a (model, rating) pair, not {value!r}")
    return value[0], _number("anchor rating", value[1])
