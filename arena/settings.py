"""Runtime configuration: command-line flags over environment variables over defaults.

Secrets (the IP-hash salt, the admin token, endpoint keys) are read from the
environment only; nothing here writes them anywhere.
"""
from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from ranking.options import CIMethod

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
DEMO_MODELS_FILE = DATA_DIR / "models.demo.yaml"

log = logging.getLogger("arena")


@dataclass
class Settings:
    data_dir: Path = Path("arena-data")
    models_file: Path = DEMO_MODELS_FILE
    database_url: str | None = None  # default: SQLite under data_dir
    secret_key: str = field(default="", repr=False)
    max_prompt_chars: int = 8000
    max_turns: int = 20
    generation_timeout_s: float = 60.0
    leaderboard_refresh_s: float = 30.0
    leaderboard_debounce_s: float = 1.0
    leaderboard_ci: CIMethod = "sandwich"
    provisional_votes: int = 30
    min_group_votes: int = 50
    db_threads: int = 8  # the SQL gateway's threads: every database call from async code runs on them

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'arena.db').resolve()}"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"


def from_environment(**overrides) -> Settings:
    """Build settings from ARENA_* variables, then apply non-None overrides (CLI flags)."""
    env = os.environ
    values: dict = {
        "data_dir": Path(env.get("ARENA_DATA_DIR", "arena-data")),
        "models_file": Path(env.get("ARENA_MODELS_FILE", str(DEMO_MODELS_FILE))),
        "database_url": env.get("ARENA_DATABASE_URL") or None,
        "secret_key": env.get("ARENA_SECRET_KEY", ""),
    }
    for name, cast in (
        ("max_prompt_chars", int),
        ("generation_timeout_s", float),
        ("leaderboard_refresh_s", float),
        ("provisional_votes", int),
        ("db_threads", int),
    ):
        raw = env.get(f"ARENA_{name.upper()}")
        if raw:
            values[name] = cast(raw)
    values.update({key: value for key, value in overrides.items() if value is not None})
    settings = Settings(**values)
    if not settings.secret_key:
        # A per-process salt keeps IP hashes unlinkable rather than unsalted; hashes
        # from different runs then do not match, which is the safe failure.
        log.warning("ARENA_SECRET_KEY is not set: using a random per-process salt for IP hashes")
        settings.secret_key = secrets.token_hex(32)
    return settings
