"""The typed contract: options are checked once, with errors that name the allowed
values; each entry point returns its one type; the command line starts without the
numerical stack; ``ranking`` imports neither ``arena`` nor ``generators``."""

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import get_type_hints

import numpy as np
import pandas as pd
import pytest

from ranking import (
    BoardRow,
    BoardRowDict,
    Leaderboard,
    RankingError,
    RankKwargs,
    RankOptions,
    TooSmall,
    rank,
    rank_components,
    rank_groups,
)
from ranking.cli import main
from ranking.options import CI_METHODS, OPTION_NAMES
from ranking.result import ROW_KEYS
from ranking.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def df():
    return simulate(8, 6_000, seed=9, voters=30).frame()


@pytest.fixture(scope="module")
def split():
    """Two groups of models that never met: a disconnected comparison graph."""
    return pd.DataFrame(
        {
            "model_a": ["a", "b", "a", "c", "d", "c"],
            "model_b": ["b", "a", "b", "d", "c", "d"],
            "winner": ["model_a", "model_a", "tie", "model_a", "model_b", "tie"],
        }
    )


BAD_OPTIONS = [
    ({"ci": "jackknife"}, "ci must be one of sandwich, bootstrap, cluster, not 'jackknife'"),
    ({"ties": "ignore"}, "ties must be one of half, drop, davidson"),
    ({"both_bad": "loss"}, "both_bad must be one of tie, drop"),
    ({"device": "tpu"}, "device must be one of auto, cpu, cuda or cuda:N"),
    ({"device": "cuda:x"}, "device must be one of auto, cpu, cuda or cuda:N"),
    ({"rounds": 0}, "rounds must be an integer >= 1"),
    ({"rounds": 2.5}, "rounds must be an integer >= 1"),
    ({"rounds": True}, "rounds must be an integer >= 1"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"provisional_votes": -5}, "provisional_votes must be an integer >= 0"),
    ({"level": 1.0}, "level must be between 0 and 1"),
    ({"level": "high"}, "level must be a number"),
    ({"prior": -0.5}, "prior must be a finite number >= 0"),
    ({"prior": float("nan")}, "prior must be a finite number >= 0"),
    ({"tol": 0.0}, "tol must be positive"),
    ({"anchor": "gpt=1114"}, "anchor must be a (model, rating) pair"),
    ({"anchor": ("gpt",)}, "anchor must be a (model, rating) pair"),
    ({"anchor": ("gpt", float("inf"))}, "anchor rating must be a finite number"),
    ({"reweight": "yes"}, "reweight must be True or False"),
    ({"progress": 1}, "progress must be True or False"),
    ({"voter": ""}, "voter must be a column name or None"),
    ({"weight": 3}, "weight must be a column name or None"),
]


@pytest.mark.parametrize(
    "bad,text", BAD_OPTIONS, ids=[next(iter(b)) + "=" + repr(next(iter(b.values()))) for b, _ in BAD_OPTIONS]
)
def test_each_bad_option_raises_a_ranking_error_naming_what_is_allowed(bad, text):
    with pytest.raises(RankingError) as err:
        RankOptions(**bad)
    assert text in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(RankingError, match="^" + text.replace("(", r"\(").replace(")", r"\)")):
        rank("no-such-file.parquet", **bad)  # checked before any vote is read


def test_unknown_options_and_wrong_option_objects_are_ranking_errors(df):
    with pytest.raises(RankingError, match=r"unknown option 'bootstrap_rounds' \(options: ci, rounds, "):
        rank(df, bootstrap_rounds=10)
    with pytest.raises(RankingError, match="options must be a RankOptions, not dict"):
        rank(df, {"ci": "bootstrap"})
    with pytest.raises(RankingError, match="min_votes must be an integer >= 0"):
        rank_groups(df, "judge", min_votes=-1)
    with pytest.raises(RankingError, match="by must be a column name"):
        rank_groups(df, "")


def test_options_are_frozen_normalised_and_said_once():
    opts = RankOptions(rounds=np.int64(50), level=np.float32(0.9), anchor=["m", np.int64(1100)])
    assert type(opts.rounds) is int and type(opts.level) is float and opts.anchor == ("m", 1100.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.ci = "bootstrap"
    assert dataclasses.replace(opts, ci="cluster").ci == "cluster"
    with pytest.raises(RankingError, match="ci must be one of"):
        dataclasses.replace(opts, ci="nope")
    assert set(RankKwargs.__optional_keys__) == set(OPTION_NAMES)
    assert get_type_hints(RankKwargs) == get_type_hints(RankOptions)
    assert set(get_type_hints(BoardRowDict)) == set(ROW_KEYS) == {f.name for f in dataclasses.fields(BoardRow)}
    assert CI_METHODS == ("sandwich", "bootstrap", "cluster")


def test_keyword_arguments_override_an_options_object(df):
    base = RankOptions(ci="bootstrap", rounds=40, seed=1)
    lb = rank(df, base, seed=2)
    d = lb.diagnostics
    assert (d["ci"], d["rounds"], d["seed"]) == ("bootstrap", 40, 2) and base.seed == 1
    again = rank(df, RankOptions(ci="bootstrap", rounds=40, seed=2))
    assert [r.ci_low for r in lb.rows] == [r.ci_low for r in again.rows]


def test_rank_returns_one_leaderboard_of_typed_rows(df):
    lb = rank(df)
    assert isinstance(lb, Leaderboard) and isinstance(lb.rows, tuple)
    assert all(isinstance(r, BoardRow) for r in lb.rows)
    row = lb.rows[0]
    assert (type(row.model), type(row.rating), type(row.rank), type(row.votes), type(row.provisional)) == (
        str,
        float,
        int,
        int,
        bool,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.rating = 0.0
    records = lb.records()
    assert records[0] == row.as_dict() and list(records[0]) == list(ROW_KEYS)
    assert list(lb.to_frame().columns) == list(ROW_KEYS) and len(lb.to_frame()) == len(lb.rows)
    assert json.loads(json.dumps(lb.to_dict(), allow_nan=False))["rows"][0] == records[0]
    assert lb.diagnostics["device"] == "cpu" and "n_voters" not in lb.diagnostics


def test_rank_groups_returns_string_labels_to_boards_or_too_small(df):
    g = df.assign(round=np.where(np.arange(len(df)) % 4 == 0, 2, 1))
    g.loc[g.index[:40], "round"] = 3
    out = rank_groups(g, "round", min_votes=1000)
    assert list(out) == ["1", "2", "3"]
    assert isinstance(out["1"], Leaderboard) and isinstance(out["2"], Leaderboard)
    small = out["3"]
    assert isinstance(small, TooSmall) and small.group == "3" and small.votes == 40 and small.too_small
    assert small.to_dict() == {
        "group": "3",
        "votes": 40,
        "too_small": True,
        "reason": "40 votes, fewer than min_votes=1000",
    }
    mixed = g.assign(round=g["round"].astype(object))
    mixed.loc[mixed.index[:40], "round"] = "1"
    with pytest.raises(RankingError, match="two group labels differ only in type"):
        rank_groups(mixed, "round")


def test_rank_groups_reports_a_disconnected_group_as_too_small(split):
    out = rank_groups(split.assign(g="x"), "g", min_votes=1)
    assert isinstance(out["x"], TooSmall) and "disconnected" in out["x"].reason


def test_rank_components_returns_one_board_per_component_even_when_connected(df, split):
    whole = rank_components(df)
    assert list(whole) == ["component 1"] and isinstance(whole["component 1"], Leaderboard)
    assert [r.rating for r in whole["component 1"].rows] == [r.rating for r in rank(df).rows]
    parts = rank_components(split)
    assert list(parts) == ["component 1", "component 2"]
    assert all(isinstance(lb, Leaderboard) for lb in parts.values())
    with pytest.raises(RankingError, match="rank_components, or --components separate, fits each one"):
        rank(split)


def test_cli_components_and_by_choose_the_entry_point(df, split, tmp_path, capsys):
    split.to_csv(tmp_path / "split.csv", index=False)
    assert main([str(tmp_path / "split.csv"), "--components", "separate", "--format", "csv"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("group,model,rating") and sum(line.startswith("component ") for line in out) == 4
    df.to_csv(tmp_path / "v.csv", index=False)
    assert main([str(tmp_path / "v.csv"), "--components", "separate", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("model,rating")  # connected: one plain board
    assert main([str(tmp_path / "v.csv"), "--by", "judge", "--components", "separate"]) == 2
    assert "cannot be combined with --by" in capsys.readouterr().err
    assert main([str(tmp_path / "v.csv"), "--by", "judge", "--min-votes", "100000", "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out) == [] and "not ranked (" in captured.err
    assert main([str(tmp_path / "v.csv"), "--rounds", "0"]) == 2
    assert capsys.readouterr().err == "error: rounds must be an integer >= 1, not 0\n"


def test_the_command_line_starts_without_the_numerical_stack():
    code = (
        "import sys, ranking, ranking.cli; from ranking import RankOptions, RankingError; "
        "heavy = [m for m in ('numpy', 'pandas', 'scipy', 'pyarrow', 'torch') if m in sys.modules]; "
        "print(heavy)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "ranking", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert helped.returncode == 0 and "--ci {sandwich,bootstrap,cluster}" in helped.stdout


def test_unknown_names_are_attribute_errors():
    import ranking

    with pytest.raises(AttributeError, match="has no attribute 'rnak'"):
        ranking.rnak  # noqa: B018
    assert set(ranking.__all__) <= set(dir(ranking)) | set(ranking._LAZY)


def test_ranking_imports_neither_arena_nor_generators():
    for path in sorted((ROOT / "ranking").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom) and not node.level
                else []
            )
            assert not [n for n in names if n.split(".")[0] in ("arena", "generators")], path
