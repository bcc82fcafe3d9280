"""The `arena` command as an operator uses it: serve and restart, db upgrade, simulate, errors."""

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import arena_command, eventually, free_port

HEADERS = {"X-Arena-Voter": "cli-voter-0001"}


def start_server(data_dir, models_file, env):
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "arena",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--models",
            str(models_file),
        ],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read())
        try:
            if httpx.get(f"{url}/api/v1/models", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise AssertionError("server did not start")


def stop_server(process):
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


def test_restart_keeps_every_vote(tmp_path, models_file, database_url):
    env = {"ARENA_DATABASE_URL": database_url or "", "ARENA_SECRET_KEY": "s", "ARENA_MIN_DWELL_MS": "0"}
    process, url = start_server(tmp_path / "data", models_file, env)
    voted = {}
    try:
        for modality in ("text", "image", "3d"):
            battle = httpx.post(
                f"{url}/api/v1/battles",
                json={"modality": modality, "prompt": "a red ball"},
                headers=HEADERS,
                timeout=30,
            ).json()
            names = httpx.post(
                f"{url}/api/v1/battles/{battle['id']}/votes", json={"winner": "model_b"}, headers=HEADERS, timeout=30
            ).json()
            voted[battle["id"]] = names["model_a"]
    finally:
        stop_server(process)
    process, url = start_server(tmp_path / "data", models_file, env)
    try:
        for battle_id, model_a in voted.items():
            battle = httpx.get(f"{url}/api/v1/battles/{battle_id}", headers=HEADERS, timeout=30).json()
            assert battle["votes"] == {"overall": "model_b"} and battle["model_a"] == model_a

        def board():
            found = httpx.get(f"{url}/api/v1/leaderboard", params={"modality": "image"}, timeout=30).json()
            return found if found["status"] != "pending" else None

        assert eventually(board)["votes"] == 1  # fitted in the background at start, from the stored votes
    finally:
        stop_server(process)


def test_db_upgrade_migrates_a_new_postgresql_database(postgres_template):
    import psycopg

    from tests.conftest import POSTGRES_ADMIN, _admin

    name = f"{postgres_template}_empty"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        url = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
        result = arena_command("db", "upgrade", env={"ARENA_DATABASE_URL": url})
        assert result.returncode == 0, result.stderr
        assert "is at revision" in result.stdout
        with psycopg.connect(url.replace("+psycopg", "")) as connection:
            assert connection.execute("SELECT count(*) FROM votes").fetchone()[0] == 0
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_serve_refuses_an_unmigrated_postgresql_database(postgres_template, tmp_path):
    from tests.conftest import POSTGRES_ADMIN, _admin

    name = f"{postgres_template}_bare"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        url = POSTGRES_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
        result = arena_command("serve", "--data-dir", str(tmp_path), env={"ARENA_DATABASE_URL": url})
        assert result.returncode == 2  # a server database needs a shared secret first
        assert "ARENA_SECRET_KEY must be set" in result.stderr and "Traceback" not in result.stderr
        result = arena_command(
            "serve", "--data-dir", str(tmp_path), env={"ARENA_DATABASE_URL": url, "ARENA_SECRET_KEY": "s"}
        )
        assert result.returncode == 2
        assert "arena db upgrade" in result.stderr and "Traceback" not in result.stderr
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_simulate_fills_a_meaningful_leaderboard(tmp_path, models_file):
    result = arena_command(
        "simulate",
        "--votes",
        "300",
        "--modality",
        "text",
        "--seed",
        "3",
        "--data-dir",
        str(tmp_path),
        "--models",
        str(models_file),
        # pairs drawn uniformly: with the new-model boost, whichever model passes the
        # provisional threshold first (as 16 concurrent voters interleave) is drawn less
        env={"ARENA_NEW_MODEL_BOOST": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "simulated 300 votes" in result.stdout

    from arena.runtime import Arena
    from arena.services.leaderboards import board_key
    from arena.settings import Settings

    arena = Arena(Settings(data_dir=tmp_path, models_file=models_file, secret_key="s"))
    board = arena.leaderboards.refit(board_key("text"))
    assert board.votes == 300
    # the demo models' hidden strengths follow their quality, and 300 votes show it
    best = board.rows[0]["model"]
    qualities = {e.name: e.options.quality for e in arena.entries if e.modality == "text"}
    assert qualities[best] == max(qualities.values())


def test_bulk_simulate_writes_votes_without_generating(tmp_path, models_file):
    result = arena_command(
        "simulate",
        "--votes",
        "5000",
        "--bulk",
        "--seed",
        "1",
        "--data-dir",
        str(tmp_path),
        "--models",
        str(models_file),
    )
    assert result.returncode == 0, result.stderr
    assert "simulated 5000 votes" in result.stdout


@pytest.mark.parametrize(
    "args,words",
    [
        (["simulate", "--votes", "0"], "--votes"),
        (["simulate", "--votes", "5", "--modality", "audio"], "--modality"),
        (["serve", "--models", "/nonexistent/models.yaml"], "models file not found"),
    ],
)
def test_cli_errors_are_one_readable_line(tmp_path, args, words):
    result = arena_command(*args, "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert words in result.stderr and "Traceback" not in result.stderr


def test_a_bad_models_file_names_the_entry_and_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "models:\n  - name: ok-model\n    modality: text\n    backend: demo\n"
        "  - name: remote\n    modality: text\n    backend: openai\n    options: {}\n"
    )
    result = arena_command("serve", "--data-dir", str(tmp_path), "--models", str(bad))
    assert result.returncode == 2
    assert "entry 2 ('remote')" in result.stderr and "base_url" in result.stderr


def test_the_single_machine_secret_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    from arena.settings import ensure_secret, from_environment

    monkeypatch.delenv("ARENA_SECRET_KEY", raising=False)
    monkeypatch.delenv("ARENA_DATABASE_URL", raising=False)
    first = from_environment(data_dir=tmp_path)
    ensure_secret(first)
    kept = tmp_path / "secret.key"
    assert kept.stat().st_mode & 0o777 == 0o600
    again = from_environment(data_dir=tmp_path)
    ensure_secret(again)
    assert again.secret_key == first.secret_key  # a restart keeps the salts
    assert first.subkey("ip-hash") != first.subkey("dumps")  # one subkey per use
