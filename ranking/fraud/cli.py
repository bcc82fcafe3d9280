"""``arena audit FILE [--format json|table] [--alpha A]`` and ``python -m ranking.fraud``.

The arena's CLI calls :func:`add_audit_parser` on its subparsers; for its own database
it reads the votes into a DataFrame (model_a, model_b, winner, voter, tstamp, ip_hash)
and calls :func:`audit_command` with it and the parsed arguments. Bad input prints one
``error: <message>`` line on stderr and exits 2, without a traceback.

Building the parser imports no numpy, pandas or scipy; they load when votes are audited.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from ..errors import RankingError
from ..skipped import describe_skipped
from .options import ALPHA, AUDIT_FORMATS, AuditOptions
from .report import AuditReport

if TYPE_CHECKING:
    from ..io import VoteSource

DESCRIPTION = (
    "Flag anomalous or rigging voters: anytime-valid tests of each voter and each group of "
    "voter ids against the consensus board."
)


def configure(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument(
        "file",
        nargs="?",
        help="votes: Parquet, CSV, JSONL or FastChat clean_battle JSON "
        "(model_a shown left, model_b right, winner, judge/voter, optional tstamp and ip_hash)",
    )
    p.add_argument(
        "--format",
        choices=AUDIT_FORMATS,
        default="table",
        help="table (default) or json: a list of {voter, score, reasons, ...}",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=ALPHA,
        help=f"level: share of honest voters ever flagged under continuous monitoring (default {ALPHA})",
    )
    p.add_argument("--voter", metavar="COL", help="voter column (default: judge, judge_hash or voter)")
    p.add_argument(
        "--group",
        metavar="COL",
        help="column grouping voter ids for coordination tests (default: ip_hash when present)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="refuse a file with rows that cannot be audited (missing fields, unknown winner labels, "
        "a model against itself) instead of skipping them",
    )
    p.add_argument(
        "--all-battles",
        action="store_true",
        help="audit every battle; by default, where the file has an anony column, only anonymous battles",
    )
    return p


def add_audit_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """Register ``audit`` on an argparse subparsers object; sets ``func=run_audit``.

    The positional FILE is optional so that a caller can add its own source (the arena's
    ``--db``) and call :func:`audit_command` with a DataFrame.
    """
    p = subparsers.add_parser("audit", help=DESCRIPTION, description=DESCRIPTION)
    configure(p)
    p.set_defaults(func=run_audit)
    return p


def options_from_args(args: argparse.Namespace) -> AuditOptions:
    """The :class:`AuditOptions` the parsed command line asks for (RankingError if bad)."""
    return AuditOptions(
        alpha=args.alpha,
        voter=getattr(args, "voter", None),
        group=getattr(args, "group", None),
        strict=bool(getattr(args, "strict", False)),
        all_battles=bool(getattr(args, "all_battles", False)),
    )


def run_audit(args: argparse.Namespace) -> int:
    """``func`` of the ``audit`` subcommand: audits ``args.file``."""
    if not args.file:
        print("error: no vote file given", file=sys.stderr)
        return 2
    return audit_command(args.file, args)


def audit_command(source: VoteSource, args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Audit ``source`` (a path, or the arena's DataFrame) with the options in ``args``
    (``alpha``, ``format``, optional ``voter`` / ``group``), print the result on ``out``
    (default stdout) and notes on stderr; return the exit status (0, or 2 with one
    ``error:`` line on stderr for bad input)."""
    stream = sys.stdout if out is None else out
    try:
        options = options_from_args(args)
        from .audit import audit  # the numerical stack, only now

        report = audit(source, options)
    except RankingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("error: out of memory", file=sys.stderr)
        return 2
    line = describe_skipped(report.skipped)
    if line:
        hint = " (--all-battles counts them)" if report.skipped.get("not_anonymous") else ""
        print(f"{line}{hint}", file=sys.stderr)
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    print(render(report, args.format), file=stream)
    return 0


def render(report: AuditReport, fmt: str) -> str:
    """The report as JSON (a list of flagged voters) or as a readable table."""
    if fmt == "json":
        return json.dumps(report.records(), indent=1, allow_nan=False)
    lines: list[str] = []
    if report.flags:
        width = max(5, *(len(f.voter) for f in report.flags))
        lines.append(f"{'voter':<{width}}  {'score':>7}  {'votes':>6}  {'at vote':>7}  reasons")
        pad = " " * (width + 28)
        for f in report.flags:
            at = "-" if f.flagged_at is None else str(f.flagged_at)
            first, *rest = f.reasons or [""]
            lines.append(f"{f.voter:<{width}}  {_score(f.score):>7}  {f.votes:>6}  {at:>7}  {first}")
            lines.extend(pad + r for r in rest)
    flagged_groups = [g for g in report.groups if g.flagged]
    if report.groups:
        lines.append("")
        lines.append("groups:")
        for g in report.groups:
            state = "flagged" if g.flagged else "listed"
            lines.append(
                f"  {g.label} ({len(g.voters)} ids, {g.votes} votes, score {_score(g.score)}, "
                f"{state}): {g.reasons[0] if g.reasons else ''}"
            )
    lines.append("")
    lines.append(
        f"{len(report.flags):,} of {report.n_voters:,} voters flagged at alpha={report.alpha:g} "
        f"(score >= {report.threshold:.2f}, log10 e-value); {report.excluded_votes:,} of "
        f"{report.n_votes:,} votes are theirs; {len(flagged_groups)} coordinated groups flagged"
    )
    return "\n".join(lines)


def _score(x: float) -> str:
    return f"{x:.2f}" if x < 1000 else f"{x:.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = configure(argparse.ArgumentParser(prog="python -m ranking.fraud", description=DESCRIPTION))
    return run_audit(parser.parse_args(argv))
