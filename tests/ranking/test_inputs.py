"""Every input format gives the same leaderboard; every bad input gives a clear error."""

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ranking import RankingError, aggregation_query, rank, rank_components, read_database
from ranking.cli import add_rank_parser, main
from ranking.simulate import simulate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def votes():
    df = simulate(6, 3_000, seed=2, voters=40).frame()
    df = df.astype({c: str for c in ("model_a", "model_b", "winner", "judge")})
    df["tstamp"] = np.arange(len(df), dtype=float)
    return df


@pytest.fixture(scope="module")
def reference(votes):
    return rank(votes).to_frame()


def ratings(lb):
    return lb.to_frame().set_index("model")["rating"].sort_index()


def test_every_file_format_gives_the_same_board(votes, reference, tmp_path):
    ref = reference.set_index("model")["rating"].sort_index()
    votes.to_parquet(tmp_path / "v.parquet")
    votes.to_csv(tmp_path / "v.csv", index=False)
    votes.to_json(tmp_path / "v.jsonl", orient="records", lines=True)
    (tmp_path / "clean_battle.json").write_text(json.dumps(votes.to_dict(orient="records")))
    for name in ("v.parquet", "v.csv", "v.jsonl", "clean_battle.json"):
        got = ratings(rank(tmp_path / name))
        assert np.allclose(got, ref, atol=1e-9), name


def test_streamed_parquet_with_many_row_groups_matches(votes, reference, tmp_path, monkeypatch):
    import ranking.io

    monkeypatch.setattr(ranking.io, "BATCH_ROWS", 257)
    pq.write_table(pa.Table.from_pandas(votes), tmp_path / "v.parquet", row_group_size=300)
    ref = reference.set_index("model")["rating"].sort_index()
    assert np.allclose(ratings(rank(tmp_path / "v.parquet")), ref, atol=1e-9)


def test_counted_rows_equal_raw_votes_and_fastchat_bothbad_label(votes, reference):
    counted = votes.groupby(["model_a", "model_b", "winner"]).size().rename("count").reset_index()
    counted["winner"] = counted["winner"].replace({"both_bad": "tie (bothbad)"})
    ref = reference.set_index("model")
    got = rank(counted).to_frame().set_index("model").loc[ref.index]
    assert np.allclose(got.rating, ref.rating) and (got.votes == ref.votes).all()


def test_database_aggregation_query_feeds_rank(votes, reference):
    con = sqlite3.connect(":memory:")
    votes[["model_a", "model_b", "winner", "judge"]].to_sql("votes", con, index=False)
    assert "GROUP BY model_a, model_b, winner, judge" in aggregation_query("votes", voter="judge")
    df = read_database(con, "votes", voter="judge")
    assert len(df) < len(votes)
    assert np.allclose(ratings(rank(df)), reference.set_index("model")["rating"].sort_index())
    assert rank(df, ci="cluster", rounds=50).diagnostics["n_voters"] == votes.judge.nunique()


BAD = {
    "missing column": (lambda df: df.drop(columns="winner"), "missing column winner"),
    "unknown label": (
        lambda df: df.assign(winner=df.winner.where(df.index != 5, "draw")),
        "unknown winner label 'draw'",
    ),
    "one model": (
        lambda df: pd.DataFrame({"model_a": ["x"], "model_b": ["x"], "winner": ["tie"]}),
        "only one model (x)",
    ),
    "self battle": (
        lambda df: df.assign(model_b=df.model_b.where(df.index != 7, df.model_a)),
        "1 votes compare a model with itself",
    ),
    "nan": (lambda df: df.assign(model_b=df.model_b.where(df.index != 3, None)), "'model_b' has 1 missing"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_frames_raise_one_line_errors(votes, case):
    make, text = BAD[case]
    with pytest.raises(RankingError, match=None) as err:
        rank(make(votes.copy()), strict=True)
    assert text in str(err.value) and "\n" not in str(err.value)


def test_only_one_model_after_filtering():
    df = pd.DataFrame({"model_a": ["x", "x"], "model_b": ["y", "y"], "winner": ["both_bad", "tie"]})
    with pytest.raises(RankingError, match="no votes left"):
        rank(df, ties="drop")


def test_disconnected_graph_names_the_components():
    df = pd.DataFrame({"model_a": ["a", "b", "c", "d"], "model_b": ["b", "a", "d", "c"], "winner": ["model_a"] * 4})
    with pytest.raises(RankingError, match=r"disconnected \(2 components: \{a, b\} \| \{c, d\}\)"):
        rank(df)
    parts = rank_components(df)
    assert sorted(parts) == ["component 1", "component 2"]
    assert {r.model for r in parts["component 2"].rows} == {"c", "d"}


@pytest.mark.parametrize(
    "content,text",
    [
        (b"", "empty file"),
        (b"model_a,model_b\nx,y\n", "missing column winner"),
        (b"model_a,model_b,winner\nx,y,model_a\nx,,model_b\n", "'model_b' has 1 missing"),
        (b"model_a,model_b,winner\nx,y,model_a\ny,x,maybe\n", "unknown winner label 'maybe'"),
        (b"model_a,model_b,winner\n", "no votes"),
    ],
)
def test_cli_prints_one_line_error_and_exits_2(tmp_path, capsys, content, text):
    path = tmp_path / "votes.csv"
    path.write_bytes(content)
    assert main([str(path), "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and text in err and err.count("\n") == 1


def test_cli_errors_for_missing_and_corrupt_files(tmp_path, capsys):
    assert main([str(tmp_path / "nope.parquet")]) == 2
    assert "no such file" in capsys.readouterr().err
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    assert main([str(tmp_path / "bad.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read bad.parquet") and "Traceback" not in err


def test_cli_json_is_an_array_of_rows(votes, tmp_path, capsys):
    votes.to_parquet(tmp_path / "v.parquet")
    assert main([str(tmp_path / "v.parquet"), "--format", "json", "--anchor", "model-0=1114"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and len(rows) == 6
    assert set(rows[0]) == {
        "model",
        "rating",
        "ci_low",
        "ci_high",
        "rank",
        "rank_ub",
        "rank_low",
        "rank_high",
        "votes",
        "win_rate",
        "provisional",
    }
    assert next(r for r in rows if r["model"] == "model-0")["rating"] == pytest.approx(1114)


def test_add_rank_parser_registers_a_subcommand(votes, tmp_path, capsys):
    import argparse

    votes.to_csv(tmp_path / "v.csv", index=False)
    parser = argparse.ArgumentParser(prog="arena")
    add_rank_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["rank", str(tmp_path / "v.csv"), "--ci", "bootstrap", "--rounds", "50", "--format", "markdown", "--elo", "4"]
    )
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("| rank | rank_ub | model |") and "| elo |" in out


def test_python_dash_m_ranking_runs(votes, tmp_path):
    votes.to_csv(tmp_path / "v.csv", index=False)
    proc = subprocess.run(
        [sys.executable, "-m", "ranking", str(tmp_path / "v.csv"), "--format", "csv"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].startswith("model,rating,ci_low,ci_high,rank,rank_ub")
    bad = subprocess.run(
        [sys.executable, "-m", "ranking", str(tmp_path / "none.csv")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: no such file")
