"""Simulated voters with known labels (ranking.fraud.simulate_arena), written through the vote path.

Each simulated vote becomes a ready text battle (`write_ready`) and a bulk vote
(`record_votes`, source bulk) at the simulation's own time, by a voter row that carries
the simulation's ip hash; so the database holds exactly the simulation's votes table.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from arena.runtime import Arena
from arena.store.votes import Ballot, record_votes
from arena.vocabulary import BattleMode, BattleStatus, Dimension, Modality, VoteSource, Winner
from ranking import RankOptions, rank
from ranking.fraud import ArenaOptions, Attack, Simulation, simulate_arena
from tests.conftest import write_models_file

TEXT_MODELS = 8


def trust_models_file(path: Path) -> Path:
    """The demo models plus five more text models: eight text models for the detector to compare."""
    extra = [
        {
            "name": f"quill-extra-{i}",
            "modality": "text",
            "backend": "demo",
            "options": {"quality": 1 + i % 3, "token_delay_ms": 0},
        }
        for i in range(TEXT_MODELS - 3)
    ]
    return write_models_file(path, extra)


def text_models(arena: Arena) -> list[str]:
    names = sorted(entry.name for entry in arena.entries if entry.modality == Modality.TEXT)
    assert len(names) == TEXT_MODELS, names
    return names


def simulation(seed: int = 1, honest: int = 150) -> Simulation:
    """Honest voters, four always-left voters and four promoters of one model; about 4,000 votes."""
    return simulate_arena(
        ArenaOptions(
            models=TEXT_MODELS,
            honest=honest,
            median_votes=20,
            seed=seed,
            attacks=(Attack("always_left", voters=4, votes=(40, 60)), Attack("promote", voters=4, votes=(40, 60))),
        )
    )


def named(sim: Simulation, arena: Arena) -> pd.DataFrame:
    """The simulation's votes with our model names."""
    mapping = {f"model-{i:02d}": name for i, name in enumerate(text_models(arena))}
    frame = sim.frame.copy()
    frame["model_a"] = frame["model_a"].map(mapping)
    frame["model_b"] = frame["model_b"].map(mapping)
    return frame


def create_voters(arena: Arena, frame: pd.DataFrame) -> None:
    """A voter row per voter of these votes, with the voter's (first) ip hash."""
    first_ip = frame.groupby("voter", sort=False)["ip_hash"].first()
    arena.voters.create_many(
        [{"id": voter, "created_at": datetime.now(UTC), "ip_hash": ip} for voter, ip in first_ip.items()]
    )


def write_votes(arena: Arena, frame: pd.DataFrame, *, new_voters: bool = True) -> None:
    """Write these votes (model_a, model_b, winner, voter, tstamp, ip_hash) through the vote path."""
    if new_voters:
        create_voters(arena, frame)
    battles: list[dict[str, object]] = []
    ballots: list[Ballot] = []
    for row in frame.itertuples():
        at = datetime.fromtimestamp(float(row.tstamp), UTC)
        battle_id = str(uuid.uuid4())
        battles.append(
            {
                "id": battle_id,
                "modality": Modality.TEXT.value,
                "mode": BattleMode.ANONYMOUS.value,
                "prompt": "p",
                "conversation": ["p"],
                "category": None,
                "model_a": row.model_a,
                "model_b": row.model_b,
                "pair_probability": None,
                "status": BattleStatus.READY.value,
                "voter_id": row.voter,
                "created_at": at,
                "ready_at": at,
                "updated_at": at,
            }
        )
        ballots.append(
            Ballot(battle_id, str(row.voter), Winner(row.winner), Dimension.OVERALL, cast_at=at, dwell_ms=5000)
        )
    arena.battles.write_ready(battles)
    record_votes(arena.store, ballots, VoteSource.BULK)


def attackers(sim: Simulation) -> set[str]:
    return {voter for voter, label in sim.labels.items() if label != "honest"}


def ratings_of(frame: pd.DataFrame, arena: Arena) -> dict[str, float]:
    """The board a fit on exactly these votes gives, with the arena's own options."""
    counts = frame.groupby(["model_a", "model_b", "winner"]).size().rename("count").reset_index()
    result = rank(
        counts, RankOptions(ci=arena.settings.leaderboard_ci, provisional_votes=arena.settings.provisional_votes)
    )
    return {row["model"]: row["rating"] for row in result.records()}
