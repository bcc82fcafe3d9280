"""Benchmark the voter audit (``ranking.fraud``) on simulated arenas with known attackers.

    python benchmarks/fraud.py                 # 3,000 honest voters, 60 models, alpha 0.01
    python benchmarks/fraud.py --honest 1000 --checkpoints 0   # quicker

One honest arena (voters with a personal taste per model, a small left bias, ~30% ties,
tens of votes each, log-normal model popularity) is built once; each attacker kind is
added to it on its own and audited. Per kind the table gives the share of attackers
flagged (all, and those with 30+ votes), the share flagged by the outcome tests alone
(surprise, position, targeted, omnipresent: without the concentration and group tests),
the share of honest voters flagged, and the attacked model's rank (1 = best) on the
honest votes only, under attack without defence, and under attack with the flagged
voters' votes removed; for kinds without a target, the mean |rank change| over all
models instead. ``cut`` is the share of the attack's rank shift the defence removes.

Then, for the anytime-valid claim, the honest arena alone is audited after every
1/``checkpoints`` of its votes (continuous monitoring, the board refitted each time):
the share of honest voters ever flagged at any checkpoint, against alpha.

The last row, not one of the issue's kinds, is a promoter that never abandons a battle
(votes honestly when its target is absent): it leaves no concentration to see and its
evidence grows only with its battles against the target.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ranking import RankOptions, rank  # noqa: E402
from ranking.fraud import ATTACK_KINDS, ArenaOptions, Attack, AuditOptions, audit, simulate_arena  # noqa: E402

OUTCOME_TESTS = ("surprise", "position", "targeted", "omnipresent")


def ranks(df: pd.DataFrame) -> dict[str, int]:
    board = rank(df, RankOptions(rounds=1))
    return {row.model: row.rank for row in board.rows}


def scenarios(voters: int, sybils: int) -> list[tuple[str, Attack]]:
    out = [(kind, Attack(kind, voters=voters, votes=(30, 100))) for kind in ATTACK_KINDS if kind != "sybil"]
    out.append(("sybil", Attack("sybil", voters=sybils, votes=(2, 5), ips=3)))
    # not one of the kinds: a promoter that never abandons a battle (honest
    # without its target) needs ~30x the votes and leaves no concentration to see
    out.append(("promote, every battle", Attack("promote", voters=voters, votes=(300, 400), abandon=False)))
    return out


BANDS = ((30, 44), (45, 59), (60, 79), (80, 100))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--honest", type=int, default=3000)
    p.add_argument("--models", type=int, default=60)
    p.add_argument("--attackers", type=int, default=20, help="attacker voters per kind (not sybil)")
    p.add_argument("--sybils", type=int, default=150, help="sybil voter ids")
    p.add_argument("--alpha", type=float, default=0.01)
    p.add_argument("--checkpoints", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    opts = AuditOptions(alpha=args.alpha)
    base = ArenaOptions(models=args.models, honest=args.honest, seed=args.seed)
    honest = simulate_arena(base)
    clean = ranks(honest.frame)
    print(
        f"honest arena: {args.honest:,} voters, {len(honest.frame):,} votes, {args.models} models, "
        f"alpha={args.alpha:g}; {args.attackers} attackers per kind (30-100 votes each), "
        f"{args.sybils} sybil ids (2-5 votes each, 3 ip hashes)\n"
    )
    head = (
        "kind",
        "attackers",
        "atk votes",
        "flagged",
        "flagged 30+",
        "outcome tests",
        "honest flagged",
        "rank before",
        "attacked",
        "defended",
        "cut",
        "audit s",
    )
    rows = []
    bands: dict[str, str] = {}
    for kind, attack in scenarios(args.attackers, args.sybils):
        sim = simulate_arena(ArenaOptions(models=args.models, honest=args.honest, seed=args.seed, attacks=(attack,)))
        t0 = time.perf_counter()
        report = audit(sim.frame, opts)
        seconds = time.perf_counter() - t0
        flagged = report.flagged
        by_voter = {f.voter: f for f in report.flags}
        votes = sim.frame["voter"].value_counts()
        attackers = [v for v, lab in sim.labels.items() if lab != "honest"]
        honest_ids = [v for v, lab in sim.labels.items() if lab == "honest"]
        big = [v for v in attackers if votes.get(v, 0) >= 30]
        outcome = [
            v
            for v in attackers
            if v in by_voter and max(by_voter[v].tests.get(t, -99.0) for t in OUTCOME_TESTS) >= report.threshold
        ]
        attacked = ranks(sim.frame)
        defended = ranks(sim.frame[~sim.frame["voter"].isin(flagged)])
        target = sim.targets[0]
        if target is not None:
            before, under, after = clean[target], attacked[target], defended[target]
            shift, left = abs(under - before), abs(after - before)
            cells = (f"{before}", f"{under}", f"{after}")
        else:
            shift = float(np.mean([abs(attacked[m] - clean[m]) for m in clean]))
            left = float(np.mean([abs(defended[m] - clean[m]) for m in clean]))
            cells = ("-", f"mean |d| {shift:.2f}", f"mean |d| {left:.2f}")
        cut = "-" if shift == 0 else f"{1 - left / shift:.0%}"
        if kind != "sybil" and sum(v in flagged for v in attackers) < len(attackers):
            parts = []
            for lo, hi in BANDS:
                ids = [v for v in attackers if lo <= votes.get(v, 0) <= hi]
                if ids:
                    parts.append(f"{lo}-{hi} votes: {sum(v in flagged for v in ids)}/{len(ids)}")
            bands[kind] = ", ".join(parts) or "all above 100 votes"
        rows.append(
            (
                kind,
                f"{len(attackers)}",
                f"{int(votes[attackers].sum()):,}",
                f"{sum(v in flagged for v in attackers) / len(attackers):.0%}",
                f"{sum(v in flagged for v in big) / len(big):.0%}" if big else "-",
                f"{len(outcome) / len(attackers):.0%}",
                f"{sum(v in flagged for v in honest_ids) / len(honest_ids):.2%}",
                *cells,
                cut,
                f"{seconds:.1f}",
            )
        )
    widths = [max(len(str(r[k])) for r in [head, *rows]) for k in range(len(head))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")

    for kind, text in bands.items():
        print(f"\n{kind}: flagged by votes cast: {text}")
    if args.checkpoints:
        frame = honest.frame
        ever: set[str] = set()
        t0 = time.perf_counter()
        for k in range(1, args.checkpoints + 1):
            part = frame.iloc[: len(frame) * k // args.checkpoints]
            ever |= audit(part, opts).flagged
        n = frame["voter"].nunique()
        print(
            f"\ncontinuous monitoring, honest voters only: audited after every 1/{args.checkpoints} of the "
            f"{len(frame):,} votes; {len(ever)} of {n:,} honest voters ever flagged = {len(ever) / n:.3%} "
            f"(alpha {args.alpha:g}); {time.perf_counter() - t0:.0f} s"
        )


if __name__ == "__main__":
    main()
