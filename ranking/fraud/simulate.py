"""Simulated arenas with honest voters and attackers of known kinds (tests, benchmark).

Honest voters: each has a personal taste offset per model (normal, s.d. ``taste``), a
personal left-position bias around a small population one, a personal tie propensity
(ties about ``ties`` of all votes, a share ``both_bad`` of them labelled both_bad), and
tens of votes (log-normal counts) in one session at a random time. Pairs are drawn from
log-normal model popularity; the left/right order is random. Outcomes follow
Bradley-Terry with half ties exactly (see :mod:`ranking.simulate`).

Attackers, after the rigging papers (Min et al. 2025; Huang et al. 2025): they start
battles until one they care about appears and abandon the rest (a dump never sees an
abandoned battle), recognise a model's answer with probability ``recognition`` and
vote honestly (true strengths, no taste) when they do not recognise it.

- ``random``: any of the four buttons at random, in every battle.
- ``always_left``: model_a, in every battle.
- ``promote``: battles with the target; votes for it.
- ``demote``: battles with the victim; votes against it.
- ``omnipresent``: battles with the target or one of the ``neighbours`` models ranked
  just above it; votes for the target, against those neighbours.
- ``sleeper``: honest in every battle for its first ``sleeper_honest`` share of votes,
  then ``promote``.
- ``sybil``: ``voters`` ids behind ``ips`` ip hashes, a few votes each, in a burst of
  ``burst`` seconds; ``promote``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from ..errors import RankingError

AttackKind = Literal["random", "always_left", "promote", "omnipresent", "demote", "sleeper", "sybil"]
ATTACK_KINDS: tuple[AttackKind, ...] = get_args(AttackKind)
WINNERS = np.array(["model_a", "model_b", "tie", "both_bad"])
SCALE = 400 / math.log(10)
DAY = 86_400.0
T0 = 1.75e9  # seconds since the epoch of the first simulated vote

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Attack:
    """One attacking group. ``target``: the attacked model's true rank (0 = best); None
    picks one per kind (rank 60% down the board to promote, rank 4 to demote).
    ``abandon=False``: the attacker votes in every battle, honestly in those without a
    model it cares about (it then needs far more votes for the same effect)."""

    kind: AttackKind
    voters: int = 20
    votes: tuple[int, int] = (30, 100)
    target: int | None = None
    recognition: float = 0.85
    neighbours: int = 3
    ips: int = 3
    start: float = 0.5
    burst: float = 3 * 3600.0
    sleeper_honest: float = 0.5
    abandon: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ATTACK_KINDS:
            raise RankingError(f"attack kind must be one of {', '.join(ATTACK_KINDS)}, not {self.kind!r}")
        if not (1 <= self.votes[0] <= self.votes[1]):
            raise RankingError(f"votes must be a (low, high) range of positive counts, not {self.votes!r}")


@dataclass(frozen=True)
class ArenaOptions:
    """The honest part of a simulated arena, plus the attacks."""

    models: int = 60
    honest: int = 3000
    median_votes: float = 25.0
    spread: float = 0.8
    taste: float = 0.3
    position: float = 0.1
    ties: float = 0.3
    both_bad: float = 0.3
    popularity: float = 0.5
    days: float = 30.0
    seed: int = 0
    attacks: tuple[Attack, ...] = ()


@dataclass
class Simulation:
    """``frame``: model_a, model_b, winner, voter, tstamp (seconds), ip_hash, in time
    order. ``labels``: voter -> "honest" or the attack kind. ``targets``: attack index
    -> attacked model (None for random and always_left). ``true_rating``: model -> Elo."""

    frame: pd.DataFrame
    labels: dict[str, str]
    targets: dict[int, str | None]
    true_rating: dict[str, float]
    attack_of: dict[str, int] = field(default_factory=dict)

    def honest_frame(self) -> pd.DataFrame:
        keep = self.frame["voter"].map(self.labels).eq("honest")
        return self.frame[keep.to_numpy()].reset_index(drop=True)


class _Arena:
    def __init__(self, o: ArenaOptions, rng: np.random.Generator) -> None:
        self.o = o
        self.m = o.models
        self.theta = rng.normal(0.0, o.spread, o.models)
        self.theta -= self.theta.mean()
        pop = np.exp(o.popularity * rng.standard_normal(o.models))
        self.cdf = np.cumsum(pop / pop.sum())
        self.by_rank = np.argsort(-self.theta, kind="stable")
        self.rank = np.empty(o.models, dtype=np.int64)
        self.rank[self.by_rank] = np.arange(o.models)
        # tie scale c: t = c·4p(1−p)·propensity, about o.ties of votes overall
        d = self.theta[:, None] - self.theta[None, :]
        p = 1 / (1 + np.exp(-d))
        self.c = o.ties / float((4 * p * (1 - p))[~np.eye(o.models, dtype=bool)].mean())

    def pairs(self, n: int, rng: np.random.Generator) -> tuple[Ints, Ints]:
        a = np.minimum(np.searchsorted(self.cdf, rng.random(n)), self.m - 1)
        b = np.minimum(np.searchsorted(self.cdf, rng.random(n)), self.m - 1)
        while (same := a == b).any():
            b[same] = np.minimum(np.searchsorted(self.cdf, rng.random(int(same.sum()))), self.m - 1)
        return a.astype(np.int64), b.astype(np.int64)

    def pairs_touching(self, n: int, models: Ints, rng: np.random.Generator) -> tuple[Ints, Ints]:
        """``n`` battles drawn by the sampler among those that involve one of ``models``
        (the attacker abandoned the others)."""
        out_a, out_b, have = [], [], 0
        while have < n:
            a, b = self.pairs(max(4 * n, 256) * max(1, self.m // (2 * len(models))), rng)
            keep = np.isin(a, models) | np.isin(b, models)
            out_a.append(a[keep])
            out_b.append(b[keep])
            have += int(keep.sum())
        return np.concatenate(out_a)[:n], np.concatenate(out_b)[:n]

    def honest(
        self, a: Ints, b: Ints, offset: Floats | None, h: Floats, tie_prop: Floats, rng: np.random.Generator
    ) -> Ints:
        d = self.theta[a] - self.theta[b] + h
        if offset is not None:
            d = d + offset
        p = 1 / (1 + np.exp(-d))
        t = np.minimum(self.c * tie_prop, 0.5) * 4 * p * (1 - p)
        u = rng.random(len(a))
        w = np.where(u < p - t / 2, 0, np.where(u < p + t / 2, 2, 1))
        bb = (w == 2) & (rng.random(len(a)) < self.o.both_bad)
        out: Ints = np.where(bb, 3, w).astype(np.int64)
        return out


def _session(n: int, start: float, gap: float, rng: np.random.Generator) -> Floats:
    out: Floats = start + np.cumsum(rng.exponential(gap, n))
    return out


def simulate_arena(options: ArenaOptions | None = None) -> Simulation:
    """Honest voters and the attacks of ``options``; every attack gets its own voters."""
    o = ArenaOptions() if options is None else options
    rng = np.random.default_rng(o.seed)
    arena = _Arena(o, rng)
    span = o.days * DAY
    cols: dict[str, list[npt.NDArray[np.generic]]] = {k: [] for k in ("a", "b", "w", "voter", "t", "ip")}
    labels: list[str] = []
    attack_of: dict[int, int] = {}
    ips: list[str] = []

    def add(a: Ints, b: Ints, w: Ints, voter: int, t: Floats, ip: int) -> None:
        cols["a"].append(a)
        cols["b"].append(b)
        cols["w"].append(w)
        cols["voter"].append(np.full(len(a), voter))
        cols["t"].append(t)
        cols["ip"].append(np.full(len(a), ip))

    def new_ip() -> int:
        ips.append(f"{rng.integers(1 << 62):016x}")
        return len(ips) - 1

    # honest voters: households (2-3 ids) and two campus NATs share addresses
    n_votes = np.clip(np.round(o.median_votes * np.exp(0.8 * rng.standard_normal(o.honest))), 5, 400).astype(int)
    taste = rng.normal(0.0, o.taste, (o.honest, o.models))
    bias = o.position + 0.05 * rng.standard_normal(o.honest)
    tie_prop = np.exp(0.3 * rng.standard_normal(o.honest))
    honest_ip = np.array([new_ip() for _ in range(o.honest)])
    shared = rng.random(o.honest) < 0.1
    honest_ip[shared] = honest_ip[rng.integers(0, o.honest, int(shared.sum()))]
    for campus in range(2):
        ids = rng.choice(o.honest, 20, replace=False)
        honest_ip[ids] = honest_ip[ids[0]] if campus == 0 else new_ip()
    for v in range(o.honest):
        n = int(n_votes[v])
        a, b = arena.pairs(n, rng)
        w = arena.honest(a, b, taste[v, a] - taste[v, b], np.full(n, bias[v]), np.full(n, tie_prop[v]), rng)
        t = _session(n, rng.uniform(0, span * 0.97), 90.0, rng)
        add(a, b, w, len(labels), t, int(honest_ip[v]))
        labels.append("honest")

    targets: dict[int, str | None] = {}
    for k, atk in enumerate(o.attacks):
        arng = np.random.default_rng([o.seed, 1 + k])
        target = _target(atk, arena)
        targets[k] = None if target is None else f"model-{target:02d}"
        sybil_ips = [new_ip() for _ in range(atk.ips)] if atk.kind == "sybil" else []
        burst0 = arng.uniform(atk.start * span, span - atk.burst) if atk.kind == "sybil" else 0.0
        for _ in range(atk.voters):
            n = int(arng.integers(atk.votes[0], atk.votes[1] + 1))
            if atk.kind == "sybil":
                t = _session(n, arng.uniform(burst0, burst0 + atk.burst), 40.0, arng)
                ip = sybil_ips[int(arng.integers(len(sybil_ips)))]
            else:
                t = _session(n, arng.uniform(atk.start * span, span * 0.97), 40.0, arng)
                ip = new_ip()
            a, b, w = _attack_votes(atk, arena, target, n, arng)
            attack_of[len(labels)] = k
            add(a, b, w, len(labels), t, ip)
            labels.append(atk.kind)

    a = np.concatenate(cols["a"])
    b = np.concatenate(cols["b"])
    w = np.concatenate(cols["w"])
    voter = np.concatenate(cols["voter"])
    t = np.concatenate(cols["t"])
    ip_of = np.concatenate(cols["ip"])
    names = np.array([f"model-{k:02d}" for k in range(o.models)])
    ids = rng.permutation(len(labels))  # ids say nothing about the label
    voter_names = np.array([f"voter-{k:05d}" for k in ids])
    order = np.argsort(t, kind="stable")
    frame = pd.DataFrame(
        {
            "model_a": names[a[order]],
            "model_b": names[b[order]],
            "winner": WINNERS[w[order]],
            "voter": voter_names[voter[order]],
            "tstamp": T0 + t[order],
            "ip_hash": np.array(ips)[ip_of[order]],
        }
    )
    return Simulation(
        frame=frame,
        labels={str(voter_names[v]): lab for v, lab in enumerate(labels)},
        targets=targets,
        true_rating={str(names[k]): float(1000 + SCALE * arena.theta[k]) for k in range(o.models)},
        attack_of={str(voter_names[v]): k for v, k in attack_of.items()},
    )


def _target(atk: Attack, arena: _Arena) -> int | None:
    if atk.kind in ("random", "always_left"):
        return None
    r = atk.target if atk.target is not None else (4 if atk.kind == "demote" else int(0.6 * arena.m))
    if not 0 <= r < arena.m:
        raise RankingError(f"target rank must be between 0 and {arena.m - 1}, not {r}")
    return int(arena.by_rank[r])


def _attack_votes(
    atk: Attack, arena: _Arena, target: int | None, n: int, rng: np.random.Generator
) -> tuple[Ints, Ints, Ints]:
    o = arena.o

    def honest(a: Ints, b: Ints) -> Ints:
        return arena.honest(a, b, None, np.full(len(a), o.position), np.ones(len(a)), rng)

    if atk.kind == "random":
        a, b = arena.pairs(n, rng)
        return a, b, rng.integers(0, 4, n).astype(np.int64)
    if atk.kind == "always_left":
        a, b = arena.pairs(n, rng)
        return a, b, np.zeros(n, dtype=np.int64)
    assert target is not None
    if atk.kind == "sleeper":
        first = int(round(n * atk.sleeper_honest))
        a1, b1 = arena.pairs(first, rng)
        a2, b2, w2 = _promote(arena, target, n - first, atk, honest, rng, against=False)
        return np.concatenate([a1, a2]), np.concatenate([b1, b2]), np.concatenate([honest(a1, b1), w2])
    if atk.kind in ("promote", "sybil"):
        return _promote(arena, target, n, atk, honest, rng, against=False)
    if atk.kind == "demote":
        return _promote(arena, target, n, atk, honest, rng, against=True)
    # omnipresent
    r = int(arena.rank[target])
    above = arena.by_rank[max(0, r - atk.neighbours) : r]
    watch = np.concatenate([[target], above]).astype(np.int64)
    a, b = arena.pairs_touching(n, watch, rng) if atk.abandon else arena.pairs(n, rng)
    w = honest(a, b)
    seen_a = rng.random(n) < atk.recognition
    seen_b = rng.random(n) < atk.recognition
    up_a, up_b = (a == target) & seen_a, (b == target) & seen_b
    down_a = np.isin(a, above) & seen_a & ~up_b
    down_b = np.isin(b, above) & seen_b & ~up_a
    w = np.where(up_a, 0, np.where(up_b, 1, w))
    both = down_a & down_b
    pick_a = rng.random(n) < 0.5
    w = np.where(both, np.where(pick_a, 1, 0), np.where(down_a, 1, np.where(down_b, 0, w)))
    return a, b, w.astype(np.int64)


def _promote(
    arena: _Arena,
    target: int,
    n: int,
    atk: Attack,
    honest: Callable[[Ints, Ints], Ints],
    rng: np.random.Generator,
    *,
    against: bool,
) -> tuple[Ints, Ints, Ints]:
    a, b = arena.pairs_touching(n, np.array([target]), rng) if atk.abandon else arena.pairs(n, rng)
    w = honest(a, b)
    seen = (rng.random(n) < atk.recognition) & ((a == target) | (b == target))
    left = a == target
    if against:
        w = np.where(seen, np.where(left, 1, 0), w)
    else:
        w = np.where(seen, np.where(left, 0, 1), w)
    return a, b, w.astype(np.int64)
