"""Each `arena` command imports only what it needs: help never loads the web server, the
database or the generators, and `arena rank` ranks a file without them.

A behaviour test (which modules a fresh process loads), not a timing test.
"""

import json
import subprocess
import sys

import pytest

# Runs `arena.cli.main(argv)` in a fresh interpreter and reports the exit status and
# every module the process loaded.
PROBE = """
import contextlib, io, json, sys
from arena.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        code = main(json.loads(sys.argv[1]))
    except SystemExit as exc:
        code = exc.code
print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue(), "modules": sorted(sys.modules)}))
"""

# The web server, the database and the generators' backends and worker server.
# (`generators.worker` itself is a light package: its `cli` module builds the `arena
# worker` parser without loading the worker's FastAPI application.)
SERVER_AND_DATABASE = (
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "gradio",
    "pydantic",
    "torch",
    "arena.settings",
    "arena.store",
    "arena.services",
    "generators.config",
    "generators.registry",
    "generators.worker.app",
    "scipy.stats",
)
NUMERICAL = ("numpy", "pandas", "scipy", "pyarrow")


def run_arena(argv: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)], capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["rank", "--help"], ["audit", "--help"], ["worker", "--help"], ["serve", "--help"]],
    ids=" ".join,
)
def test_help_loads_neither_the_server_nor_the_database_nor_numpy(argv):
    result = run_arena(argv)
    assert result["code"] == 0 and "usage: arena" in result["out"]
    assert loaded(result["modules"], SERVER_AND_DATABASE + NUMERICAL) == []


def test_a_bad_flag_is_one_error_line_without_loading_anything_heavy():
    result = run_arena(["rank", "votes.csv", "--ci", "nope"])
    assert result["code"] == 2 and result["err"].startswith("error: argument --ci: invalid choice")
    assert len(result["err"].splitlines()) == 1
    assert loaded(result["modules"], SERVER_AND_DATABASE + NUMERICAL) == []


VOTES = [("a", "b", "model_a"), ("b", "c", "model_a"), ("c", "a", "model_b"), ("a", "c", "tie"), ("b", "a", "model_b")]


def write_votes(path):
    """Votes in which a beats b beats c, as CSV or (with an anony column) Parquet."""
    if path.suffix == ".csv":
        path.write_text("model_a,model_b,winner\n" + "".join(",".join(vote) + "\n" for vote in VOTES * 20))
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*(VOTES * 20), strict=True))
    table = {
        name: pa.array(column).dictionary_encode() for name, column in zip(["model_a", "model_b", "winner"], columns)
    }
    pq.write_table(pa.table({**table, "anony": pa.array([True] * len(columns[0]))}), path)


@pytest.mark.parametrize("name", ["votes.csv", "votes.parquet"])
def test_rank_reads_a_file_without_the_server_the_database_or_the_generators(tmp_path, name):
    write_votes(tmp_path / name)
    result = run_arena(
        ["rank", str(tmp_path / name), "--ci", "bootstrap", "--rounds", "50", "--device", "cpu", "--format", "json"]
    )
    assert result["code"] == 0, result["err"]
    assert [row["model"] for row in json.loads(result["out"])] == ["a", "b", "c"]
    assert loaded(result["modules"], SERVER_AND_DATABASE) == []
    # Parquet and CSV files are ranked with numpy and pyarrow alone: pandas, scipy and
    # torch are for other inputs and options (DataFrames, JSON, --by, style control, a GPU).
    assert loaded(result["modules"], ("pandas", "scipy", "torch")) == []
