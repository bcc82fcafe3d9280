"""Simulated voters, so a fresh install shows a meaningful leaderboard in seconds.

Each model gets a hidden strength (demo models: from their quality, so the board
ends up ordered as a person would order them); a voter prefers A over B with the
Bradley-Terry probability of their strengths, says tie now and then, and casts
the vote through the same battle service as a real voter. `bulk` skips generation
and writes battles and votes directly, for databases of millions of votes.

Pairs come from the battle service's sampler (ARENA_SAMPLER, `arena simulate --sampler`).
With the active sampler the board job is not running here, so the overall board of each
active modality is refitted every `refit_every` votes: the sampler reads that board, as
it reads the board job's in a server.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from arena.runtime import Arena
from arena.services.catalog import active_models
from arena.services.categories import categorise
from arena.services.languages import detect_language
from arena.services.leaderboards import board_key
from arena.services.prompts import example_prompts
from arena.services.sampling import draw
from arena.services.voters import PROFILE_FIELDS
from arena.store.votes import Ballot, record_votes
from arena.vocabulary import DIMENSIONS, BattleMode, BattleStatus, Dimension, Modality, VoteSource, Winner

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


def preferred(strengths: dict[str, float], a: str, b: str, rng: random.Random) -> Winner:
    roll = rng.random()
    if roll < BOTH_BAD_RATE:
        return Winner.BOTH_BAD
    if roll < BOTH_BAD_RATE + TIE_RATE:
        return Winner.TIE
    p_a = 1 / (1 + math.exp(strengths[b] - strengths[a]))
    return Winner.MODEL_A if rng.random() < p_a else Winner.MODEL_B


def make_voters(arena: Arena, count: int, rng: random.Random) -> list[str]:
    """Simulated voters, some with a profile, so group leaderboards have data too."""
    now = datetime.now(UTC)
    rows: list[dict[str, object]] = []
    for _ in range(count):
        profile = rng.random() < 0.7
        rows.append(
            {
                "id": f"sim-{uuid.UUID(int=rng.getrandbits(128)).hex[:20]}",
                "created_at": now,
                "age_band": rng.choice(PROFILE_FIELDS["age_band"]) if profile else None,
                "gender": rng.choice(PROFILE_FIELDS["gender"]) if profile else None,
                "country": rng.choice(COUNTRIES) if profile else None,
                "first_language": rng.choice(LANGUAGES) if profile else None,
                "expertise": rng.choice(PROFILE_FIELDS["expertise"]) if profile else None,
                "consent_at": now if profile else None,
            }
        )
    arena.voters.create_many(rows)
    return [str(row["id"]) for row in rows]


def refit_every(votes: int) -> int:
    """Votes between board refits for the active sampler: about 20 refits per run."""
    return max(50, votes // 20)


def refit_active(arena: Arena, modalities: list[Modality]) -> None:
    """Refit the overall board of each modality whose sampler is active."""
    for modality in modalities:
        if arena.settings.sampler_for(modality) == "active":
            arena.leaderboards.refit(board_key(modality))


async def simulate(arena: Arena, votes: int, modalities: list[Modality], seed: int, concurrency: int = 16) -> Report:
    """Battles and votes through the battle service, `concurrency` voters at a time."""
    rng = random.Random(seed)
    report = Report(strengths=hidden_strengths(arena, rng))
    voters = make_voters(arena, max(10, min(1000, votes // 10)), rng)
    prompts = {m: example_prompts(m) for m in modalities}
    plan = [(rng.choice(modalities), rng.choice(voters), rng.random()) for _ in range(votes)]
    started = time.perf_counter()
    step = refit_every(votes) if any(arena.settings.sampler_for(m) == "active" for m in modalities) else votes
    for first in range(0, votes, step):
        if first:
            await asyncio.to_thread(refit_active, arena, modalities)
        await _simulate_round(arena, plan[first : first + step], prompts, report, rng, concurrency)
    report.seconds = time.perf_counter() - started
    return report


async def _simulate_round(
    arena: Arena,
    plan: list[tuple[Modality, str, float]],
    prompts: Mapping[Modality, Sequence[str]],
    report: Report,
    rng: random.Random,
    concurrency: int,
) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    for item in plan:
        queue.put_nowait(item)

    async def voter_loop() -> None:
        local = random.Random(rng.random())
        while not queue.empty():
            modality, voter, _ = queue.get_nowait()
            view = await arena.battles.start(
                modality, local.choice(prompts[modality]), voter, source=VoteSource.SIMULATE
            )
            report.battles += 1
            if view.status != "ready":
                report.failed += 1
                continue
            a, b = await arena.battles.pair_of(view.id)
            for dimension in DIMENSIONS[modality]:
                if dimension == Dimension.OVERALL or local.random() < 0.3:
                    winner = preferred(report.strengths, a, b, local)
                    await arena.battles.vote(view.id, voter, winner, dimension, source=VoteSource.SIMULATE)
                    report.votes += dimension == Dimension.OVERALL

    await asyncio.gather(*(voter_loop() for _ in range(concurrency)))


def bulk(arena: Arena, votes: int, modalities: list[Modality], seed: int, chunk: int = 50_000) -> Report:
    """Write `votes` ready battles with one overall vote each, without generating outputs.

    For load tests of the leaderboard (millions of votes); the battles carry no
    outputs, so they are useful for ranking, not for replaying.
    """
    rng = random.Random(seed)
    report = Report(strengths=hidden_strengths(arena, rng))
    voters = make_voters(arena, max(10, min(5000, votes // 200)), rng)
    models = {m: active_models(arena.store, m) for m in modalities}
    prompts = {m: example_prompts(m) for m in modalities}
    categories = {m: {p: categorise(m, p) for p in prompts[m]} for m in modalities}
    languages = {m: {p: detect_language(p) if m == Modality.TEXT else None for p in prompts[m]} for m in modalities}
    started = time.perf_counter()
    now = datetime.now(UTC) - timedelta(seconds=votes)
    if any(arena.settings.sampler_for(m) == "active" for m in modalities):
        chunk = min(chunk, refit_every(votes))
    done = 0
    while done < votes:
        if done:
            refit_active(arena, modalities)
        pairs = {m: arena.battles.pair_distribution(m, models[m]) for m in modalities}
        battles: list[dict[str, object]] = []
        ballots: list[Ballot] = []
        for i in range(done, min(votes, done + chunk)):
            modality = rng.choice(modalities)
            a, b, probability = draw(pairs[modality], rng)
            prompt = rng.choice(prompts[modality])
            battle_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            voter = rng.choice(voters)
            at = now + timedelta(seconds=i)
            battles.append(
                {
                    "id": battle_id,
                    "modality": modality.value,
                    "mode": BattleMode.ANONYMOUS.value,
                    "prompt": prompt,
                    "conversation": [prompt],
                    "category": categories[modality][prompt],
                    "language": languages[modality][prompt],
                    "model_a": a,
                    "model_b": b,
                    "pair_probability": probability,
                    "status": BattleStatus.READY.value,
                    "voter_id": voter,
                    "created_at": at,
                    "ready_at": at,
                    "updated_at": at,
                }
            )
            ballots.append(
                Ballot(
                    battle_id,
                    voter,
                    preferred(report.strengths, a, b, rng),
                    Dimension.OVERALL,
                    cast_at=at + timedelta(seconds=5),
                    dwell_ms=5000,
                )
            )
        with arena.store.atomic():  # battles and their votes stand or fall together
            arena.battles.write_ready(battles)
            record_votes(arena.store, ballots, VoteSource.BULK)
        done += len(battles)
    report.battles = report.votes = done
    report.seconds = time.perf_counter() - started
    return report


def parse_modalities(value: str | None) -> list[Modality]:
    if value is None or value == "all":
        return list(Modality)
    try:
        return [Modality(value)]
    except ValueError:
        raise ValueError(f"--modality must be one of: {', '.join(Modality)}, all") from None


def describe(report: Report, modalities: list[Modality], database: str, data_dir: Path) -> str:
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
