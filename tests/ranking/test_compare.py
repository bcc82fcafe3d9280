"""Comparing two groups' boards: the one model that truly differs is flagged, the others are not."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ranking import RankingError, RankOptions, rank
from ranking.compare import compare_boards, holm, spearman

MODELS = [f"m{i}" for i in range(8)]


def votes(strengths: list[float], n: int, seed: int) -> pd.DataFrame:
    """n Bradley-Terry votes (no ties) between uniformly drawn pairs, on the Elo scale."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, len(MODELS), n)
    b = (a + rng.integers(1, len(MODELS), n)) % len(MODELS)
    theta = np.array(strengths) * math.log(10) / 400
    p_a = 1 / (1 + np.exp(theta[b] - theta[a]))
    wins = rng.random(n) < p_a
    return pd.DataFrame(
        {
            "model_a": [MODELS[i] for i in a],
            "model_b": [MODELS[i] for i in b],
            "winner": np.where(wins, "model_a", "model_b"),
        }
    )


def test_the_model_that_truly_differs_is_flagged_and_the_others_are_not():
    base = [0.0, 40.0, 80.0, 120.0, 160.0, 200.0, 240.0, 280.0]
    shifted = list(base)
    shifted[2] += 250.0  # m2 is much better liked in group b
    options = RankOptions(ci="sandwich")
    board_a = rank(votes(base, 8000, seed=1), options)
    board_b = rank(votes(shifted, 8000, seed=2), options)

    result = compare_boards(board_a.rows, board_b.rows, level=0.95, alpha=0.05)

    flagged = {row.model for row in result.rows if row.significant}
    assert flagged == {"m2"}
    top = result.rows[0]
    assert top.model == "m2" and top.ci_low < 250 < top.ci_high and top.difference > 150
    assert all(row.p_adjusted >= row.p_value for row in result.rows)
    assert result.models == 8 and 0.5 < result.correlation <= 1
    assert result.correlation_low is not None and result.correlation_high is not None
    assert -1 <= result.correlation_low < result.correlation <= result.correlation_high <= 1


def test_two_samples_of_the_same_arena_differ_nowhere():
    base = [0.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0, 350.0]
    options = RankOptions(ci="sandwich")
    result = compare_boards(
        rank(votes(base, 6000, seed=3), options).rows, rank(votes(base, 6000, seed=4), options).rows
    )
    assert not any(row.significant for row in result.rows)
    assert result.correlation > 0.8


def test_holm_and_spearman():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_nothing_to_compare_is_an_error():
    options = RankOptions(ci="sandwich")
    board = rank(votes([0.0] * 8, 2000, seed=5), options)
    with pytest.raises(RankingError, match="fewer than two models"):
        compare_boards(board.rows, board.rows[:1])
