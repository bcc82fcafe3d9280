"""The fit is exact (matches choix) and the intervals are honest on simulated arenas."""

import math

import choix
import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from ranking import rank
from ranking.simulate import simulate

SCALE = 400 / math.log(10)


def log_strengths(lb):
    """Mean-centred natural-log strengths from a leaderboard, indexed by model."""
    s = pd.Series({r.model: (r.rating - 1000) / SCALE for r in lb.rows})
    return s - s.mean()


@pytest.mark.parametrize("n_models,n_votes,seed", [(10, 5_000, 0), (40, 60_000, 1)])
def test_matches_choix_without_ties(n_models, n_votes, seed):
    arena = simulate(n_models, n_votes, seed=seed, tie_rate=0.0)
    df = arena.frame()
    lb = rank(df, prior=0)
    wins = np.zeros((n_models, n_models))
    winner_is_a = arena.winner == 0
    np.add.at(wins, (np.where(winner_is_a, arena.a, arena.b), np.where(winner_is_a, arena.b, arena.a)), 1)
    ref = choix.ilsr_pairwise_dense(wins, alpha=0.0, max_iter=10_000, tol=1e-13)
    ref = pd.Series(ref - ref.mean(), index=arena.models)
    ours = log_strengths(lb)
    assert np.abs(ours[ref.index] - ref).max() < 1e-6
    assert lb.diagnostics["converged"] and lb.diagnostics["grad_norm"] <= 1e-8


def test_ranks_a_large_uneven_arena_close_to_the_truth():
    arena = simulate(100, 200_000, seed=7, uneven=0.8)
    lb = rank(arena.frame())
    est = lb.to_frame().set_index("model")["rating"]
    truth = arena.true_ratings[est.index]
    assert kendalltau(truth, est).statistic >= 0.95


def test_bootstrap_intervals_cover_the_truth_about_95_percent():
    hits = total = 0
    for seed in range(24):
        arena = simulate(50, 100_000, seed=100 + seed, uneven=0.8)
        lb = rank(arena.frame(), ci="bootstrap", rounds=300, seed=seed)
        truth = arena.true_ratings
        for r in lb.rows:
            hits += r.ci_low <= truth[r.model] <= r.ci_high
            total += 1
    assert 0.93 <= hits / total <= 0.97, hits / total


def test_sandwich_intervals_cover_the_truth_about_95_percent():
    hits = total = 0
    for seed in range(24):
        arena = simulate(50, 100_000, seed=300 + seed, uneven=0.8)
        lb = rank(arena.frame(), ci="sandwich")
        truth = arena.true_ratings
        for r in lb.rows:
            hits += r.ci_low <= truth[r.model] <= r.ci_high
            total += 1
    assert 0.93 <= hits / total <= 0.97, hits / total


def test_sandwich_and_bootstrap_agree_on_width():
    df = simulate(30, 100_000, seed=5).frame()
    s = rank(df, ci="sandwich").to_frame().set_index("model")
    b = rank(df, ci="bootstrap", rounds=500).to_frame().set_index("model").loc[s.index]
    ratio = (b.ci_high - b.ci_low) / (s.ci_high - s.ci_low)
    assert 0.85 < ratio.median() < 1.15


def _cluster_vs_cell_width(voter_bias):
    arena = simulate(20, 60_000, seed=11, voters=150, voter_bias=voter_bias)
    df = arena.frame()
    cell = rank(df, ci="bootstrap", rounds=300).to_frame().set_index("model")
    clus = rank(df, ci="cluster", rounds=300).to_frame().set_index("model").loc[cell.index]
    return float(((clus.ci_high - clus.ci_low) / (cell.ci_high - cell.ci_low)).median())


def test_voter_cluster_intervals_widen_when_voters_have_personal_tastes():
    assert _cluster_vs_cell_width(voter_bias=0.6) > 1.5


def test_voter_cluster_intervals_match_cell_intervals_for_independent_voters():
    assert 0.85 < _cluster_vs_cell_width(voter_bias=0.0) < 1.15
