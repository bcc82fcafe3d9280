"""What an audit returns: :class:`AuditReport` with one :class:`VoterFlag` per flagged
voter and one :class:`GroupFlag` per coordinated group worth a look.

Scores are ``log10`` of an anytime-valid e-value: a voter who follows the consensus
(within the tolerances of :class:`AuditOptions`) reaches score ``s`` at any point of
their voting with probability at most ``10**-s``; a voter is flagged at
``score >= log10(1/alpha)`` (2 for alpha = 0.01). Light module: no numpy or pandas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal, TypedDict

GroupKind = Literal["ip", "co-vote"]


class VoterFlagDict(TypedDict):
    """:meth:`VoterFlag.as_dict`: the JSON object ``arena audit --format json`` prints."""

    voter: str
    score: float
    reasons: list[str]
    votes: int
    flagged_at: int | None
    tests: dict[str, float]
    groups: list[str]


class GroupFlagDict(TypedDict):
    """:meth:`GroupFlag.as_dict`."""

    kind: GroupKind
    key: str
    voters: list[str]
    votes: int
    score: float
    flagged: bool
    reasons: list[str]


@dataclass(frozen=True)
class VoterFlag:
    """One flagged voter.

    ``voter``: the value of the voter column. ``score``: log10 of the voter's e-value
    (own tests and groups, Bonferroni-combined). ``reasons``: one line per test that
    fired, e.g. ``"position bias: favoured the left side, score 48 in 50 votes (the board
    predicts 26.1); e=3e+09, p<=3.3e-10"`` (e: the test's e-value after its share of
    alpha; p: the anytime-valid p-value it implies).
    ``votes``: the voter's votes. ``flagged_at``: the voter's vote number (1 = first,
    time order) at which the evidence first crossed the threshold: under continuous
    monitoring the voter would have been flagged then (None when only a group fired).
    ``tests``: log10 e-value per test family (``surprise``, ``position``, ``targeted``,
    ``omnipresent``, ``concentration``, ``ip``, ``co-vote``), each already divided by its
    share of alpha, so any value >= log10(1/alpha) flags. ``groups``: labels of the
    coordinated groups the voter belongs to (``ip:<hash>``, ``co-vote:<n>``).
    """

    voter: str
    score: float
    reasons: list[str]
    votes: int
    flagged_at: int | None = None
    tests: dict[str, float] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)

    def as_dict(self) -> VoterFlagDict:
        return VoterFlagDict(
            voter=self.voter,
            score=_round(self.score),
            reasons=list(self.reasons),
            votes=self.votes,
            flagged_at=self.flagged_at,
            tests={k: _round(v) for k, v in self.tests.items()},
            groups=list(self.groups),
        )


@dataclass(frozen=True)
class GroupFlag:
    """A group of voter ids tested on their pooled votes.

    ``kind``: ``ip`` (voter ids whose votes mostly come from one value of the group
    column) or ``co-vote`` (ids linked by voting the same way on the same pairs within
    minutes). ``key``: the group value or the co-vote group's number. ``flagged``: the
    pooled votes crossed the threshold, which flags every member. Groups with at least
    ``sybil_ids`` ids are listed even when not flagged.
    """

    kind: GroupKind
    key: str
    voters: list[str]
    votes: int
    score: float
    flagged: bool
    reasons: list[str]

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.key}"

    def as_dict(self) -> GroupFlagDict:
        return GroupFlagDict(
            kind=self.kind,
            key=self.key,
            voters=list(self.voters),
            votes=self.votes,
            score=_round(self.score),
            flagged=self.flagged,
            reasons=list(self.reasons),
        )


@dataclass(frozen=True)
class AuditReport:
    """The audit of one votes table.

    ``flags``: flagged voters, highest score first. ``groups``: coordinated groups that
    were flagged or are large (``sybil_ids``). ``scores``: every voter's score (log10
    e-value), flagged or not. ``excluded_votes``: votes cast by flagged voters (what a
    board that quarantines them leaves out). ``notes``: what the audit could not do
    (no time column, no group column). ``skipped``: rows of the input that were not
    audited, by reason (``not_anonymous``, ``missing_field``, ``unknown_winner``,
    ``self_comparison``; see :mod:`ranking.skipped`), only reasons that occurred.
    """

    flags: list[VoterFlag]
    groups: list[GroupFlag]
    alpha: float
    n_votes: int
    n_voters: int
    excluded_votes: int
    passes: int
    scores: dict[str, float] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        """The score at which a voter is flagged: log10(1/alpha)."""
        return -math.log10(self.alpha)

    @property
    def flagged(self) -> frozenset[str]:
        """The flagged voters' ids."""
        return frozenset(f.voter for f in self.flags)

    def records(self) -> list[VoterFlagDict]:
        """The flagged voters as plain dicts (what ``--format json`` prints)."""
        return [f.as_dict() for f in self.flags]


def _round(x: float) -> float:
    if math.isinf(x):
        return 1e300 if x > 0 else -1e300
    return round(x, 4)
