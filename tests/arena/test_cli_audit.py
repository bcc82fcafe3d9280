"""`arena audit`: on the database and on a file of the same votes it flags the same voters alike."""

import asyncio
import json

import pytest

from arena.settings import Settings
from arena.store.history import AUDIT_COLUMNS, audit_votes
from tests.arena.simulated import attackers, named, simulation, trust_models_file, write_votes
from tests.conftest import arena_command, ready_arena


def filled_database(tmp_path, database_url) -> tuple[Settings, set[str]]:
    """A database with simulated votes (known attackers), scanned once; its votes also exported to Parquet."""
    settings = Settings(
        data_dir=tmp_path / "data",
        models_file=trust_models_file(tmp_path / "models.yaml"),
        database_url=database_url,
        secret_key="s",
    )
    arena = ready_arena(settings)
    sim = simulation(seed=4)

    async def fill() -> None:
        await arena.start(jobs=False)
        try:
            write_votes(arena, named(sim, arena))
            arena.integrity.scan()
            audit_votes(arena.store)[AUDIT_COLUMNS].to_parquet(tmp_path / "votes.parquet")
        finally:
            await arena.stop()

    asyncio.run(fill())
    return settings, attackers(sim)


def test_audit_on_the_database_and_on_an_export_of_its_votes_agree(tmp_path, database_url):
    settings, bad = filled_database(tmp_path, database_url)
    env = {"ARENA_DATABASE_URL": database_url or "", "ARENA_SECRET_KEY": "s"}
    from_db = arena_command("audit", "--db", "--data-dir", str(settings.data_dir), "--format", "json", env=env)
    from_file = arena_command("audit", str(tmp_path / "votes.parquet"), "--format", "json")
    assert from_db.returncode == 0 and from_file.returncode == 0, from_db.stderr + from_file.stderr
    db, file = json.loads(from_db.stdout), json.loads(from_file.stdout)
    assert {flag["voter"] for flag in db} == bad
    assert [(f["voter"], f["score"], f["reasons"], f["votes"]) for f in db] == [
        (f["voter"], f["score"], f["reasons"], f["votes"]) for f in file
    ]
    assert {flag["state"] for flag in db} == {"quarantined"}  # the database also says what was decided

    table = arena_command("audit", "--db", "--data-dir", str(settings.data_dir), env=env)
    assert table.returncode == 0 and f"{len(bad)} of " in table.stdout and "text/overall" in table.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["audit", "--db", "votes.parquet"], "a vote file or --db, not both"),
        (["audit", "--db", "--voter", "judge"], "--voter and --group are for vote files"),
        (["audit", "--db", "--alpha", "2"], "alpha must be between 0 and 1"),
        (["audit"], "no vote file given"),
    ],
)
def test_audit_errors_are_one_readable_line(tmp_path, args, words):
    if "--alpha" in args:  # the level is checked against a database that has votes
        filled_database(tmp_path, None)
    result = arena_command(
        *args,
        *(["--data-dir", str(tmp_path / "data")] if "--db" in args else []),
        env={"ARENA_DATABASE_URL": "", "ARENA_SECRET_KEY": "s"},
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr


def test_audit_of_a_database_without_votes_says_so(tmp_path):
    assert (
        arena_command(
            "db",
            "upgrade",
            "--data-dir",
            str(tmp_path / "data"),
            env={"ARENA_DATABASE_URL": "", "ARENA_SECRET_KEY": "s"},
        ).returncode
        == 0
    )
    result = arena_command(
        "audit", "--db", "--data-dir", str(tmp_path / "data"), env={"ARENA_DATABASE_URL": "", "ARENA_SECRET_KEY": "s"}
    )
    assert result.returncode == 2 and "no votes to audit" in result.stderr and "Traceback" not in result.stderr
