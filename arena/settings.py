"""Runtime configuration: command-line flags over environment variables over defaults.

Secrets (the IP-hash salt, the admin token, endpoint keys) are read from the
environment only; nothing here writes them anywhere.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from ranking.options import CIMethod

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = REPO_ROOT / "data"
DEMO_MODELS_FILE = DATA_DIR / "models.demo.yaml"

log = logging.getLogger("arena")
SECRET_FILE = "secret.key"


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
    k_anonymity: int = 10  # a group value (or combination of dump fields) with fewer distinct voters does not exist
    db_threads: int = 8  # the SQL gateway's threads: every database call from async code runs on them
    # trust: vote-time limits (per voter id, and per IP hash for everyone behind one address)
    redis_url: str | None = None  # shared limits, events and board versions between replicas
    battles_per_minute: int = 20
    battles_per_day: int = 1000
    votes_per_minute: int = 30
    votes_per_day: int = 2000
    ip_battles_per_minute: int = 120
    ip_votes_per_minute: int = 240
    ip_requests_per_minute: int = 1200  # any API request, per address
    new_voters_per_hour: int = 30  # voter ids first stored from one IP hash in an hour
    min_dwell_ms: int = 1000  # from both outputs complete to the vote; text adds per character read
    dwell_ms_per_char: float = 4.0
    max_dwell_ms: int = 8000
    max_body_bytes: int = 256 * 1024
    public_url: str | None = None  # https://... makes the voter cookie Secure and is the API's allowed origin
    allowed_origins: str = ""  # more origins for the API, comma-separated
    trusted_proxies: str = ""  # proxies whose X-Forwarded-For is believed, comma-separated addresses
    # trust: statistical detection and review
    quarantine: bool = True  # flagged voters' votes leave the boards until an operator decides
    quarantine_weight: float = 0.0  # > 0: the robust fit keeps quarantined votes at this weight instead
    audit_alpha: float = 0.01
    audit_every_s: float = 60.0
    admin_token: str = field(default="", repr=False)
    # researchers: scheduled vote dumps in <data dir>/dumps (unset: only `arena export` writes them)
    dump_every: float | None = None  # seconds between rolling releases
    dump_older_than_days: float = 0.0  # a rolling release holds votes older than this
    # model authors: submissions, approval, health
    submission_trusted_hosts: str = ""  # hosts a submission may reach over http and on private addresses
    submissions_pending_max: int = 3  # waiting submissions per author token and per IP hash
    organisation_active_max: int = 5  # active (and waiting) models per organisation
    new_model_boost: float = 4.0  # sampling weight multiplier until a model has provisional_votes votes
    # scale: pair sampling (arena/services/sampling.py) and inverse-propensity boards
    sampler: str = "uniform"  # uniform | active, or modality:sampler pairs (text:active,image:uniform)
    sampler_floor: float = 0.1  # the active sampler keeps this share of the uniform distribution
    inverse_propensity: bool = False  # boards weigh each vote by 1/(probability its pair was drawn)
    mix_3d_formats: bool = False  # 3D battles may pair an untextured mesh with a textured one
    health_every_s: float = 60.0  # between health checks of remote models
    health_failures: int = 3  # consecutive failures (battles or checks) that disable a remote model
    secret_kept: bool = False  # the secret is the one generated in the data dir, not ARENA_SECRET_KEY

    def sampler_for(self, modality: str) -> str:
        """The sampler of a modality's anonymous battles: "uniform" or "active"."""
        chosen = parse_samplers(self.sampler)
        return chosen.get(modality, chosen.get("*", "uniform"))

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'arena.db').resolve()}"

    def subkey(self, purpose: str) -> bytes:
        """A key for one use (IP-hash salt, dump salt, endpoint-key encryption), derived with HKDF.

        One secret, many keys: a key leaked from one use says nothing about another.
        """
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"open-arena/{purpose}".encode())
        return hkdf.derive(self.secret_key.encode())

    @cached_property
    def proxies(self) -> frozenset[str]:
        return frozenset(part.strip() for part in self.trusted_proxies.split(",") if part.strip())

    @cached_property
    def origins(self) -> frozenset[str]:
        """Origins allowed to call the API from a browser: the public URL's and those listed."""
        listed = {part.strip().rstrip("/") for part in self.allowed_origins.split(",") if part.strip()}
        if self.public_url:
            listed.add(self.public_url.rstrip("/"))
        return frozenset(listed)

    @property
    def secure_cookies(self) -> bool:
        return bool(self.public_url and self.public_url.startswith("https://"))

    @cached_property
    def trusted_hosts(self) -> frozenset[str]:
        return frozenset(part.strip().lower() for part in self.submission_trusted_hosts.split(",") if part.strip())

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"


def _flag(raw: str) -> bool:
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


_flag.__name__ = "boolean (1/0, true/false)"

SAMPLERS = ("uniform", "active")


def parse_samplers(raw: str) -> dict[str, str]:
    """ARENA_SAMPLER: "uniform", "active", or modality:sampler pairs separated by commas
    ("text:active,image:uniform"); a bare value is the default of every modality (key "*").
    Raises ValueError naming the allowed values."""
    from arena.vocabulary import Modality

    out: dict[str, str] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        modality, _, name = (x.strip() for x in part.rpartition(":"))
        if name not in SAMPLERS:
            raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}, not {name!r}")
        if modality and modality not in {m.value for m in Modality}:
            raise ValueError(f"sampler modality must be one of {', '.join(Modality)}, not {modality!r}")
        out[modality or "*"] = name
    return out


def _samplers(raw: str) -> str:
    parse_samplers(raw)
    return raw


_samplers.__name__ = "uniform, active or modality:sampler list"


def _fraction(raw: str) -> float:
    value = float(raw)
    if not 0 <= value <= 1:
        raise ValueError(raw)
    return value


_fraction.__name__ = "a number from 0 to 1"

# Settings read from ARENA_<NAME> (upper case), each with its parser.
ENVIRONMENT: dict[str, Callable[[str], object]] = {
    "max_prompt_chars": int,
    "generation_timeout_s": float,
    "leaderboard_refresh_s": float,
    "provisional_votes": int,
    "k_anonymity": int,
    "db_threads": int,
    "redis_url": str,
    "battles_per_minute": int,
    "battles_per_day": int,
    "votes_per_minute": int,
    "votes_per_day": int,
    "ip_battles_per_minute": int,
    "ip_votes_per_minute": int,
    "ip_requests_per_minute": int,
    "new_voters_per_hour": int,
    "min_dwell_ms": int,
    "dwell_ms_per_char": float,
    "max_dwell_ms": int,
    "max_body_bytes": int,
    "public_url": str,
    "allowed_origins": str,
    "trusted_proxies": str,
    "quarantine": _flag,
    "quarantine_weight": float,
    "audit_alpha": float,
    "audit_every_s": float,
    "admin_token": str,
    "dump_every": float,
    "dump_older_than_days": float,
    "submission_trusted_hosts": str,
    "submissions_pending_max": int,
    "organisation_active_max": int,
    "new_model_boost": float,
    "sampler": _samplers,
    "sampler_floor": _fraction,
    "inverse_propensity": _flag,
    "mix_3d_formats": _flag,
    "health_every_s": float,
    "health_failures": int,
}


def from_environment(**overrides) -> Settings:
    """Build settings from ARENA_* variables, then apply non-None overrides (CLI flags)."""
    env = os.environ
    values: dict = {
        "data_dir": Path(env.get("ARENA_DATA_DIR", "arena-data")),
        "models_file": Path(env.get("ARENA_MODELS_FILE", str(DEMO_MODELS_FILE))),
        "database_url": env.get("ARENA_DATABASE_URL") or None,
        "secret_key": env.get("ARENA_SECRET_KEY", ""),
    }
    for name, cast in ENVIRONMENT.items():
        raw = env.get(f"ARENA_{name.upper()}")
        if raw:
            try:
                values[name] = cast(raw)
            except ValueError:
                raise ValueError(f"ARENA_{name.upper()} must be {cast.__name__}-valued, not {raw!r}") from None
    values.update({key: value for key, value in overrides.items() if value is not None})
    return Settings(**values)


def ensure_secret(settings: Settings) -> None:
    """Give `settings` its secret: ARENA_SECRET_KEY, or on SQLite one kept in the data dir.

    Raises ValueError for a server database without ARENA_SECRET_KEY: replicas must share one.
    """
    if settings.secret_key:
        return
    if not settings.sqlalchemy_url.startswith("sqlite"):
        raise ValueError("ARENA_SECRET_KEY must be set with a server database: every replica needs the same one")
    settings.secret_key = kept_secret(settings.data_dir)
    settings.secret_kept = True


def kept_secret(data_dir: Path) -> str:
    """The single-machine default: a secret generated once and kept in the data dir (mode 0600),
    so salted hashes stay comparable across restarts."""
    path = data_dir / SECRET_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secret)
    log.info("generated a secret key in %s (set ARENA_SECRET_KEY to choose one)", path)
    return secret
