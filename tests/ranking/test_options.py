"""Options a user can see: ties, both_bad, anchor, position, Davidson, reweighting,
the prior, groups, ranks, matrices, JSON, reproducibility, Elo and the torch path."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from ranking import Leaderboard, RankingError, TooSmall, online_elo, rank, rank_groups
from ranking.simulate import simulate

SCALE = 400 / math.log(10)


@pytest.fixture(scope="module")
def arena():
    return simulate(12, 40_000, seed=3, position=0.2, voters=100)


@pytest.fixture(scope="module")
def df(arena):
    return arena.frame()


def test_rows_are_sorted_ranked_and_centred(df):
    lb = rank(df)
    rows = lb.rows
    assert [r.rank for r in rows] == list(range(1, len(rows) + 1))
    assert all(a.rating >= b.rating for a, b in zip(rows, rows[1:], strict=False))
    assert np.mean([r.rating for r in rows]) == pytest.approx(1000)
    assert all(r.ci_low < r.rating < r.ci_high for r in rows)
    assert all(r.rank_low <= r.rank <= r.rank_high for r in rows)
    assert sum(r.votes for r in rows) == 2 * len(df)


def test_rank_ub_counts_models_clearly_above():
    lb = rank(simulate(15, 3_000, seed=4).frame())
    for r in lb.rows:
        above = sum(o.ci_low > r.ci_high for o in lb.rows)
        assert r.rank_ub == 1 + above


def test_anchor_shifts_everything_by_one_constant(df):
    base = rank(df).to_frame().set_index("model")
    anch = rank(df, anchor=("model-03", 1114)).to_frame().set_index("model").loc[base.index]
    shift = anch.rating - base.rating
    assert anch.loc["model-03", "rating"] == pytest.approx(1114)
    assert np.allclose(shift, shift.iloc[0]) and np.allclose(anch.ci_low - base.ci_low, shift)
    with pytest.raises(RankingError, match="anchor model 'nobody'"):
        rank(df, anchor=("nobody", 1000))


def spread(lb):
    return lb.rows[0].rating - lb.rows[-1].rating


def test_tie_conventions_change_the_votes_used(df):
    half = rank(df)
    no_bb = rank(df, both_bad="drop")
    drop = rank(df, ties="drop")
    n_bb = (df.winner == "both_bad").sum()
    n_tie = (df.winner == "tie").sum()
    assert half.diagnostics["n_votes"] - no_bb.diagnostics["n_votes"] == n_bb
    assert half.diagnostics["n_votes"] - drop.diagnostics["n_votes"] == n_bb + n_tie
    assert spread(drop) > spread(half)  # ties pull ratings together


def test_position_advantage_is_recovered(df):
    lb = rank(df, position=True)
    d = lb.diagnostics
    assert abs(d["position_advantage"] - 0.2 * SCALE) < 3 * d["position_advantage_se"]
    assert d["position_advantage_se"] > 0


def test_davidson_fits_a_tie_parameter(df):
    lb = rank(df, ties="davidson")
    assert lb.diagnostics["converged"] and 0 < lb.diagnostics["tie_param"] < 2
    with pytest.raises(RankingError, match="needs ties"):
        rank(df[~df.winner.isin(["tie", "both_bad"])], ties="davidson")


def test_reweighting_changes_ratings_but_not_their_order_much(df):
    plain = rank(df).to_frame().set_index("model")
    rew = rank(df, reweight=True)
    assert rew.diagnostics["reweight"] and rew.diagnostics["converged"]
    rew = rew.to_frame().set_index("model").loc[plain.index]
    assert not np.allclose(plain.rating, rew.rating)
    assert np.corrcoef(plain.rating, rew.rating)[0, 1] > 0.99


def test_prior_keeps_an_undefeated_model_finite():
    df = pd.DataFrame(
        {
            "model_a": ["a"] * 20 + ["b"] * 10 + ["c"] * 10,
            "model_b": ["b"] * 10 + ["c"] * 10 + ["c"] * 10 + ["a"] * 10,
            "winner": ["model_a"] * 20 + ["model_a"] * 5 + ["model_b"] * 5 + ["model_b"] * 10,
        }
    )
    lb = rank(df)
    assert lb.rows[0].model == "a" and np.isfinite(lb.rows[0].rating) and lb.diagnostics["converged"]
    with pytest.raises(RankingError, match="never lose"):
        rank(df, prior=0)


def test_matrices_are_consistent(df):
    lb = rank(df)
    n, w, p = lb.battle_counts, lb.win_rate_matrix, lb.predicted_win_rate
    assert list(n.index) == lb.models == list(w.columns)
    assert (n.values == n.values.T).all() and n.values.sum() == 2 * len(df)
    off = ~np.eye(len(n), dtype=bool)
    assert np.allclose((w.values + w.values.T)[off], 1)
    assert np.allclose((p.values + p.values.T)[off], 1)
    assert np.nanmean(np.abs(w.values - p.values)[n.values > 500]) < 0.05


def test_to_dict_is_plain_json(df):
    lb = rank(df, ci="bootstrap", rounds=50)
    text = json.dumps(lb.to_dict(), allow_nan=False)
    back = json.loads(text)
    assert back["rows"][0]["model"] == lb.rows[0].model
    assert back["diagnostics"]["ci"] == "bootstrap" and back["diagnostics"]["rounds"] == 50
    assert back["win_rate_matrix"]["values"][0][0] is None


def test_bootstrap_is_reproducible_and_seeded(df):
    a = rank(df, ci="bootstrap", rounds=120, seed=1).to_frame()
    b = rank(df, ci="bootstrap", rounds=120, seed=1).to_frame()
    c = rank(df, ci="bootstrap", rounds=120, seed=2).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.ci_low, c.ci_low)


def test_level_controls_width(df):
    wide = rank(df, level=0.99).to_frame()
    narrow = rank(df, level=0.80).to_frame()
    assert ((wide.ci_high - wide.ci_low) > (narrow.ci_high - narrow.ci_low)).all()


def test_grouped_boards_and_too_small_groups(df):
    g = df.assign(lang=np.where(np.arange(len(df)) % 10 == 0, "fr", "en"))
    g.loc[g.index[:100], "lang"] = "de"
    out = rank_groups(g, "lang", min_votes=1000, ci="bootstrap", rounds=50)
    assert list(out) == ["en", "fr", "de"]
    assert isinstance(out["en"], Leaderboard) and isinstance(out["fr"], Leaderboard)
    assert isinstance(out["de"], TooSmall) and out["de"].votes == 100 and "min_votes" in out["de"].reason
    assert out["en"].diagnostics["n_votes"] + out["fr"].diagnostics["n_votes"] + 100 == len(g)
    wide_fr = np.median([r.ci_high - r.ci_low for r in out["fr"].rows])
    wide_en = np.median([r.ci_high - r.ci_low for r in out["en"].rows])
    assert wide_fr > 2 * wide_en  # each group has its own, honest intervals


def test_provisional_flag(df):
    small = df.copy()
    keep = ~((small.model_a == "model-00") | (small.model_b == "model-00"))
    keep[np.flatnonzero(~keep)[:50]] = True
    lb = rank(small[keep], provisional_votes=100)
    flags = {r.model: r.provisional for r in lb.rows}
    assert flags["model-00"] and sum(flags.values()) == 1


def test_online_elo_by_hand():
    df = pd.DataFrame(
        {
            "model_a": ["x", "y", "x"],
            "model_b": ["y", "x", "y"],
            "winner": ["model_a", "tie", "model_b"],
            "tstamp": [1.0, 3.0, 2.0],
        }
    )
    elo = online_elo(df, k=32)
    r = {"x": 1000.0, "y": 1000.0}
    for a, b, s in (("x", "y", 1.0), ("x", "y", 0.0), ("y", "x", 0.5)):  # time order
        e = 1 / (1 + 10 ** ((r[b] - r[a]) / 400))
        r[a] += 32 * (s - e)
        r[b] -= 32 * (s - e)
    assert elo["x"] == pytest.approx(r["x"]) and elo["y"] == pytest.approx(r["y"])


def test_torch_refit_equals_numpy_refit(df):
    torch = pytest.importorskip("torch")
    from ranking import bt
    from ranking.bootstrap import NumpyOps, refit, sample_cells
    from ranking.counts import aggregate
    from ranking.design import build_pairs
    from ranking.io import open_votes
    from ranking.torch_bootstrap import TorchOps, bootstrap_torch

    counts = aggregate(open_votes(df))
    for ties, position in (("half", False), ("davidson", True)):
        pairs = build_pairs(counts, ties=ties, position=position)
        f = bt.fit(pairs, "davidson" if ties == "davidson" else "bt")
        raw = sample_cells(np.random.default_rng(0), pairs.counts, 16)
        x_np, _, _ = refit(NumpyOps(), pairs, f, raw)
        x_t, _, _ = refit(TorchOps("cpu"), pairs, f, torch.as_tensor(raw))
        assert np.abs(x_np - x_t).max() < 1e-10
    pairs = build_pairs(counts)
    f = bt.fit(pairs)
    rep = bootstrap_torch(pairs, f, rounds=200, seed=0, device="cpu")
    from ranking.bootstrap import bootstrap

    ref = bootstrap(pairs, f, rounds=200, seed=0)
    assert rep.unconverged == 0
    assert np.allclose(rep.theta.std(0), ref.theta.std(0), rtol=0.25)


def test_multinomial_samplers_are_exact_in_total_and_moments():
    from ranking.bootstrap import sample_cells

    raw = np.array([[5.0, 0, 100], [30, 2, 1000]])
    x = sample_cells(np.random.default_rng(1), raw, 20_000)
    assert (x.sum(axis=(1, 2)) == raw.sum()).all() and (x[:, 0, 1] == 0).all()
    p = raw / raw.sum()
    assert np.allclose(x.mean(0), raw, rtol=0.02, atol=0.05)
    assert np.allclose(x.var(0), raw.sum() * p * (1 - p), rtol=0.05, atol=0.05)
    torch = pytest.importorskip("torch")
    from ranking.torch_bootstrap import multinomial

    pt = torch.as_tensor(p.ravel())
    y = multinomial(torch, raw.sum(), pt, 20_000, torch.Generator().manual_seed(0)).numpy()
    assert (y.sum(1) == raw.sum()).all()
    assert np.allclose(y.var(0), (raw.sum() * p * (1 - p)).ravel(), rtol=0.05, atol=0.05)


def test_weights_of_one_change_nothing_and_zero_weights_drop_votes(df):
    base = rank(df).to_frame().set_index("model")
    ones = rank(df.assign(w=1.0), weight="w").to_frame().set_index("model").loc[base.index]
    assert np.allclose(ones.rating, base.rating)
    keep = np.arange(len(df)) % 3 != 0
    dropped = rank(df[keep]).to_frame().set_index("model")
    zeroed = rank(df.assign(w=keep.astype(float)), weight="w").to_frame().set_index("model")
    assert np.allclose(zeroed.loc[dropped.index].rating, dropped.rating, atol=1e-6)


def test_every_model_option_runs_through_the_bootstrap(df, capsys):
    lb = rank(df, ties="davidson", position=True, reweight=True, ci="cluster", rounds=40, progress=True)
    d = lb.diagnostics
    assert d["converged"] and d["bootstrap_unconverged"] == 0 and d["ci"] == "cluster"
    assert all(r.ci_low < r.rating < r.ci_high for r in lb.rows)
