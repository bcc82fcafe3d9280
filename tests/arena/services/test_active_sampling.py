"""The active sampler: votes go to neighbour pairs whose order is nearly resolved, every
pair keeps its floor, the stored probability is the one drawn with, and a board
reweighted by 1/probability (inverse propensity) recovers the true order."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from arena import simulate
from arena.services.leaderboards import board_key, kish_rows, vote_counts
from arena.services.sampling import SCALE, Z95, active_pairs, active_scores, draw, uniform_pairs
from arena.settings import from_environment, parse_samplers
from arena.store.schema import Battle, Vote
from arena.vocabulary import Modality
from ranking import rank

VOTER = "voter-aaaa-0001"


@dataclass
class FakeBoard:
    rows: list[dict[str, Any]]
    battle_counts: dict[str, dict[str, float]]
    status: str = "ok"
    votes: dict[str, int] = field(default_factory=dict)


def fake_board(ratings: dict[str, float], per_pair: int) -> FakeBoard:
    """A board as a uniform design of `per_pair` votes per pair would leave it: ratings as
    given, 95% intervals of the centred ratings from the Bradley-Terry information of those votes."""
    names = sorted(ratings, key=lambda n: -ratings[n])
    theta = np.array([ratings[n] for n in names]) / SCALE
    p = 1 / (1 + np.exp(-(theta[:, None] - theta[None, :])))
    info = per_pair * p * (1 - p)
    np.fill_diagonal(info, 0.0)
    cov = np.linalg.inv(np.diag(info.sum(1)) - info + np.eye(len(names)) / len(names))
    centred = cov - cov.mean(axis=0) - cov.mean(axis=1)[:, None] + cov.mean()  # as the board's ratings are
    half = Z95 * np.sqrt(np.diag(centred)) * SCALE
    rows = [
        {"model": n, "rating": ratings[n], "ci_low": ratings[n] - h, "ci_high": ratings[n] + h, "votes": 0}
        for n, h in zip(names, half, strict=True)
    ]
    counts = {a: {b: float(per_pair) for b in names if b != a} for a in names}
    return FakeBoard(rows, counts)


# neighbours 30 Elo apart with 60 votes per pair: no neighbour gap is resolved yet (about
# 1 standard error each); "top"/"bottom" are 300 Elo from the rest, long resolved
RATINGS = {"top": 1400.0, "a": 1090.0, "b": 1060.0, "c": 1030.0, "d": 1000.0, "bottom": 700.0}


def test_active_sampler_prefers_uncertain_neighbours_to_certain_far_apart_pairs():
    board = fake_board(RATINGS, per_pair=60)
    scores = active_scores(board.rows, board.battle_counts)
    assert sum(scores.values()) == pytest.approx(1.0)
    neighbours = [("a", "b"), ("b", "c"), ("c", "d")]
    far = [("bottom", "top"), ("a", "top"), ("bottom", "d")]
    for near in neighbours:
        for certain in far:
            assert scores[near] > 3 * scores[certain], (near, certain, scores)
    # the three uncertain neighbour pairs take more than their uniform share (3 of 15) many times over
    assert sum(scores[p] for p in neighbours) > 0.5


def test_a_fitted_board_with_many_votes_still_sends_votes_to_its_unresolved_neighbours():
    # the arena's own fit, 20,000 votes: the centred intervals are narrow, far narrower than the
    # ratings' overall level is pinned by the prior; two models 5 Elo apart are still unresolved
    rng = np.random.default_rng(0)
    strengths = {"near-1": 1005.0, "near-2": 1000.0, "far": 800.0}
    rows = []
    for a, b in combinations(strengths, 2):
        p = 1 / (1 + 10 ** ((strengths[b] - strengths[a]) / 400))
        wins = int(rng.binomial(6667, p))
        rows += [(a, b, "model_a", wins), (a, b, "model_b", 6667 - wins)]
    board = rank(pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "count"]), ci="sandwich")
    counts = {
        str(r): {str(c): float(v) for c, v in row.items() if pd.notna(v)} for r, row in board.battle_counts.iterrows()
    }
    scores = active_scores(board.records(), counts)
    assert scores, "an unresolved neighbour pair must get votes"
    assert max(scores, key=scores.get) == ("near-1", "near-2")


def test_every_pair_keeps_the_floor_and_the_distribution_sums_to_one():
    board = fake_board(RATINGS, per_pair=60)
    weights = {name: 1.0 for name in RATINGS} | {"newcomer": 4.0}  # boosted, not on the board yet
    uniform = uniform_pairs(weights)
    for floor in (0.1, 0.3):
        dist = active_pairs(weights, active_scores(board.rows, board.battle_counts), floor)
        assert set(dist) == set(uniform) == {tuple(sorted(p)) for p in combinations(weights, 2)}
        assert sum(dist.values()) == pytest.approx(1.0)
        for pair, p in dist.items():
            assert p >= floor * uniform[pair] * (1 - 1e-12), pair
    # the boost stays: a pair with the newcomer is drawn more than the same pair shape without it
    dist = active_pairs(weights, active_scores(board.rows, board.battle_counts))
    assert dist["newcomer", "top"] > dist["bottom", "top"]


def test_without_a_fitted_board_or_once_every_neighbour_is_resolved_the_active_sampler_is_uniform():
    weights = {name: 1.0 for name in RATINGS}
    assert active_pairs(weights, {}) == uniform_pairs(weights)
    settled = fake_board(RATINGS, per_pair=5000)
    assert active_scores(settled.rows, settled.battle_counts) == {}
    assert active_scores([{"model": "a", "rating": 1000.0, "ci_low": 990.0, "ci_high": 1010.0}], {}) == {}


def test_sampler_setting_per_modality(monkeypatch):
    assert parse_samplers("active") == {"*": "active"}
    assert parse_samplers("text:active, image:uniform") == {"text": "active", "image": "uniform"}
    with pytest.raises(ValueError, match="uniform, active"):
        parse_samplers("text:clever")
    with pytest.raises(ValueError, match="modality"):
        parse_samplers("video:active")
    monkeypatch.setenv("ARENA_SAMPLER", "uniform,text:active")
    settings = from_environment()
    assert settings.sampler_for("text") == "active" and settings.sampler_for("image") == "uniform"
    monkeypatch.setenv("ARENA_SAMPLER", "clever")
    with pytest.raises(ValueError, match="ARENA_SAMPLER"):
        from_environment()


async def test_the_stored_pair_probability_is_the_active_one_drawn_with(arena):
    arena.settings.sampler = "active"
    models = await arena.battles.active_models(Modality.TEXT)
    ratings = {name: 1000.0 + 25.0 * k for k, name in enumerate(sorted(models))}
    board = fake_board(ratings, per_pair=40)
    arena.battles.board_of = lambda _modality: board
    arena.battles.votes_of = lambda _modality: dict.fromkeys(models, 1000)  # no boost
    expected = arena.battles.pair_distribution(Modality.TEXT, models)
    assert expected != pytest.approx(uniform_pairs(models))
    await arena.voters.ensure(VOTER)
    for _ in range(4):
        view = await arena.battles.start("text", "Tell me about rivers.", VOTER)
        with arena.store.read() as session:
            battle = session.get(Battle, view.id)
        pair = tuple(sorted((battle.model_a, battle.model_b)))
        assert battle.pair_probability == pytest.approx(expected[pair])


async def test_board_weights_votes_by_inverse_pair_probability(arena):
    arena.settings.sampler = "active"
    report = simulate.bulk(arena, 600, [Modality.TEXT], seed=3)
    assert report.votes == 600
    key = board_key("text")
    with arena.store.read() as session:
        rows = session.execute(
            select(Battle.model_a, Battle.model_b, Vote.winner, Vote.voter_id, Battle.pair_probability)
            .join(Vote, Vote.battle_id == Battle.id)
            .where(Vote.dimension == "overall")
        ).all()
    votes = pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "voter", "p"])
    votes["winner"] = votes["winner"].astype(str)
    votes["w"], votes["w2"] = 1 / votes["p"], 1 / votes["p"] ** 2
    mean = votes["w"].mean()
    for by, frame in (
        (["model_a", "model_b", "winner"], vote_counts(arena.store, key, inverse_propensity=True)),
        (["model_a", "model_b", "winner", "voter"], vote_counts(arena.store, key, True, inverse_propensity=True)),
    ):
        cells = votes.groupby(by).agg(n=("w", "size"), w=("w", "sum"), w2=("w2", "sum"))
        assert len(frame) == len(cells)
        # each cell a Kish row: count (Σw)²/Σw², weight Σw²/Σw normalised to mean 1, and its votes
        for row in frame.itertuples():
            cell = cells.loc[tuple(str(getattr(row, name)) for name in by)]
            assert row.votes == cell.n
            assert row.count == pytest.approx(cell.w**2 / cell.w2)
            assert row.weight == pytest.approx(cell.w2 / cell.w / mean)
        assert (frame["count"] * frame["weight"]).sum() == pytest.approx(600)
    unequal = votes.groupby(["model_a", "model_b", "winner"])["p"].nunique()
    assert (unequal > 1).any()  # drawn unevenly (boost, refits): some cells hold votes of unequal weight
    plain = arena.leaderboards.refit(key)
    arena.settings.inverse_propensity = True
    board = arena.leaderboards.refit(key)
    assert board.status == "ok" and board.votes == 600
    # the fit reads effective votes; the board still shows the votes themselves, as the plain one does
    plain_rows = {row["model"]: row for row in plain.rows}
    for row in board.rows:
        same = plain_rows[row["model"]]
        assert (row["votes"], row["provisional"]) == (same["votes"], same["provisional"])
        assert row["win_rate"] == pytest.approx(same["win_rate"])
        assert board.win_rate_matrix[row["model"]] == pytest.approx(plain.win_rate_matrix[row["model"]])
    assert board.battle_counts == plain.battle_counts


def test_a_seeded_active_simulation_with_the_reweighted_fit_recovers_the_true_order():
    names = [f"m{k}" for k in range(6)]
    truth = dict(zip(names, [1180.0, 1110.0, 1050.0, 990.0, 920.0, 850.0], strict=True))
    rng, gen = random.Random(7), np.random.default_rng(7)
    tally: dict[tuple[str, str, str], list[float]] = {}
    result = None
    for _ in range(8):
        weights = dict.fromkeys(names, 1.0)
        scores = {} if result is None else active_scores(result.records(), _matrix(result.battle_counts))
        dist = active_pairs(weights, scores)
        for _ in range(500):
            a, b, p = draw(dist, rng)
            win = 1 / (1 + 10 ** ((truth[b] - truth[a]) / 400))
            winner = "model_a" if gen.random() < win else "model_b"
            entry = tally.setdefault((a, b, winner), [0.0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += 1 / p
            entry[2] += 1 / p**2
        frame = pd.DataFrame(
            [(*k, *sums) for k, sums in tally.items()],
            columns=["model_a", "model_b", "winner", "count", "inverse", "inverse2"],
        )
        result = rank(kish_rows(frame), weight="weight")  # as the arena's board reads the counts table
    assert result is not None
    assert [row["model"] for row in result.records()] == names
    # centred on the truth's mean, each rating is close to the truth: within twice its interval's half-width
    shift = np.mean([r["rating"] for r in result.records()]) - np.mean(list(truth.values()))
    for row in result.records():
        half = (row["ci_high"] - row["ci_low"]) / 2
        assert abs(row["rating"] - shift - truth[row["model"]]) <= 2 * half, row
    assert math.isclose(sum(n for n, _, _ in tally.values()), 4000)


def _matrix(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {str(r): {str(c): float(v) for c, v in row.items() if pd.notna(v)} for r, row in frame.iterrows()}


def test_arena_simulate_with_the_active_sampler_stores_every_pair_probability(tmp_path, models_file):
    from arena.runtime import Arena
    from arena.settings import Settings
    from tests.conftest import arena_command

    result = arena_command(
        "simulate",
        "--votes",
        "200",
        "--modality",
        "text",
        "--sampler",
        "active",
        "--data-dir",
        str(tmp_path),
        "--models",
        str(models_file),
    )
    assert result.returncode == 0, result.stderr
    assert "simulated 200 votes" in result.stdout
    arena = Arena(Settings(data_dir=tmp_path, models_file=models_file, secret_key="s"))
    with arena.store.read() as session:
        probabilities = session.scalars(select(Battle.pair_probability)).all()
    assert len(probabilities) == 200 and all(p is not None and 0 < p <= 1 for p in probabilities)
    assert len(set(probabilities)) > 1  # boost and refits during the run: drawn unevenly
    arena.engine.dispose()
