"""Active vs uniform pair sampling, in simulation (no server, no database).

    python benchmarks/sampling.py                       # 50 models, 12 seeds: the figures below
    python benchmarks/sampling.py --seeds 3 --models 30 --max-votes 200000

Each seed draws 50 true strengths (normal, s.d. 100 Elo). Votes follow Bradley-Terry
with half ties (15% ties). The board is refitted every --batch votes, as the arena's
board job does, with the arena's fit (ranking.rank, sandwich intervals at 95%); the
active sampler (arena.services.sampling, its defaults: 10% uniform floor) reads only that
board: ratings, intervals and battle counts. Votes record the drawn pair's probability.

Reported per sampler, median over seeds, votes needed until:
- the mean 95% interval width reaches --width (Elo);
- --resolved of the 49 neighbour pairs (in true order) are resolved at 95%: the fitted
  difference has the right sign and exceeds 1.96 standard errors of the difference
  (from the sandwich's normal draws). Resolving every neighbour pair is out of reach
  for any sampler: with 50 normal strengths the closest neighbours are a few tenths
  of an Elo point apart;
and, at the end of the active runs, the inverse-propensity fit (each vote weighs
1/probability of its pair) against the truth: the share of models whose interval holds
the true rating (goal: about 95%), and its mean interval width; as the arena's board
fits it (each cell a Kish row, arena.services.leaderboards.kish_rows: count (Σw)²/Σw²,
weight Σw²/Σw, from the counts table's weight and weight2) and, for comparison, with
each cell's mean weight only (the board before the counts table kept Σw²).

Measured (the same seeds for both samplers; medians; counts of votes, not time):

    seeds                           0-5 (--seeds 6)          0-11 (--seeds 12)
    20 neighbours resolved          uniform 289,000          uniform 289,000
                                    active  208,000 (-28.0%) active  185,000 (-36.0%)
    20 expected resolved            uniform 360,000          uniform 356,000
                                    active  280,000 (-22.2%) active  288,000 (-19.1%)
    mean width <= 20 Elo            uniform 107,000          uniform 107,000
                                    active  144,000 (+34.6%) active  143,000 (+33.6%)
    inverse-propensity fit, Kish    covers 92.3%, 38.9 Elo   covers 93.7%, 38.1 Elo
    ... each cell's mean weight     covers 84.7%, 31.8 Elo   covers 86.3%, 31.2 Elo

(coverage: share of the active runs' intervals holding the true rating; width: mean
interval width; the unweighted fit of the same votes is about 15 Elo wide). Seeds 6-11
alone: 39.5% fewer votes to 20 resolved. Per seed the active sampler needs 0.35 to 0.93
times uniform's votes to 20 resolved, so a 6-seed median moves by ten points with the
seeds: use 12. The active sampler spends little on pairs whose order is settled, so their
intervals stay wider. A horizon of 1 and a floor of 5% gave 40.1% on seeds 0-5 but 28.6%
on seeds 6-11 (29.8% over 12; 14.6% by the expected count), so they were not kept.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.services.leaderboards import kish_rows  # noqa: E402
from arena.services.sampling import FLOOR, active_pairs, active_scores, uniform_pairs  # noqa: E402
from ranking import rank  # noqa: E402

SCALE = 400 / math.log(10)
TIE_RATE = 0.15
ROUNDS = 4000  # sandwich-normal draws: the neighbour differences' standard errors
Z = 1.959963984540054
WINNERS = np.array(["model_a", "model_b", "tie"])


@dataclass
class Run:
    sampler: str
    seed: int
    to_width: int | None = None
    to_resolved: int | None = None
    to_expected: int | None = None
    curve: list[tuple[int, float, int, float]] = field(default_factory=list)  # votes, width, resolved, expected
    ipw_coverage: float = math.nan
    ipw_width: float = math.nan
    mean_coverage: float = math.nan
    mean_width: float = math.nan
    plain_coverage: float = math.nan
    plain_width: float = math.nan
    seconds: float = 0.0


def board(counts: pd.DataFrame, weighting: str = "plain") -> Any:
    """The arena's fit of the cells: unweighted ("plain"), inverse-propensity as the arena's
    board does it ("ipw": the cells as Kish rows, arena.services.leaderboards.kish_rows), or
    with each cell's mean weight only ("mean": the arena's board before the counts table
    kept Σw², whose sandwich misses the spread of the weights)."""
    frame = counts[counts["count"] > 0].reset_index()
    if weighting == "ipw":
        frame = kish_rows(frame)
    elif weighting == "mean":
        frame["weight"] = frame["inverse"] / frame["count"] / (frame["inverse"].sum() / frame["count"].sum())
    weight = None if weighting == "plain" else "weight"
    return rank(frame, ci="sandwich", rounds=ROUNDS, weight=weight, provisional_votes=0)


def matrix(result: Any) -> dict[str, dict[str, float]]:
    frame = result.battle_counts
    return {str(r): {str(c): float(v) for c, v in row.items() if pd.notna(v)} for r, row in frame.iterrows()}


def measure(result: Any, names: list[str], true: dict[str, float]) -> tuple[float, int, float, float]:
    """Mean interval width; neighbour pairs (true order) resolved now, and expected to be
    (Σ Φ(true gap / standard error − 1.96): the precision where it matters, without the
    luck of one draw); coverage of the truth."""
    rows = {r["model"]: r for r in result.records()}
    width = statistics.fmean(r["ci_high"] - r["ci_low"] for r in rows.values())
    order = sorted(names, key=lambda n: -true[n])
    col = {r["model"]: k for k, r in enumerate(result.records())}
    reps = result.replicas
    resolved, expected = 0, 0.0
    for hi, lo in zip(order, order[1:], strict=False):
        if hi in col and lo in col:
            se = float(np.std(reps[:, col[hi]] - reps[:, col[lo]]))
            resolved += int(rows[hi]["rating"] - rows[lo]["rating"] > Z * se)
            expected += NormalDist().cdf((true[hi] - true[lo]) / se - Z)
    shift = statistics.fmean(rows[n]["rating"] for n in rows) - statistics.fmean(true[n] for n in rows)
    cover = statistics.fmean(
        1.0 if rows[n]["ci_low"] - shift <= true[n] <= rows[n]["ci_high"] - shift else 0.0 for n in rows
    )
    return width, resolved, expected, cover


def simulate(args: argparse.Namespace, sampler: str, seed: int) -> Run:
    started = time.perf_counter()
    gen = np.random.default_rng(seed)
    m = args.models
    names = [f"model-{k:02d}" for k in range(m)]
    theta = gen.normal(0.0, args.sd / SCALE, m)
    true = {n: 1000 + SCALE * (t - theta.mean()) for n, t in zip(names, theta, strict=True)}
    index = pd.MultiIndex.from_tuples(
        [(a, b, w) for a, b in uniform_pairs(dict.fromkeys(names, 1.0)) for w in WINNERS],
        names=["model_a", "model_b", "winner"],
    )
    counts = pd.DataFrame({"count": 0.0, "inverse": 0.0, "inverse2": 0.0}, index=index)
    pos = {n: k for k, n in enumerate(names)}
    run = Run(sampler, seed)
    result = None
    votes = 0
    while votes < args.max_votes:
        weights = dict.fromkeys(names, 1.0)
        if sampler == "active" and result is not None:
            dist = active_pairs(weights, active_scores(result.records(), matrix(result)), args.floor)
        else:
            dist = uniform_pairs(weights)
        pairs = list(dist)
        prob = np.array([dist[p] for p in pairs])
        pick = gen.choice(len(pairs), size=args.batch, p=prob / prob.sum())
        ia = np.array([pos[pairs[k][0]] for k in pick])
        ib = np.array([pos[pairs[k][1]] for k in pick])
        p = 1 / (1 + np.exp(-(theta[ia] - theta[ib])))
        t = TIE_RATE * 4 * p * (1 - p) / 0.9  # about 15% ties over the board
        u = gen.random(args.batch)
        outcome = np.where(u < p - t / 2, 0, np.where(u < p + t / 2, 2, 1))
        batch = pd.DataFrame(
            {
                "model_a": [pairs[k][0] for k in pick],
                "model_b": [pairs[k][1] for k in pick],
                "winner": WINNERS[outcome],
                "count": 1.0,
                "inverse": 1.0 / prob[pick],
                "inverse2": 1.0 / prob[pick] ** 2,
            }
        )
        add = batch.groupby(["model_a", "model_b", "winner"]).sum()
        counts.loc[add.index, ["count", "inverse", "inverse2"]] += add[["count", "inverse", "inverse2"]].to_numpy()
        votes += args.batch
        result = board(counts, args.board)
        width, resolved, expected, _ = measure(result, names, true)
        run.curve.append((votes, width, resolved, expected))
        if run.to_width is None and width <= args.width:
            run.to_width = votes
        if run.to_resolved is None and resolved >= args.resolved:
            run.to_resolved = votes
        if run.to_expected is None and expected >= args.resolved:
            run.to_expected = votes
        if None not in (run.to_width, run.to_resolved, run.to_expected):
            break
    run.plain_width, _, _, run.plain_coverage = measure(board(counts), names, true)
    run.ipw_width, _, _, run.ipw_coverage = measure(board(counts, "ipw"), names, true)
    run.mean_width, _, _, run.mean_coverage = measure(board(counts, "mean"), names, true)
    run.seconds = time.perf_counter() - started
    return run


def median(values: list[int | None]) -> float:
    known = [v for v in values if v is not None]
    return statistics.median(known) if len(known) == len(values) else math.nan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--sd", type=float, default=100.0, help="s.d. of true strengths in Elo")
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--batch", type=int, default=2000, help="votes between board refits")
    parser.add_argument("--max-votes", type=int, default=600_000)
    parser.add_argument("--width", type=float, default=20.0, help="target mean 95%% interval width (Elo)")
    parser.add_argument("--resolved", type=int, default=20, help="target neighbour pairs resolved (of models-1)")
    parser.add_argument("--floor", type=float, default=FLOOR)
    parser.add_argument("--board", choices=("plain", "ipw", "mean"), default="plain", help="the fit the sampler reads")
    args = parser.parse_args(argv)
    runs: dict[str, list[Run]] = {"uniform": [], "active": []}
    for seed in range(args.seeds):
        for sampler in runs:
            run = simulate(args, sampler, seed)
            runs[sampler].append(run)
            print(
                f"seed {seed} {sampler:7s}: width<={args.width:g} at {run.to_width}, "
                f"{args.resolved} resolved at {run.to_resolved} (expected at {run.to_expected}); at the end plain fit covers "
                f"{run.plain_coverage:.0%} (width {run.plain_width:.1f}), inverse-propensity fit covers "
                f"{run.ipw_coverage:.0%} (width {run.ipw_width:.1f}; with mean weights {run.mean_coverage:.0%}, "
                f"width {run.mean_width:.1f}); {run.seconds:.0f} s",
                flush=True,
            )
    print(f"\n{args.models} models, s.d. {args.sd:g} Elo, board refit every {args.batch} votes, {args.seeds} seeds")
    for goal, key in (
        (f"mean width <= {args.width:g} Elo", "to_width"),
        (f"{args.resolved} neighbours resolved", "to_resolved"),
        (f"{args.resolved} expected resolved", "to_expected"),
    ):
        u = median([getattr(r, key) for r in runs["uniform"]])
        a = median([getattr(r, key) for r in runs["active"]])
        print(f"{goal:32s} uniform {u:>9,.0f}  active {a:>9,.0f}  reduction {1 - a / u:6.1%}")
    for name, label in (("ipw", "Kish rows, as the arena's board"), ("mean", "each cell's mean weight only")):
        cover = statistics.fmean(getattr(r, f"{name}_coverage") for r in runs["active"])
        width = statistics.fmean(getattr(r, f"{name}_width") for r in runs["active"])
        print(
            f"active, inverse-propensity fit ({label}): coverage of the true ratings {cover:.1%}, width {width:.1f} Elo"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
