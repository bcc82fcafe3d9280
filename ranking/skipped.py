"""Rows of a vote file that are skipped, not fitted, and how to say so in one line.

Real battle files hold rows no leaderboard can use: a model compared with itself (a
named side-by-side battle where both sides were the same model), a winner label we do
not know, a missing model or winner. By default the readers skip them and count them
here; with ``strict=True`` the first one is an error. Battles that were not anonymous
(an ``anony`` column that is not true) are left out unless ``all_battles=True``, as
LMArena's boards do. Light module: no numpy or pandas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

SkipReason = Literal["not_anonymous", "missing_field", "unknown_winner", "self_comparison"]
"""Why a row was skipped: a battle that was not anonymous (left out, not an error), a
missing model, winner or voter, a winner label we do not know, a model compared with
itself."""
SKIP_REASONS: tuple[SkipReason, ...] = get_args(SkipReason)
BAD_ROWS: tuple[SkipReason, ...] = ("missing_field", "unknown_winner", "self_comparison")
"""The reasons that ``strict=True`` turns into errors."""

_NOUNS: dict[str, tuple[str, str]] = {
    "not_anonymous": ("non-anonymous battle", "non-anonymous battles"),
    "missing_field": ("missing field", "missing fields"),
    "unknown_winner": ("unknown winner label", "unknown winner labels"),
    "self_comparison": ("self-comparison", "self-comparisons"),
}


def describe_skipped(skipped: Mapping[str, int]) -> str | None:
    """One line, e.g. ``skipped 3 rows: 1 self-comparison, 2 unknown winner labels``;
    None when nothing was skipped."""
    parts = [(k, int(n)) for k, n in skipped.items() if n]
    if not parts:
        return None
    total = sum(n for _, n in parts)
    order: dict[str, int] = {k: i for i, k in enumerate(SKIP_REASONS)}
    parts.sort(key=lambda kv: order.get(kv[0], len(order)))
    words = ", ".join(f"{n:,} {_NOUNS.get(k, (k, k))[n != 1]}" for k, n in parts)
    return f"skipped {total:,} row{'s' if total != 1 else ''}: {words}"
