"""The `arena` command: serve, db upgrade, db check-counts, simulate, rank, audit, export, import, worker.

Every failure a user can cause ends in one readable `error: ...` line and exit
status 2, never a traceback.

Building the parser imports only the parsers (`ranking.cli`, `ranking.fraud.cli`,
`generators.worker.cli`, none of which loads its heavy modules); each command imports
what it needs when it runs, so `arena --help` starts in a fraction of a second and
`arena rank` never loads the web server, SQLAlchemy or the generators.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from generators.worker.cli import add_worker_parser
from ranking.cli import add_rank_parser
from ranking.fraud.cli import add_audit_parser

if TYPE_CHECKING:
    from arena import simulate
    from arena.runtime import Arena
    from arena.settings import Settings
    from arena.vocabulary import Modality


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        line = _error_line(exc)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return 2


def _error_line(exc: Exception) -> str | None:
    """The one `error: ...` line for a failure a user can cause, or None for a bug.

    ConfigError and SQLAlchemyError are recognised through their modules, and only when
    those are loaded (an exception of a class never imported cannot have been raised):
    the command line does not import the generators or SQLAlchemy to catch their errors.
    """
    protocol = sys.modules.get("generators.protocol")
    if isinstance(exc, (ValueError, OSError)) or (protocol is not None and isinstance(exc, protocol.ConfigError)):
        return f"error: {exc}"
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError):
        first = str(exc.orig if hasattr(exc, "orig") else exc).splitlines()[0]
        return f"error: database: {exc.__class__.__name__}: {first}"
    if isinstance(exc, RuntimeError):
        return f"error: {exc}"
    return None


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one `error:` line (and exit status 2), like every other failure."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = _Parser(prog="arena", description="Open Arena: battles, votes and leaderboards")
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", help="start the web page and the REST API")
    _common(serve)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.set_defaults(func=_serve)

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(title="db commands")
    upgrade = db_commands.add_parser("upgrade", help="migrate the database to the latest schema")
    upgrade.add_argument("--data-dir", type=Path, default=None)
    upgrade.set_defaults(func=_db_upgrade)
    check_counts = db_commands.add_parser(
        "check-counts",
        help="compare the vote counts table with a full GROUP BY over the votes (exit 1 on any difference)",
    )
    check_counts.add_argument("--data-dir", type=Path, default=None)
    check_counts.add_argument(
        "--repair", action="store_true", help="rewrite the counts table from the votes, in one transaction"
    )
    check_counts.set_defaults(func=_db_check_counts)

    simulate = commands.add_parser("simulate", help="cast simulated votes through the battle service")
    _common(simulate)
    simulate.add_argument("--votes", type=int, required=True)
    simulate.add_argument("--modality", default="all", help="text, image, 3d or all (default)")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--concurrency", type=int, default=16)
    simulate.add_argument(
        "--bulk", action="store_true", help="write battles and votes directly (no generation), for millions of votes"
    )
    simulate.add_argument(
        "--sampler",
        choices=("uniform", "active"),
        default=None,
        help="how pairs are drawn (default: ARENA_SAMPLER, else uniform); active refits the board as votes arrive",
    )
    simulate.set_defaults(func=_simulate)

    add_rank_parser(commands)
    audit = add_audit_parser(commands)
    audit.add_argument(
        "--db",
        action="store_true",
        help="audit this arena's database (ARENA_DATABASE_URL, or SQLite under --data-dir) "
        "instead of a file: each board slice on its own, voter = our voter id",
    )
    audit.add_argument("--data-dir", type=Path, default=None, help="with --db: default ./arena-data or ARENA_DATA_DIR")
    audit.set_defaults(func=_audit)
    export = commands.add_parser(
        "export",
        help="write a vote dump (Parquet, CSV or JSONL) and its manifest",
        description="Write the votes as a dump in LMArena's column names, with a manifest beside it "
        "(row count, sha256, filters, the `arena rank` command that reproduces the boards). "
        "Default: a new file in the data dir's dumps/ folder, which the server publishes.",
    )
    export.add_argument("--data-dir", type=Path, default=None, help="default ./arena-data or ARENA_DATA_DIR")
    export.add_argument("--format", default=None, help="parquet (default), csv or jsonl")
    export.add_argument("--modality", default=None, help="only this modality: text, image or 3d")
    export.add_argument("--dimension", default=None, help="only this dimension (overall, aesthetics, ...)")
    export.add_argument("--since", default=None, help="only votes cast at or after this UTC date or time (ISO 8601)")
    export.add_argument("--until", default=None, help="only votes cast before this UTC date or time (ISO 8601)")
    export.add_argument("--valid-only", action="store_true", help="only votes that count (default: all, is_valid says)")
    export.add_argument("--older-than", default=None, metavar="DAYS", help="only votes older than DAYS days")
    export.add_argument(
        "--winner-labels", default=None, help="arena (default: both_bad) or lmarena (tie (bothbad), as clean_battle)"
    )
    export.add_argument("--out", type=Path, default=None, help="the dump's path (default: <data dir>/dumps/votes-...)")
    export.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    export.set_defaults(func=_export)
    imports = commands.add_parser(
        "import",
        help="load an LMArena / FastChat battle file (or a dump) as historical votes",
        description="Read a battle file (clean_battle JSON, Parquet, CSV or JSONL with model_a, model_b, "
        "winner; judge, tstamp, anony, language, question_id, conversation_a/b when present) into the "
        "database. New models are retired: on the boards with their history, never in new battles. Rows "
        "`arena rank` would skip are skipped and counted; importing the same file again adds nothing.",
    )
    imports.add_argument("file", type=Path, help="the battle file")
    imports.add_argument("--data-dir", type=Path, default=None, help="default ./arena-data or ARENA_DATA_DIR")
    imports.add_argument("--modality", default=None, help="the battles' modality (default: the file's, else text)")
    imports.add_argument("--strict", action="store_true", help="refuse the file at its first unusable row")
    imports.add_argument("--all-battles", action="store_true", help="also import battles that were not anonymous")
    imports.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    imports.set_defaults(func=_import)
    add_worker_parser(commands)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="default ./arena-data or ARENA_DATA_DIR")
    parser.add_argument("--models", type=Path, default=None, help="models file (default: the demo models)")


def _settings(args: argparse.Namespace) -> Settings:
    from arena.settings import from_environment

    return from_environment(data_dir=getattr(args, "data_dir", None), models_file=getattr(args, "models", None))


def _serve(args: argparse.Namespace) -> int:
    from arena.server import serve

    settings = _settings(args)
    print(f"Open Arena on http://{args.host}:{args.port}  (data: {settings.data_dir.resolve()})", flush=True)
    serve(settings, args.host, args.port)
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from arena.store.engine import current_revision, make_engine, upgrade

    settings = _settings(args)
    engine = make_engine(settings.sqlalchemy_url)
    upgrade(engine)
    print(f"database {engine.url.render_as_string(hide_password=True)} is at revision {current_revision(engine)}")
    engine.dispose()
    return 0


def _db_check_counts(args: argparse.Namespace) -> int:
    """One line per differing slice and exit 1, or exit 0 when the table equals the votes; with
    --repair the table is rewritten (exit 0 once it matches)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from arena.store import counts
    from arena.store.engine import Store, check_schema, make_engine

    settings = _settings(args)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        check_schema(engine)  # never creates or migrates a database: `arena db upgrade` does
        store = Store(engine)
        differences = counts.check(store)
        for difference in differences:
            print(difference.line())
        if not args.repair:
            print(f"{len(differences)} difference{'' if len(differences) == 1 else 's'} between counts and votes")
            return 1 if differences else 0
        counts.repair(store)
        left = counts.check(store)
        print(f"counts table rewritten from the votes; {len(left)} difference{'' if len(left) == 1 else 's'} left")
        return 1 if left else 0
    finally:
        engine.dispose()


def _audit(args: argparse.Namespace) -> int:
    """`arena audit FILE` (ranking.fraud's command) or `arena audit --db` (our votes, read as
    arena/services/integrity.py reads them for its background scans)."""
    from ranking.fraud.cli import run_audit

    if not args.db:
        return run_audit(args)
    if args.file:
        raise ValueError("give a vote file or --db, not both")
    if args.voter or args.group:
        raise ValueError("--voter and --group are for vote files; the database's columns are voter and ip_hash")
    from arena.services.integrity import detect
    from arena.store.engine import Store, check_schema, make_engine
    from arena.store.flags import flag_states
    from arena.store.history import audit_votes

    settings = _settings(args)
    engine = make_engine(settings.sqlalchemy_url)
    try:
        check_schema(engine)  # a reader: it neither creates nor migrates a database
        store = Store(engine)
        votes, states = audit_votes(store), flag_states(store)
    finally:
        engine.dispose()
    if votes.empty:
        raise ValueError("no votes to audit in this database")
    detection = detect(votes, args.alpha)
    for note in detection.notes:
        print(f"note: {note}", file=sys.stderr)
    records = [
        {
            "voter": flag.voter,
            "score": flag.score,
            "reasons": flag.reasons,
            "votes": flag.votes,
            "boards": {board: entry["score"] for board, entry in flag.evidence["boards"].items()},
            "state": states[flag.voter][0].value if flag.voter in states else None,
        }
        for flag in detection.flags
    ]
    if args.format == "json":
        print(json.dumps(records, indent=1, allow_nan=False))
        return 0
    width = max([5, *(len(flag.voter) for flag in detection.flags)])
    lines = [f"{'voter':<{width}}  {'score':>7}  {'votes':>6}  {'state':<11}  reasons"] if records else []
    for flag in detection.flags:
        first, *rest = flag.reasons or [""]
        state = states[flag.voter][0].value if flag.voter in states else "-"
        lines.append(f"{flag.voter:<{width}}  {flag.score:>7.2f}  {flag.votes:>6}  {state:<11}  {first}")
        lines.extend(" " * (width + 32) + line for line in rest)
    lines.append(
        f"{len(records):,} of {detection.voters:,} voters flagged at alpha={args.alpha:g} "
        f"(score >= {detection.threshold:.2f}, log10 e-value) in {detection.votes:,} votes; "
        f"boards audited: {', '.join(detection.boards) or 'none'}"
    )
    print("\n".join(lines))
    return 0


def _export(args: argparse.Namespace) -> int:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # stderr is for the progress bar and errors
    from tqdm import tqdm

    tqdm.monitor_interval = 0  # no monitor thread: a process with one thread forks its export workers

    from arena.errors import ArenaError
    from arena.services.exports import FORMATS, default_path, export, export_options
    from arena.settings import ensure_secret
    from arena.store.engine import Store, check_schema, make_engine

    fmt = args.format
    if args.out is not None:
        suffix = args.out.suffix.lstrip(".").lower()
        if fmt is None and suffix in FORMATS:
            fmt = suffix
        elif fmt is not None and suffix and suffix != fmt:
            raise ValueError(f"--out ends in .{suffix} but --format is {fmt}")
        if args.out.exists() and args.out.is_dir():
            raise ValueError(f"--out {args.out} is a folder: give a file name")
    try:
        options = export_options(
            fmt,
            args.modality,
            args.dimension,
            args.since,
            args.until,
            args.valid_only,
            args.older_than,
            args.winner_labels,
        )
    except ArenaError as exc:
        raise ValueError(str(exc)) from None
    settings = _settings(args)
    ensure_secret(settings)
    out = args.out if args.out is not None else default_path(settings, options)
    engine = make_engine(settings.sqlalchemy_url)
    bar = tqdm(unit=" votes", file=sys.stderr, disable=args.no_progress or None, dynamic_ncols=True, leave=False)
    try:
        check_schema(engine)  # a reader: it neither creates nor migrates a database

        def total(count: int) -> None:
            bar.total = count
            bar.refresh()

        manifest = export(Store(engine), settings, options, out, progress=bar.update, total=total)
    except ArenaError as exc:
        raise ValueError(str(exc)) from None
    finally:
        bar.close()
        engine.dispose()
    print(f"{manifest['rows']:,} votes -> {out} ({manifest['size']:,} bytes, sha256 {manifest['sha256']})")
    print(f"manifest: {out.with_name(out.stem + '.manifest.json')}")
    print(f"reproduce the boards: {manifest['command']}")
    return 0


def _import(args: argparse.Namespace) -> int:
    logging.getLogger("alembic").setLevel(logging.WARNING)  # stderr is for the progress bar and errors
    from tqdm import tqdm

    from arena.errors import ArenaError
    from arena.services.battles import BattleService
    from arena.services.imports import import_votes
    from arena.services.voters import Voters
    from arena.settings import ensure_secret
    from arena.store.artifacts import ArtifactStore
    from arena.store.engine import Store, check_schema, make_engine
    from arena.vocabulary import Modality

    if not args.file.is_file():
        raise ValueError(f"no such file: {args.file}")
    if args.modality is not None and args.modality not in set(Modality):
        raise ValueError(f"--modality must be one of: {', '.join(Modality)}")
    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ensure_secret(settings)
    engine = make_engine(settings.sqlalchemy_url)
    bar = tqdm(unit=" rows", file=sys.stderr, disable=args.no_progress or None, dynamic_ncols=True, leave=False)
    try:
        check_schema(engine, upgrade_sqlite=True)
        store = Store(engine)
        voters = Voters(store, settings.subkey("ip-hash"))
        battles = BattleService(store, ArtifactStore(settings.artifacts_dir), {}, settings, voters)

        def total(count: int) -> None:
            bar.total = count
            bar.refresh()

        report = import_votes(
            battles,
            voters,
            args.file,
            modality=args.modality,
            strict=args.strict,
            all_battles=args.all_battles,
            progress=bar.update,
            total=total,
        )
    except ArenaError as exc:
        raise ValueError(str(exc)) from None
    finally:
        bar.close()
        engine.dispose()
    line = report.skipped_line()
    if line:
        hint = " (--all-battles imports them)" if report.skipped.get("not_anonymous") else ""
        print(f"{line}{hint}", file=sys.stderr)
    print(
        f"imported {report.votes:,} votes in {report.battles:,} new battles from {report.rows:,} rows; "
        f"{len(report.models):,} new retired models, {report.voters:,} new voters"
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    import asyncio

    from arena import simulate
    from arena.runtime import Arena, prepare
    from generators import load_models

    if args.votes < 1:
        raise ValueError("--votes must be at least 1")
    modalities = simulate.parse_modalities(args.modality)
    settings = _settings(args)
    if args.sampler is not None:
        settings.sampler = args.sampler
    entries = load_models(settings.models_file)
    for entry in entries:  # simulated voters do not read at human speed
        if entry.backend == "demo":
            entry.options.token_delay_ms = 0
    arena = Arena(settings, entries=prepare(settings, entries))
    report = asyncio.run(_simulate_async(arena, args, modalities))
    print(
        simulate.describe(report, modalities, arena.engine.url.render_as_string(hide_password=True), settings.data_dir)
    )
    return 0


async def _simulate_async(arena: Arena, args: argparse.Namespace, modalities: list[Modality]) -> simulate.Report:
    from arena import simulate

    await arena.start(jobs=False)
    try:
        if args.bulk:
            return simulate.bulk(arena, args.votes, modalities, args.seed)
        return await simulate.simulate(arena, args.votes, modalities, args.seed, args.concurrency)
    finally:
        await arena.stop()
