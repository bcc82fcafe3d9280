"""``arena rank FILE ...`` and ``python -m ranking FILE ...``.

The arena's CLI calls :func:`add_rank_parser` on its subparsers; researchers without
the arena use ``python -m ranking``. Bad input prints ``error: <message>`` on stderr
and exits 2, without a traceback.

Building the parser imports only :mod:`ranking.options` (no numpy, pandas or scipy),
so ``--help`` and the arena's command line start fast; the numerical stack is loaded
when a file is ranked.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from .errors import RankingError
from .options import BOTH_BAD, CI_METHODS, FORMATS, MIN_VOTES, PRIOR, PROVISIONAL_VOTES, TIES, RankOptions, parse_anchor
from .skipped import describe_skipped

if TYPE_CHECKING:
    from .result import TooSmall

DESCRIPTION = "Rank models from pairwise votes (Bradley-Terry with confidence intervals)."
COMPONENTS = ("error", "separate")


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("file", help="votes: Parquet, CSV, JSONL or FastChat clean_battle JSON")
    p.add_argument(
        "--ci",
        choices=CI_METHODS,
        default="sandwich",
        help="interval method (default: sandwich; cluster resamples voters)",
    )
    p.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds (default 1000)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--by", metavar="COL", help="one leaderboard per value of this column")
    p.add_argument(
        "--anchor", metavar="MODEL=RATING", type=_anchor, help="shift ratings so MODEL has RATING (default: mean 1000)"
    )
    p.add_argument(
        "--ties", choices=TIES, default="half", help="a tie is half a win each (default), dropped, or Davidson's model"
    )
    p.add_argument(
        "--both-bad", choices=BOTH_BAD, default="tie", help="count both_bad votes as ties (default) or drop them"
    )
    p.add_argument("--position", action="store_true", help="fit a first-position advantage")
    p.add_argument("--reweight", action="store_true", help="inverse pair-frequency weights, as arena-rank")
    p.add_argument(
        "--min-votes", type=int, default=MIN_VOTES, help=f"smallest group to rank with --by (default {MIN_VOTES})"
    )
    p.add_argument(
        "--provisional-votes",
        type=int,
        default=PROVISIONAL_VOTES,
        help=f"flag models with fewer votes (default {PROVISIONAL_VOTES})",
    )
    p.add_argument(
        "--prior", type=float, default=PRIOR, help=f"virtual ties per model against the mean (default {PRIOR})"
    )
    p.add_argument("--voter", metavar="COL", help="voter column for --ci cluster (default: judge, judge_hash or voter)")
    p.add_argument("--weight", metavar="COL", help="per-vote weight column")
    p.add_argument(
        "--components",
        choices=COMPONENTS,
        default="error",
        help="disconnected comparison graph: fail (default) or rank each part",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="bootstrap device: auto, cpu or cuda")
    p.add_argument(
        "--elo", type=float, metavar="K", help="also show online Elo with this K-factor (votes in time order)"
    )
    p.add_argument(
        "--style-control",
        action="store_true",
        help="ratings with answer style held equal (length, headers, lists, bold), from style_* columns "
        "or conversation_a/conversation_b; the style coefficients are shown",
    )
    p.add_argument(
        "--style-reg",
        type=float,
        default=0.0,
        help="ridge penalty on the style coefficients (default 0; arena-rank uses 1)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse a file with rows that cannot be ranked (missing fields, unknown winner labels, "
        "a model against itself) instead of skipping them",
    )
    p.add_argument(
        "--all-battles",
        action="store_true",
        help="count every battle; by default, where the file has an anony column, only anonymous battles count",
    )
    p.add_argument("--format", choices=FORMATS, default="table")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    return p


def _anchor(text: str) -> tuple[str, float]:
    try:
        return parse_anchor(text)
    except RankingError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_rank_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``rank`` on an argparse subparsers object; sets ``func=run_rank``."""
    p = subparsers.add_parser("rank", help=DESCRIPTION, description=DESCRIPTION)
    configure(p)
    p.set_defaults(func=run_rank)
    return p


def options_from_args(args: argparse.Namespace) -> RankOptions:
    """The :class:`RankOptions` the parsed command line asks for."""
    return RankOptions(
        ci=args.ci,
        rounds=args.rounds,
        level=args.level,
        ties=args.ties,
        both_bad=args.both_bad,
        anchor=args.anchor,
        provisional_votes=args.provisional_votes,
        seed=args.seed,
        reweight=args.reweight,
        position=args.position,
        prior=args.prior,
        device=args.device,
        voter=args.voter,
        weight=args.weight,
        progress=not args.no_progress and sys.stderr.isatty(),
        strict=args.strict,
        all_battles=args.all_battles,
        style="controlled" if args.style_control else "none",
        style_reg=args.style_reg,
    )


BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def single_threaded_blas() -> None:
    """One BLAS thread for this process, unless the user chose a number.

    The matrices here are small (models x models): a multithreaded BLAS gains nothing on
    them, costs ~60 ms starting its threads, and when another process holds a core each
    100 x 100 solve waits ~0.1 s for a descheduled thread (0.6 s of a 1M-vote fit). The
    bootstrap parallelises over rounds itself. Only in a fresh process: once numpy is
    loaded its BLAS has read the environment, and a library caller's setting is its own.
    """
    if "numpy" not in sys.modules and not any(name in os.environ for name in BLAS_THREADS):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"


def run_rank(args: argparse.Namespace) -> int:
    try:
        options = options_from_args(args)
        if args.by and args.elo is not None:
            raise RankingError("--elo cannot be combined with --by")
        if args.by and args.components == "separate":
            raise RankingError("--components separate cannot be combined with --by")
        single_threaded_blas()
        from .api import rank, rank_components, rank_groups  # the numerical stack, only now
        from .render import render
        from .result import Leaderboard

        result: Leaderboard | dict[str, Leaderboard | TooSmall]
        if args.by:
            result = rank_groups(args.file, args.by, options, min_votes=args.min_votes)
        elif args.components == "separate":
            parts = rank_components(args.file, options)
            result = next(iter(parts.values())) if len(parts) == 1 else dict(parts)
        else:
            result = rank(args.file, options)
        elo = None
        if args.elo is not None:
            from .elo import online_elo

            ratings = online_elo(
                args.file, k=args.elo, both_bad=args.both_bad, strict=args.strict, all_battles=args.all_battles
            )
            elo = {str(k): float(v) for k, v in ratings.items()}
        text, notes = render(result, args.format, elo=elo)
    except RankingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        return 2
    boards = {"": result} if isinstance(result, Leaderboard) else result
    skipped = next((b.diagnostics.get("skipped") for b in boards.values() if isinstance(b, Leaderboard)), None)
    line = describe_skipped(skipped or {})
    if line:
        hint = " (--all-battles counts them)" if (skipped or {}).get("not_anonymous") else ""
        print(f"{line}{hint}", file=sys.stderr)
    for note in notes:
        print(note, file=sys.stderr)
    if text:
        print(text)
    for label, board in boards.items():
        if isinstance(board, Leaderboard) and not board.diagnostics["converged"]:
            where = f" ({label})" if label else ""
            print(f"warning: the fit{where} did not reach the gradient tolerance", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = configure(argparse.ArgumentParser(prog="python -m ranking", description=DESCRIPTION))
    return run_rank(parser.parse_args(argv))
