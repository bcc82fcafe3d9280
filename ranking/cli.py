"""``arena rank FILE ...`` and ``python -m ranking FILE ...``.

The arena's CLI calls :func:`add_rank_parser` on its subparsers; researchers without
the arena use ``python -m ranking``. Bad input prints ``error: <message>`` on stderr
and exits 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .api import CI_METHODS, MIN_VOTES, PROVISIONAL_VOTES, parse_anchor, rank
from .bt import PRIOR
from .elo import online_elo
from .errors import RankingError
from .render import FORMATS, render
from .result import Leaderboard

DESCRIPTION = "Rank models from pairwise votes (Bradley-Terry with confidence intervals)."


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("file", help="votes: Parquet, CSV, JSONL or FastChat clean_battle JSON")
    p.add_argument("--ci", choices=CI_METHODS, default="sandwich",
                   help="interval method (default: sandwich; cluster resamples voters)")
    p.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (default 1000)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--by", metavar="COL", help="one leaderboard per value of this column")
    p.add_argument("--anchor", metavar="MODEL=RATING", type=_anchor,
                   help="shift ratings so MODEL has RATING (default: mean 1000)")
    p.add_argument("--ties", choices=("half", "drop", "davidson"), default="half",
                   help="a tie is half a win each (default), dropped, or Davidson's model")
    p.add_argument("--both-bad", choices=("tie", "drop"), default="tie",
                   help="count both_bad votes as ties (default) or drop them")
    p.add_argument("--position", action="store_true", help="fit a first-position advantage")
    p.add_argument("--reweight", action="store_true",
                   help="inverse pair-frequency weights, as arena-rank")
    p.add_argument("--min-votes", type=int, default=MIN_VOTES,
                   help=f"smallest group to rank with --by (default {MIN_VOTES})")
    p.add_argument("--provisional-votes", type=int, default=PROVISIONAL_VOTES,
                   help=f"flag models with fewer votes (default {PROVISIONAL_VOTES})")
    p.add_argument("--prior", type=float, default=PRIOR,
                   help=f"virtual ties per model against the mean (default {PRIOR})")
    p.add_argument("--voter", metavar="COL", help="voter column for --ci cluster "
                   "(default: judge, judge_hash or voter)")
    p.add_argument("--weight", metavar="COL", help="per-vote weight column")
    p.add_argument("--components", choices=("error", "separate"), default="error",
                   help="disconnected comparison graph: fail (default) or rank each part")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="bootstrap device: auto, cpu or cuda")
    p.add_argument("--elo", type=float, metavar="K",
                   help="also show online Elo with this K-factor (votes in time order)")
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def _anchor(text: str) -> tuple[str, float]:
    try:
        return parse_anchor(text)
    except RankingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_rank_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``rank`` on an argparse subparsers object; sets ``func=run_rank``."""
    p = subparsers.add_parser("rank", help=DESCRIPTION, description=DESCRIPTION)
    configure(p)
    p.set_defaults(func=run_rank)
    return p


def run_rank(args: argparse.Namespace) -> int:
    progress = not args.no_progress and sys.stderr.isatty()
    try:
        if args.elo is not None and args.by:
            raise RankingError("--elo cannot be combined with --by")
        result = rank(args.file, ci=args.ci, rounds=args.rounds, level=args.level,
                      ties=args.ties, both_bad=args.both_bad, anchor=args.anchor, by=args.by,
                      min_votes=args.min_votes, provisional_votes=args.provisional_votes,
                      seed=args.seed, reweight=args.reweight, position=args.position,
                      components=args.components, progress=progress, prior=args.prior,
                      voter=args.voter, weight=args.weight, device=args.device)
        if args.elo is not None:
            elo = online_elo(args.file, k=args.elo, both_bad=args.both_bad)
            boards = result.values() if isinstance(result, dict) else [result]
            for lb in boards:
                for row in lb.rows:
                    row["elo"] = float(elo.get(row["model"], float("nan")))
        text, notes = render(result, args.format)
    except RankingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        return 2
    for note in notes:
        print(note, file=sys.stderr)
    if text:
        print(text)
    if not isinstance(result, dict) and isinstance(result, Leaderboard) and not result.diagnostics["converged"]:
        print("warning: the fit did not reach the gradient tolerance", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = configure(argparse.ArgumentParser(prog="python -m ranking", description=DESCRIPTION))
    return run_rank(parser.parse_args(argv))
