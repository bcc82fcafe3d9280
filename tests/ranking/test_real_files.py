"""Real battle files as they are: rows no board can use are skipped and counted (or
refused with strict), and only anonymous battles count where there is an anony column."""

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ranking import RankingError, online_elo, rank, rank_groups
from ranking.cli import main
from ranking.fraud import AuditOptions, audit
from ranking.fraud.cli import main as audit_main
from ranking.simulate import simulate
from ranking.skipped import describe_skipped

FORMATS = ("v.parquet", "v.csv", "v.jsonl", "clean_battle.json")
SKIPPED = {"not_anonymous": 5, "missing_field": 2, "unknown_winner": 2, "self_comparison": 1}


@pytest.fixture(scope="module")
def clean():
    df = simulate(6, 2_000, seed=4, voters=30).frame()
    df = df.astype({c: object for c in ("model_a", "model_b", "winner", "judge")})
    df["tstamp"] = np.arange(len(df), dtype=float)
    df["anony"] = True
    return df


@pytest.fixture(scope="module")
def dirty(clean):
    """The clean votes with the rows a real dump holds spread among them."""
    m = clean.model_a.iloc[0]
    bad = pd.DataFrame(
        {
            "model_a": [m, "model-1", None, "model-2", "model-3"] + ["model-0", "model-1", "model-0", m, "model-5"],
            "model_b": [m, "model-2", "model-3", "model-4", None] + ["model-1", "model-2", "model-3", m, "model-4"],
            "winner": ["model_a", "draw", "tie", "left", "model_b"] + ["model_a"] * 3 + ["model_b", None],
            "judge": ["voter-000001"] * 10,
            "anony": [True] * 5 + [False] * 5,
        }
    )
    bad["tstamp"] = np.arange(len(bad), dtype=float) + 0.5
    # a non-anonymous self-comparison and missing winner are left out, not counted as bad
    out = pd.concat([clean.iloc[:700], bad.iloc[:3], clean.iloc[700:1500], bad.iloc[3:], clean.iloc[1500:]])
    return out.reset_index(drop=True)


@pytest.fixture(scope="module")
def files(dirty, tmp_path_factory):
    d = tmp_path_factory.mktemp("real")
    pq.write_table(pa.Table.from_pandas(dirty, preserve_index=False), d / "v.parquet", row_group_size=500)
    dirty.to_csv(d / "v.csv", index=False)
    dirty.to_json(d / "v.jsonl", orient="records", lines=True)
    (d / "clean_battle.json").write_text(json.dumps(dirty.to_dict(orient="records")))
    return d


def ratings(lb):
    return lb.to_frame().set_index("model")["rating"].sort_index()


@pytest.mark.parametrize("name", FORMATS)
def test_files_with_bad_rows_give_the_clean_board_and_count_what_was_skipped(clean, files, name):
    ref = ratings(rank(clean))
    lb = rank(files / name)
    assert np.allclose(ratings(lb), ref, atol=1e-9), name
    assert lb.diagnostics["skipped"] == SKIPPED
    assert rank(clean).diagnostics["skipped"] == {}


@pytest.mark.parametrize("name", FORMATS)
def test_strict_refuses_the_file_with_one_line(files, name):
    with pytest.raises(RankingError) as err:
        rank(files / name, strict=True)
    text = str(err.value)
    assert "\n" not in text
    assert any(s in text for s in ("missing values", "unknown winner label", "compare a model with itself"))


def test_all_battles_counts_the_named_battles_too(clean, dirty):
    lb = rank(dirty, all_battles=True)
    assert lb.diagnostics["skipped"] == {"missing_field": 3, "unknown_winner": 2, "self_comparison": 2}
    assert lb.diagnostics["n_votes"] == len(clean) + 3
    assert rank(dirty).diagnostics["n_votes"] == len(clean)


def test_streamed_parquet_counts_across_row_groups(clean, files, monkeypatch):
    import ranking.io

    monkeypatch.setattr(ranking.io, "BATCH_ROWS", 97)
    lb = rank(files / "v.parquet", ci="cluster", rounds=20)
    assert lb.diagnostics["skipped"] == SKIPPED
    assert lb.diagnostics["n_votes"] == len(clean)


def test_groups_and_elo_skip_too(clean, dirty):
    boards = rank_groups(dirty.assign(lang="en"), "lang", min_votes=0)
    assert boards["en"].diagnostics["skipped"] == SKIPPED
    assert np.allclose(online_elo(dirty), online_elo(clean).loc[online_elo(dirty).index])
    with pytest.raises(RankingError, match="column 'model_a' has 1 missing values"):
        online_elo(dirty, strict=True)


def test_a_file_of_only_bad_rows_says_so():
    df = pd.DataFrame({"model_a": ["x", "x"], "model_b": ["x", "y"], "winner": ["model_a", "maybe"]})
    with pytest.raises(RankingError, match="no votes left: skipped 2 rows: 1 unknown winner label, 1 self-comparison"):
        rank(df)


def test_describe_skipped_is_one_line():
    assert describe_skipped({}) is None
    assert describe_skipped({"self_comparison": 1, "unknown_winner": 2}) == (
        "skipped 3 rows: 2 unknown winner labels, 1 self-comparison"
    )


def test_anony_values_as_strings_and_numbers():
    base = pd.DataFrame({"model_a": ["x", "y"] * 3, "model_b": ["y", "x"] * 3, "winner": ["model_a"] * 6})
    for values in (["True", "false", "true", "False", "1", "0"], [1, 0, 1, 0, 1, 0], [True, False, True, None, 1, 0]):
        lb = rank(base.assign(anony=values))
        assert lb.diagnostics["skipped"]["not_anonymous"] == 3, values


@pytest.mark.parametrize("name", FORMATS)
def test_cli_skips_with_one_stderr_line_and_strict_exits_2(clean, files, name, capsys):
    assert main([str(files / name), "--format", "csv"]) == 0
    err = capsys.readouterr().err
    assert err == (
        "skipped 10 rows: 5 non-anonymous battles, 2 missing fields, 2 unknown winner labels, "
        "1 self-comparison (--all-battles counts them)\n"
    )
    assert main([str(files / name), "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert main([str(files / name), "--all-battles", "--format", "csv"]) == 0
    assert capsys.readouterr().err.startswith("skipped 7 rows: 3 missing fields")


@pytest.mark.parametrize("name", FORMATS)
def test_audit_skips_the_same_rows(clean, files, name, capsys):
    report = audit(files / name)
    assert report.skipped == SKIPPED and report.n_votes == len(clean)
    with pytest.raises(RankingError):
        audit(files / name, AuditOptions(strict=True))
    assert audit_main([str(files / name), "--format", "json"]) == 0
    assert capsys.readouterr().err.startswith("skipped 10 rows: 5 non-anonymous battles")
    assert audit_main([str(files / name), "--strict"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert audit(files / name, AuditOptions(all_battles=True)).n_votes == len(clean) + 3
