"""Benchmark one board refit: from the vote counts table vs a full GROUP BY over the votes.

    python benchmarks/counts.py                                   # 1M votes, SQLite
    python benchmarks/counts.py --votes 10000000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench

A data dir under --work is seeded once with `arena simulate --votes N --bulk --modality
text` (kept for the next run; the counts table fills in the same transactions). Then, in
this process, for the main text board and one board by country, each --repeat times:
  - counts: the board's counts and its "not counted" line from the counts table
    (what `Leaderboards.refit` reads), then the fit;
  - group by: the same from a GROUP BY over every vote of the slice (the old way), then the fit;
and for reference the k-anonymity refresh (distinct voters per group value, read from the
votes by the board job with main refits), the board job's whole refit of the main board
(first, then after a new vote) and `arena db check-counts`. Medians are printed.
With --database-url the database must exist and be migrated (`arena db upgrade`);
ARENA_SECRET_KEY is set for it. The goal (issue 11): under 0.2 s at 10M votes from counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def arena(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "arena", *args], capture_output=True, text=True, env={**os.environ, **env}, cwd=ROOT
    )


def seed(data_dir: Path, votes: int, env: dict[str, str]) -> float:
    """Seed `votes` bulk votes unless already done; returns the seconds it took (0 when reused)."""
    marker = data_dir / f".seeded-{votes}"
    if marker.exists():
        return 0.0
    started = time.perf_counter()
    done = arena(
        "simulate", "--votes", str(votes), "--bulk", "--modality", "text", "--data-dir", str(data_dir), env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"seeding failed: {done.stderr.strip()}")
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return time.perf_counter() - started


def timed(function, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/arena-bench-counts"))
    parser.add_argument("--database-url", default=None, help="PostgreSQL (empty, migrated); default: SQLite in --work")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    data_dir = args.work / (f"pg-{args.votes}" if args.database_url else f"sqlite-{args.votes}")
    env = {"ARENA_SECRET_KEY": "bench"}
    if args.database_url:
        env["ARENA_DATABASE_URL"] = args.database_url
    seconds = seed(data_dir, args.votes, env)
    print(f"{args.votes:,} votes in {'PostgreSQL' if args.database_url else 'SQLite'}", end="")
    print(f" (seeded in {seconds:.0f} s)" if seconds else " (seeded earlier)")

    os.environ.update(env)
    from sqlalchemy import func, select

    from arena.services.leaderboards import (
        Leaderboards,
        board_key,
        counts_from_votes,
        excluded_counts,
        excluded_from_votes,
        rank_options,
        vote_counts,
    )
    from arena.settings import from_environment
    from arena.store.engine import Store, check_schema, make_engine
    from arena.store.events import VotesRecorded
    from arena.store.groups import publishable_values
    from arena.store.schema import Vote, VoteCount
    from arena.vocabulary import VoteSource
    from ranking import rank

    settings = from_environment(data_dir=data_dir)
    engine = make_engine(settings.sqlalchemy_url)
    check_schema(engine, upgrade_sqlite=True)
    store = Store(engine)
    with store.read() as session:
        votes = session.scalar(select(func.count()).select_from(Vote))
        rows = session.scalar(select(func.count()).select_from(VoteCount))
        country = session.scalar(
            select(VoteCount.group_value)
            .where(VoteCount.group_field == "country")
            .group_by(VoteCount.group_value)
            .order_by(func.sum(VoteCount.votes).desc())
            .limit(1)
        )
    print(f"votes table: {votes:,} rows; counts table: {rows:,} rows")
    options = rank_options(settings)
    keys = [board_key("text")] + ([board_key("text", group=("country", country))] if country else [])
    for key in keys:
        name = "text/overall" + (f", country={key.value}" if key.group else "")
        read_counts, frame = timed(lambda key=key: (vote_counts(store, key), excluded_counts(store, key)), args.repeat)
        read_votes, truth = timed(
            lambda key=key: (counts_from_votes(store, key), excluded_from_votes(store, key)), args.repeat
        )
        assert frame[0].equals(truth[0]) and frame[1] == truth[1], "the counts table and the votes disagree"
        fit, _ = timed(lambda frame=frame: rank(frame[0], options), args.repeat)
        counted = int(frame[0]["count"].sum())
        print(f"\nboard {name}: {counted:,} counted votes, {len(frame[0])} cells")
        print(f"  from the counts table: read {read_counts * 1000:8.1f} ms  + fit {fit * 1000:.1f} ms")
        print(f"  full GROUP BY (old):   read {read_votes * 1000:8.1f} ms  + fit {fit * 1000:.1f} ms")
        print(
            f"  refit speed-up: {(read_votes + fit) / (read_counts + fit):.1f}x (read alone {read_votes / read_counts:.0f}x)"
        )
    groups, _ = timed(lambda: publishable_values(store, keys[0].modality, keys[0].dimension, settings.k_anonymity), 1)
    print(f"\nk-anonymity refresh (COUNT DISTINCT voter per group value, votes table): {groups * 1000:.0f} ms")
    boards = Leaderboards(store, settings)
    first, _ = timed(lambda: boards.refit(keys[0]), 1)
    slice_ = frozenset({(keys[0].modality, keys[0].dimension)})

    def after_a_vote():
        store.events.publish(VotesRecorded(slice_, 1, VoteSource.BULK))
        return boards.refit(keys[0])

    again, _ = timed(after_a_vote, args.repeat)
    print(
        f"Leaderboards.refit(text/overall), the board job's whole refit: first {first * 1000:.0f} ms "
        f"(k-anonymity refresh included), after a new vote {again * 1000:.1f} ms"
    )
    started = time.perf_counter()
    checked = arena("db", "check-counts", "--data-dir", str(data_dir), env=env)
    print(
        f"arena db check-counts: {time.perf_counter() - started:.1f} s, exit {checked.returncode}: "
        f"{checked.stdout.strip().splitlines()[-1] if checked.stdout.strip() else checked.stderr.strip()}"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
