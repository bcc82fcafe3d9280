"""Inverse-propensity boards carry the variance of the votes' own weights.

Each (pair, winner) cell reaches the fit as a Kish row (count (Σw)²/Σw², weight Σw²/Σw),
so the fit equals the fit of the votes one by one, each at its weight 1/p: the same
ratings and, for the sandwich and the voter-cluster bootstrap, the same intervals. A
cell's mean weight alone (the board's old reading) gives intervals too narrow when a
pair's probability changed between its votes: in a seeded simulation they miss the
truth far more often than 5% of the time, the Kish rows do not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from arena.services.leaderboards import kish_rows
from arena.services.sampling import SCALE, Z95
from ranking import rank

CELL = ["model_a", "model_b", "winner"]
TRUTH = {"a": 60.0, "b": 20.0, "c": -20.0, "d": -60.0}  # Elo, centred


def draws(seed: int, votes: int = 1200, voters: int = 0) -> pd.DataFrame:
    """One row per vote of a design that changed half-way: the first half draws (a, b) and
    (c, d) with probability 0.4 each, the second half 0.05 each (other pairs share the rest),
    so the weights 1/p of one cell differ eightfold. Model names in order: no cell has two
    orientations. With `voters`, each vote has one of that many voters."""
    gen = np.random.default_rng(seed)
    names = sorted(TRUTH)
    pairs = [(a, b) for k, a in enumerate(names) for b in names[k + 1 :]]
    rows = []
    for phase in (0, 1):
        heavy = 0.4 if phase == 0 else 0.05
        light = (1 - 2 * heavy) / (len(pairs) - 2)
        p = np.array([heavy if pair in (("a", "b"), ("c", "d")) else light for pair in pairs])
        for k in gen.choice(len(pairs), size=votes // 2, p=p):
            a, b = pairs[k]
            win = 1 / (1 + 10 ** ((TRUTH[b] - TRUTH[a]) / 400))
            u = gen.random()
            winner = "model_a" if u < win - 0.05 else "tie" if u < win + 0.05 else "model_b"
            rows.append((a, b, winner, 1 / p[k], int(gen.integers(voters)) if voters else 0))
    return pd.DataFrame(rows, columns=[*CELL, "w", "voter"])


def cells(votes: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The counts table's reading of `votes`: per cell the votes, Σw and Σw²."""
    return (
        votes.assign(w2=votes["w"] ** 2)
        .groupby(by, as_index=False)
        .agg(count=("w", "size"), inverse=("w", "sum"), inverse2=("w2", "sum"))
    )


def mean_weight_rows(votes: pd.DataFrame) -> pd.DataFrame:
    """The board's old reading: each cell at its votes' mean weight, normalised to mean 1."""
    frame = cells(votes, CELL)
    frame["weight"] = frame["inverse"] / frame["count"] / (frame["inverse"].sum() / frame["count"].sum())
    return frame.drop(columns=["inverse", "inverse2"])


def one_by_one(votes: pd.DataFrame) -> pd.DataFrame:
    """Every vote a row of its own, at weight 1/p normalised to mean 1."""
    return votes.assign(weight=votes["w"] / votes["w"].mean()).drop(columns=["w"])


def ratings(result) -> dict[str, tuple[float, float, float]]:
    return {row["model"]: (row["rating"], row["ci_low"], row["ci_high"]) for row in result.records()}


def test_kish_rows_keep_the_votes_the_weights_and_their_squares():
    votes = draws(0)
    frame = kish_rows(cells(votes, CELL))
    mean = votes["w"].mean()
    assert frame["votes"].sum() == len(votes)
    assert (frame["count"] * frame["weight"]).sum() == pytest.approx(len(votes))  # weights of mean 1
    assert (frame["count"] * frame["weight"] ** 2).sum() == pytest.approx((votes["w"] ** 2).sum() / mean**2)
    assert (frame["count"] < frame["votes"]).any()  # unequal weights: fewer effective votes than votes
    quarantined = kish_rows(cells(votes, CELL).assign(weight=0.25))
    assert quarantined["weight"].to_numpy() == pytest.approx(0.25 * frame["weight"].to_numpy())


def sandwich_of_the_votes(votes: pd.DataFrame, result) -> dict[str, float]:
    """Standard errors (Elo) of the centred ratings by the sandwich over single votes, at the
    fit's θ, computed here: Bradley-Terry without prior, a tie half a win, each vote's score
    (y − σ(d))·w·x with x = e_a − e_b, so the meat is Σ w² (y − σ)² x xᵀ."""
    names = sorted(TRUTH)
    theta = {row["model"]: row["rating"] / SCALE for row in result.records()}
    weight = votes["w"] / votes["w"].mean()
    x = np.zeros((len(votes), len(names)))
    x[np.arange(len(votes)), votes["model_a"].map(names.index)] = 1.0
    x[np.arange(len(votes)), votes["model_b"].map(names.index)] = -1.0
    p = 1 / (1 + np.exp(-(x @ np.array([theta[n] for n in names]))))
    y = votes["winner"].map({"model_a": 1.0, "tie": 0.5, "model_b": 0.0}).to_numpy()
    bread = np.linalg.pinv((x * (weight * p * (1 - p)).to_numpy()[:, None]).T @ x)
    meat = (x * (weight**2 * (y - p) ** 2).to_numpy()[:, None]).T @ x
    cov = bread @ meat @ bread
    return {n: SCALE * float(np.sqrt(cov[k, k])) for k, n in enumerate(names)}


def test_kish_rows_give_the_sandwich_of_the_votes_one_by_one():
    votes = draws(1)
    kish = rank(kish_rows(cells(votes, CELL)), ci="sandwich", weight="weight", prior=0)
    mean = rank(mean_weight_rows(votes), ci="sandwich", weight="weight", prior=0)
    single = rank(one_by_one(votes), ci="sandwich", weight="weight", prior=0)
    se = sandwich_of_the_votes(votes, kish)
    for model, (rating, low, high) in ratings(kish).items():
        assert (high - low) / (2 * Z95) == pytest.approx(se[model], rel=1e-6)
        assert ratings(single)[model][0] == pytest.approx(rating, abs=1e-6)  # the same point estimate
        assert ratings(mean)[model][0] == pytest.approx(rating, abs=1e-6)
        # a cell's mean weight loses the spread of the weights: intervals too narrow
        assert ratings(mean)[model][2] - ratings(mean)[model][1] < 0.9 * (high - low)


def test_voter_cluster_bootstrap_redraws_each_voter_with_their_own_weights():
    votes = draws(2, voters=60).sort_values("voter", kind="stable")  # voters met in one order by both
    per_voter = kish_rows(cells(votes, ["voter", *CELL]))
    kish = rank(per_voter, ci="cluster", voter="voter", weight="weight", rounds=200, seed=5)
    single = rank(one_by_one(votes), ci="cluster", voter="voter", weight="weight", rounds=200, seed=5)
    for model, bounds in ratings(single).items():
        assert ratings(kish)[model] == pytest.approx(bounds, abs=1e-6)
    assert kish.records()[0]["votes"] < single.records()[0]["votes"]  # effective votes, not votes


def test_cell_bootstrap_of_kish_rows_is_as_wide_as_the_sandwich():
    votes = draws(3)
    frame = kish_rows(cells(votes, CELL))  # non-integer counts
    sandwich = ratings(rank(frame, ci="sandwich", weight="weight"))
    boot = ratings(rank(frame, ci="bootstrap", weight="weight", rounds=400, seed=1))
    narrow = ratings(rank(mean_weight_rows(votes), ci="bootstrap", weight="weight", rounds=400, seed=1))
    for model, (_, low, high) in sandwich.items():
        assert boot[model][2] - boot[model][1] == pytest.approx(high - low, rel=0.15)
        assert narrow[model][2] - narrow[model][1] < 0.9 * (boot[model][2] - boot[model][1])


def test_seeded_simulation_kish_intervals_hold_the_truth_mean_weight_ones_do_not():
    held = {"kish": [], "mean": []}
    for seed in range(150):
        votes = draws(100 + seed)
        for name, frame in (("kish", kish_rows(cells(votes, CELL))), ("mean", mean_weight_rows(votes))):
            found = ratings(rank(frame, ci="sandwich", weight="weight", rounds=1))
            shift = np.mean([rating for rating, _, _ in found.values()])
            held[name] += [low - shift <= TRUTH[m] <= high - shift for m, (_, low, high) in found.items()]
    kish, mean = np.mean(held["kish"]), np.mean(held["mean"])
    assert kish >= 0.91, held
    assert mean <= kish - 0.05, (kish, mean)
