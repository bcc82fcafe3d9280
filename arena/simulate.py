"""Simulated voters, so a fresh install shows a meaningful leaderboard in seconds.

Each model gets a hidden strength (demo models: from their quality, so the board
ends up ordered as a person would order them); a voter prefers A over B with the
Bradley-Terry probability of their strengths, says tie now and then, and casts
the vote through the same battle service as a real voter. `bulk` skips generation
and writes battles and votes directly, for databases of millions of votes.
"""
from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert

from arena.services.categories import categorise
from arena.runtime import Arena
from arena.services.sampling import draw_pair
from arena.store.schema import DIMENSIONS, MODALITIES, Battle, Vote, Voter
from arena.settings import DATA_DIR
from arena.services.voters import PROFILE_FIELDS

TIE_RATE = 0.12
BOTH_BAD_RATE = 0.03
COUNTRIES = ("FR", "DE", "US", "IN", "BR", "JP", "NG", "GB")
LANGUAGES = ("en", "fr", "de", "hi", "pt", "ja", "yo")


@dataclass
class Report:
    votes: int = 0
    battles: int = 0
    failed: int = 0
    seconds: float = 0.0
    strengths: dict[str, float] = field(default_factory=dict)


def hidden_strengths(arena: Arena, rng: random.Random) -> dict[str, float]:
    """Log-strengths: demo quality q gives about +0.6 per level, plus a little noise."""
    strengths = {}
    for entry in arena.entries:
        quality = getattr(entry.options, "quality", None)
        base = 0.6 * (quality - 2) if quality is not None else rng.gauss(0, 0.5)
        strengths[entry.name] = base + rng.gauss(0, 0.1)
    return strengths


def preferred(strengths: dict[str, float], a: str, b: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < BOTH_BAD_RATE:
        return "both_bad"
    if roll < BOTH_BAD_RATE + TIE_RATE:
        return "tie"
    p_a = 1 / (1 + math.exp(strengths[b] - strengths[a]))
    return "model_a" if rng.random() < p_a else "model_b"


def load_prompts(modality: str) -> list[str]:
    path = DATA_DIR / "prompts" / f"{modality}.txt"
    if path.exists():
        prompts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if prompts:
            return prompts
    return [f"a {modality} example"]


def make_voters(arena: Arena, count: int, rng: random.Random) -> list[str]:
    """Simulated voters, some with a profile, so group leaderboards have data too."""
    now = datetime.now(timezone.utc)
    rows = []
    for _ in range(count):
        profile = rng.random() < 0.7
        rows.append({
            "id": f"sim-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}",
            "created_at": now,
            "age_band": rng.choice(PROFILE_FIELDS["age_band"]) if profile else None,
            "gender": rng.choice(PROFILE_FIELDS["gender"]) if profile else None,
            "country": rng.choice(COUNTRIES) if profile else None,
            "first_language": rng.choice(LANGUAGES) if profile else None,
            "expertise": rng.choice(PROFILE_FIELDS["expertise"]) if profile else None,
            "consent_at": now if profile else None,
        })
    with arena.store.write() as session:
        session.execute(insert(Voter), rows)
    return [row["id"] for row in rows]


async def simulate(arena: Arena, votes: int, modalities: list[str], seed: int, concurrency: int = 16) -> Report:
    """Battles and votes through the battle service, `concurrency` voters at a time."""
    rng = random.Random(seed)
    report = Report(strengths=hidden_strengths(arena, rng))
    voters = make_voters(arena, max(10, min(1000, votes // 10)), rng)
    prompts = {m: load_prompts(m) for m in modalities}
    plan = [(rng.choice(modalities), rng.choice(voters), rng.random()) for _ in range(votes)]
    queue: asyncio.Queue = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)
    started = time.perf_counter()

    async def voter_loop() -> None:
        local = random.Random(rng.random())
        while not queue.empty():
            modality, voter, _ = queue.get_nowait()
            view = await arena.battles.start(modality, local.choice(prompts[modality]), voter)
            report.battles += 1
            if view.status != "ready":
                report.failed += 1
                continue
            a, b = await asyncio.to_thread(_pair_of, arena, view.id)
            for dimension in DIMENSIONS[modality]:
                if dimension == "overall" or local.random() < 0.3:
                    winner = preferred(report.strengths, a, b, local)
                    await asyncio.to_thread(arena.battles.vote, view.id, voter, winner, dimension)
                    report.votes += dimension == "overall"

    await asyncio.gather(*(voter_loop() for _ in range(concurrency)))
    report.seconds = time.perf_counter() - started
    return report


def _pair_of(arena: Arena, battle_id: str) -> tuple[str, str]:
    with arena.store.read() as session:
        battle = session.get(Battle, battle_id)
        return battle.model_a, battle.model_b


def bulk(arena: Arena, votes: int, modalities: list[str], seed: int, chunk: int = 50_000) -> Report:
    """Write `votes` ready battles with one overall vote each, without generating outputs.

    For load tests of the leaderboard (millions of votes); the battles carry no
    outputs, so they are useful for ranking, not for replaying.
    """
    rng = random.Random(seed)
    report = Report(strengths=hidden_strengths(arena, rng))
    voters = make_voters(arena, max(10, min(5000, votes // 200)), rng)
    models = {m: arena.battles.active_models(m) for m in modalities}
    prompts = {m: load_prompts(m) for m in modalities}
    categories = {m: {p: categorise(m, p) for p in prompts[m]} for m in modalities}
    started = time.perf_counter()
    now = datetime.now(timezone.utc) - timedelta(seconds=votes)
    done = 0
    while done < votes:
        battles, vote_rows = [], []
        for i in range(done, min(votes, done + chunk)):
            modality = rng.choice(modalities)
            a, b, probability = draw_pair(models[modality], rng)
            prompt = rng.choice(prompts[modality])
            battle_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            voter = rng.choice(voters)
            at = now + timedelta(seconds=i)
            battles.append({
                "id": battle_id, "modality": modality, "mode": "anonymous", "prompt": prompt,
                "conversation": [prompt], "category": categories[modality][prompt], "model_a": a,
                "model_b": b, "pair_probability": probability, "status": "ready", "voter_id": voter,
                "created_at": at, "ready_at": at, "updated_at": at,
            })
            vote_rows.append({
                "battle_id": battle_id, "voter_id": voter, "dimension": "overall",
                "winner": preferred(report.strengths, a, b, rng), "anonymous": True,
                "created_at": at + timedelta(seconds=5), "dwell_ms": 5000, "valid": True,
            })
        with arena.store.write() as session:
            session.execute(insert(Battle), battles)
            session.execute(insert(Vote), vote_rows)
        done += len(battles)
    report.battles = report.votes = done
    report.seconds = time.perf_counter() - started
    return report


def parse_modalities(value: str | None) -> list[str]:
    if value is None or value == "all":
        return list(MODALITIES)
    if value not in MODALITIES:
        raise ValueError(f"--modality must be one of: {', '.join(MODALITIES)}, all")
    return [value]


def describe(report: Report, modalities: list[str], database: str, data_dir: Path) -> str:
    ranked = sorted(report.strengths.items(), key=lambda item: -item[1])
    lines = [
        f"simulated {report.votes} votes in {report.battles} battles "
        f"({', '.join(modalities)}) in {report.seconds:.1f} s"
        + (f"; {report.failed} battles failed" if report.failed else ""),
        f"database: {database}",
        "hidden strengths (log scale): " + ", ".join(f"{name} {value:+.2f}" for name, value in ranked),
        "see the leaderboard: arena serve --data-dir " + str(data_dir) + ", then /api/v1/leaderboard",
    ]
    return "\n".join(lines)
