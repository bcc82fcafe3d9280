"""`arena export` as a user runs it: dumps, manifests, the reproduce command, and one-line errors."""

import hashlib
import json
import shlex

import pandas as pd
import pytest

from tests.conftest import arena_command

VOTES = 800


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A SQLite arena with bulk-simulated text votes."""
    folder = tmp_path_factory.mktemp("export") / "data"
    seeded = arena_command("simulate", "--votes", str(VOTES), "--bulk", "--modality", "text", "--data-dir", str(folder))
    assert seeded.returncode == 0, seeded.stderr
    return folder


def test_export_writes_a_dump_whose_manifest_command_refits_its_board(data_dir, tmp_path):
    out = tmp_path / "text.parquet"
    args = ("export", "--data-dir", str(data_dir), "--modality", "text", "--valid-only", "--out", str(out))
    result = arena_command(*args, "--no-progress")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "text.manifest.json").read_text())
    assert f"{VOTES:,} votes -> {out}" in result.stdout and manifest["command"] in result.stdout
    assert manifest["rows"] == VOTES and manifest["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert manifest["filters"]["modality"] == "text" and manifest["filters"]["valid_only"] is True
    assert len(pd.read_parquet(out)) == VOTES

    command = shlex.split(manifest["command"])
    assert command[:3] == ["arena", "rank", "text.parquet"] and "--by" not in command  # one board, every vote counts
    ranked = arena_command(*command[1:], cwd=tmp_path)
    assert ranked.returncode == 0, ranked.stderr
    refitted = {row["model"]: row["rating"] for row in json.loads(ranked.stdout)}
    published = {row["model"]: row["rating"] for row in manifest["boards"]["text/overall"]["rows"]}
    assert refitted.keys() == published.keys() and len(published) >= 3
    assert all(abs(refitted[model] - rating) < 1e-6 for model, rating in published.items())


def test_export_publishes_into_the_data_dir_and_infers_the_format_from_the_name(data_dir, tmp_path):
    result = arena_command("export", "--data-dir", str(data_dir), "--winner-labels", "lmarena")
    assert result.returncode == 0, result.stderr
    dumps = sorted((data_dir / "dumps").glob("votes-*.parquet"))
    assert dumps and (data_dir / "dumps" / (dumps[-1].stem + ".manifest.json")).is_file()

    out = tmp_path / "votes.jsonl"
    result = arena_command("export", "--data-dir", str(data_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == VOTES and json.loads(lines[0])["source"] == "bulk"


def test_export_on_sqlite_and_postgresql(tmp_path, database_url):
    env = {"ARENA_DATABASE_URL": database_url or "", "ARENA_SECRET_KEY": "s"}
    data = str(tmp_path / "data")
    seeded = arena_command("simulate", "--votes", "300", "--bulk", "--modality", "all", "--data-dir", data, env=env)
    assert seeded.returncode == 0, seeded.stderr
    out = tmp_path / "image.csv"
    args = ("export", "--data-dir", data, "--modality", "image", "--dimension", "overall", "--out", str(out))
    result = arena_command(*args, env=env)
    assert result.returncode == 0, result.stderr
    frame = pd.read_csv(out)
    assert 0 < len(frame) < 300 and set(frame.modality) == {"image"} and set(frame.board) == {"image/overall"}
    assert json.loads((tmp_path / "image.manifest.json").read_text())["rows"] == len(frame)


@pytest.mark.parametrize(
    "args, words",
    [
        (["--format", "xml"], "--format must be one of: parquet, csv, jsonl"),
        (["--modality", "video"], "--modality must be one of: text, image, 3d"),
        (["--modality", "text", "--dimension", "geometry"], "--dimension for text must be one of: overall"),
        (["--dimension", "sound"], "--dimension must be one of"),
        (["--since", "yesterday"], "--since must be a date or time"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "--until must be later than --since"),
        (["--older-than", "-1"], "--older-than must be between 0"),
        (["--older-than", "ten"], "--older-than must be a number of days"),
        (["--winner-labels", "fastchat"], "--winner-labels must be one of: arena, lmarena"),
        (["--out", "votes.csv", "--format", "parquet"], "--out ends in .csv but --format is parquet"),
        (["--out", "."], "is a folder"),
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["--format"], "argument --format: expected one argument"),
        (["--since", "2100-01-01"], "no votes match these filters"),
    ],
)
def test_every_bad_flag_is_one_error_line_and_exit_status_2(data_dir, tmp_path, args, words):
    result = arena_command("export", "--data-dir", str(data_dir), *args, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], result.stderr


def test_export_of_a_database_that_was_never_created_says_what_to_do(tmp_path):
    result = arena_command("export", "--data-dir", str(tmp_path / "none"))
    assert result.returncode == 2 and "arena db upgrade" in result.stderr and "Traceback" not in result.stderr
