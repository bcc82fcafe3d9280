"""`arena import` as a user runs it: votes in, the skipped rows said in one stderr line, one-line errors."""

import json

import pytest

from tests.arena.services.test_imports import battles
from tests.conftest import arena_command


def test_import_loads_the_file_and_says_what_it_skipped(tmp_path):
    path = tmp_path / "clean_battle.json"
    path.write_text(json.dumps(battles()))
    data = str(tmp_path / "data")
    result = arena_command("import", str(path), "--data-dir", data, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "imported 240 votes in 240 new battles from 243 rows; 4 new retired models, 17 new voters" in result.stdout
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert skipped == [
        "skipped 3 rows: 1 non-anonymous battle, 1 unknown winner label, 1 self-comparison (--all-battles imports them)"
    ]
    again = arena_command("import", str(path), "--data-dir", data, "--no-progress")
    assert again.returncode == 0, again.stderr
    assert "imported 0 votes" in again.stdout and "240 votes already in the database" in again.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["missing.json"], "error: no such file"),
        (["battles.json", "--modality", "video"], "error: --modality must be one of: text, image, 3d"),
        (["battles.json", "--strict"], "error: unknown winner label 'model_c'"),
        (["battles.json", "--bogus"], "error: unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(tmp_path, args, words):
    (tmp_path / "battles.json").write_text(json.dumps(battles(20)))
    env = {"ARENA_SECRET_KEY": "s"}  # no note about a new secret key before the error
    result = arena_command(
        "import", *args, "--data-dir", str(tmp_path / "data"), "--no-progress", cwd=tmp_path, env=env
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(words), result.stderr
