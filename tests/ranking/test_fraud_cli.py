"""``arena audit`` / ``python -m ranking.fraud``: JSON and table output on files, the
entry point the arena calls with its own DataFrame, one-line errors, a light import."""

import argparse
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ranking.fraud import ArenaOptions, Attack, audit, simulate_arena
from ranking.fraud.cli import add_audit_parser, audit_command, main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sim():
    return simulate_arena(
        ArenaOptions(
            models=15,
            honest=200,
            seed=3,
            attacks=(Attack("always_left", voters=3, votes=(40, 50)), Attack("promote", voters=3, votes=(30, 40))),
        )
    )


@pytest.fixture(scope="module")
def files(sim, tmp_path_factory):
    d = tmp_path_factory.mktemp("votes")
    sim.frame.to_parquet(d / "votes.parquet")
    sim.frame.rename(columns={"voter": "judge"}).to_csv(d / "votes.csv", index=False)
    return d


@pytest.fixture(scope="module")
def expected(sim):
    return audit(sim.frame).flagged


def _attackers(sim):
    return {v for v, lab in sim.labels.items() if lab != "honest"}


def test_json_on_parquet_lists_flagged_voters_with_score_and_reasons(sim, files, expected, capsys):
    assert main([str(files / "votes.parquet"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert isinstance(out, list) and out
    for row in out:
        assert {"voter", "score", "reasons", "votes", "flagged_at", "tests", "groups"} <= set(row)
        assert isinstance(row["voter"], str) and isinstance(row["score"], float) and row["score"] >= 2.0
        assert row["reasons"] and all(isinstance(r, str) for r in row["reasons"])
    assert {row["voter"] for row in out} == expected and _attackers(sim) <= expected
    lefties = [row for row in out if sim.labels[row["voter"]] == "always_left"]
    assert all(row["reasons"][0].startswith("position bias: favoured the left side") for row in lefties)


def test_table_on_csv_with_a_judge_column(sim, files, expected, capsys):
    assert main([str(files / "votes.csv")]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].split()[:4] == ["voter", "score", "votes", "at"]
    assert lines[-1].startswith(f"{len(expected)} of {len(sim.labels)} voters flagged at alpha=0.01")
    assert all(v in captured.out for v in _attackers(sim))
    assert "groups:" in captured.out and "listed" in captured.out  # the honest campus behind one address


def test_alpha_changes_the_threshold(files, capsys):
    assert main([str(files / "votes.parquet"), "--format", "json", "--alpha", "1e-15"]) == 0
    strict = json.loads(capsys.readouterr().out)
    assert strict and all(row["score"] >= 15 for row in strict)
    assert main([str(files / "votes.parquet"), "--format", "json", "--alpha", "0.2"]) == 0
    assert len(json.loads(capsys.readouterr().out)) > len(strict)


def test_the_arena_registers_the_parser_and_passes_its_own_dataframe(sim, expected, capsys):
    parser = argparse.ArgumentParser(prog="arena")
    sub = parser.add_subparsers(dest="command", required=True)
    p = add_audit_parser(sub)
    p.add_argument("--db", action="store_true")  # what the arena adds
    args = parser.parse_args(["audit", "--db", "--format", "json", "--alpha", "0.01"])
    assert args.file is None and args.db
    frame = sim.frame.assign(tstamp=pd.to_datetime(sim.frame["tstamp"], unit="s"))  # as read from SQL
    buf = io.StringIO()
    assert audit_command(frame, args, out=buf) == 0
    assert {row["voter"] for row in json.loads(buf.getvalue())} == expected
    args = parser.parse_args(["audit"])
    assert args.func(args) == 2 and capsys.readouterr().err == "error: no vote file given\n"


@pytest.mark.parametrize(
    "setup,argv,text",
    [
        (None, ["missing.parquet"], "error: no such file: "),
        ("empty", ["empty.csv"], "error: empty file: "),
        ("novoter", ["novoter.csv"], "error: an audit needs a voter column (judge, judge_hash, voter, or --voter)"),
        ("counted", ["counted.csv"], "error: an audit needs one row per vote, not counted rows"),
        ("badjson", ["bad.json"], "error: bad.json is not a JSON list of vote objects"),
        (None, ["votes.parquet", "--alpha", "0"], "error: alpha must be between 0 and 1 (exclusive), not 0"),
        (None, ["votes.parquet", "--voter", "who"], "error: no column 'who' for --voter"),
        (None, ["votes.parquet", "--group", "subnet"], "error: no column 'subnet' for the group tests"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(sim, files, tmp_path, capsys, setup, argv, text):
    for name in ("votes.parquet",):
        (tmp_path / name).write_bytes((files / name).read_bytes())
    if setup == "empty":
        (tmp_path / "empty.csv").write_text("")
    elif setup == "novoter":
        sim.frame.drop(columns=["voter"]).to_csv(tmp_path / "novoter.csv", index=False)
    elif setup == "counted":
        sim.frame.assign(count=1).to_csv(tmp_path / "counted.csv", index=False)
    elif setup == "badjson":
        (tmp_path / "bad.json").write_text("[1, 2, 3]")
    path = [str(tmp_path / argv[0])] + argv[1:]
    assert main(path) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(text) and captured.err.count("\n") == 1 and captured.out == ""


def test_the_command_line_starts_without_the_numerical_stack():
    code = (
        "import sys, ranking.fraud, ranking.fraud.cli; from ranking.fraud import AuditOptions, AuditReport; "
        "print([m for m in ('numpy', 'pandas', 'scipy', 'pyarrow') if m in sys.modules])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT)}
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "[]", proc.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "ranking.fraud", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT)},
    )
    assert helped.returncode == 0 and "--format {table,json}" in helped.stdout and "--alpha" in helped.stdout
