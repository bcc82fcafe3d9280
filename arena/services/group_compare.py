"""Compare two values of one group (two countries, two age bands): which models differ between
their boards, and how alike the two rankings are.

Both boards come from the cache (Leaderboards.board: a value under k answers as an
unknown one, 404); the statistics are ranking.compare's pure function on their rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from arena.errors import InvalidInput
from arena.services.leaderboards import Board, BoardKey, Leaderboards, board_key
from arena.vocabulary import Dimension, GroupField, Modality
from ranking import RankingError
from ranking.compare import Comparison, compare_boards

ALPHA = 0.05


@dataclass(frozen=True)
class _Row:
    model: str
    rating: float
    ci_low: float
    ci_high: float


@dataclass
class GroupComparison:
    modality: Modality
    dimension: Dimension
    group: GroupField
    a: str
    b: str
    status: str  # ok, pending (a board's first fit is running) or too_few_votes
    votes_a: int
    votes_b: int
    message: str | None = None
    result: Comparison | None = None


def compare_groups(
    leaderboards: Leaderboards, modality: str, dimension: str, group: str, a: str, b: str
) -> GroupComparison:
    """Blocking on a first call for a board slice only (the k-anonymity check reads the cache)."""
    key_a = board_key(modality, dimension, (group, a))
    key_b = board_key(modality, dimension, (group, b))
    if key_a == key_b:
        raise InvalidInput("a and b must be two different values")
    board_a, board_b = leaderboards.board(key_a), leaderboards.board(key_b)  # NotFound under k
    assert key_a.group is not None
    answer = GroupComparison(key_a.modality, key_a.dimension, key_a.group, a, b, "ok", board_a.votes, board_b.votes)
    for board in (board_a, board_b):
        if board.status != "ok":
            answer.status = board.status
            answer.message = f"{_name(key_a if board is board_a else key_b)}: {board.message}"
            return answer
    try:
        answer.result = compare_boards(_rows(board_a), _rows(board_b), level=board_a.level, alpha=ALPHA)
    except RankingError as exc:
        answer.status, answer.message = "too_few_votes", str(exc)
    return answer


def _rows(board: Board) -> list[_Row]:
    return [_Row(row["model"], row["rating"], row["ci_low"], row["ci_high"]) for row in board.rows]


def _name(key: BoardKey) -> str:
    return f"{key.group}={key.value}"
