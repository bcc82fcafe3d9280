"""The `arena` command: serve, db upgrade, simulate, rank, worker.

Every failure a user can cause ends in one readable `error: ...` line and exit
status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from arena.settings import from_environment
from arena.vocabulary import Modality
from generators import ConfigError, load_models
from generators.worker import add_worker_parser
from ranking.cli import add_rank_parser

if TYPE_CHECKING:
    from arena import simulate
    from arena.runtime import Arena


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args) or 0
    except (ConfigError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:
        print(f"error: database: {exc.__class__.__name__}: {str(exc.orig if hasattr(exc, 'orig') else exc).splitlines()[0]}",
              file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arena", description="Open Arena: battles, votes and leaderboards")
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

    simulate = commands.add_parser("simulate", help="cast simulated votes through the battle service")
    _common(simulate)
    simulate.add_argument("--votes", type=int, required=True)
    simulate.add_argument("--modality", default="all", help="text, image, 3d or all (default)")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--concurrency", type=int, default=16)
    simulate.add_argument("--bulk", action="store_true",
                          help="write battles and votes directly (no generation), for millions of votes")
    simulate.set_defaults(func=_simulate)

    add_rank_parser(commands)
    add_worker_parser(commands)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, default=None, help="default ./arena-data or ARENA_DATA_DIR")
    parser.add_argument("--models", type=Path, default=None, help="models file (default: the demo models)")


def _settings(args: argparse.Namespace):
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


def _simulate(args: argparse.Namespace) -> int:
    from arena import simulate
    from arena.runtime import Arena, prepare

    if args.votes < 1:
        raise ValueError("--votes must be at least 1")
    modalities = simulate.parse_modalities(args.modality)
    settings = _settings(args)
    entries = load_models(settings.models_file)
    for entry in entries:  # simulated voters do not read at human speed
        if entry.backend == "demo":
            entry.options.token_delay_ms = 0
    arena = Arena(settings, entries=prepare(settings, entries))
    report = asyncio.run(_simulate_async(arena, args, modalities))
    print(simulate.describe(report, modalities, arena.engine.url.render_as_string(hide_password=True),
                            settings.data_dir))
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
