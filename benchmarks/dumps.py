"""Benchmark `arena export`: time, peak memory and file size of vote dumps.

    python benchmarks/dumps.py                          # 1M votes, SQLite, Parquet
    python benchmarks/dumps.py --votes 100000 200000    # memory flat in the number of votes?
    python benchmarks/dumps.py --votes 1000000 --copies 10      # 10M votes
    python benchmarks/dumps.py --votes 1000000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench

For each size, a data dir under --work is seeded once with `arena simulate --votes N
--bulk --modality text` (kept for the next run), then `arena export --format F` runs in
a child process of its own; its wall time, peak RSS and peak private memory (the
largest sums over the export process and its worker processes, sampled every 0.1 s from
/proc: RSS counts the pages of the SQLite file each process maps, private does not) and
the dump's size are printed. With --database-url every size shares that database,
which must be empty and migrated (`arena db upgrade`); ARENA_SECRET_KEY is set for it.
The goal (issue 9): 1M votes to Parquet in under 10 s, with peak memory flat in N.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def arena(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "arena", *args], capture_output=True, text=True, env={**os.environ, **env}, cwd=ROOT
    )


def seed(data_dir: Path, votes: int, copies: int, env: dict[str, str]) -> float:
    """Seed `votes` bulk votes (`copies` times) unless already done; returns the seconds it took (0 when reused)."""
    marker = data_dir / (f".seeded-{votes}" + (f"x{copies}" if copies > 1 else ""))
    if marker.exists():  # kept from an earlier run: bring its schema up to date
        upgraded = arena("db", "upgrade", "--data-dir", str(data_dir), env=env)
        if upgraded.returncode != 0:
            raise SystemExit(f"upgrade failed: {upgraded.stderr.strip()}")
        return 0.0
    started = time.perf_counter()
    done = arena(
        "simulate", "--votes", str(votes), "--bulk", "--modality", "text", "--data-dir", str(data_dir), env=env
    )
    if done.returncode != 0:
        raise SystemExit(f"seeding failed: {done.stderr.strip()}")
    if copies > 1:
        copy(env.get("ARENA_DATABASE_URL") or f"sqlite:///{data_dir / 'arena.db'}", copies)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return time.perf_counter() - started


def copy(url: str, copies: int) -> None:
    """Every seeded battle and its votes `copies` - 1 more times, in SQL (simulating 10M votes
    takes an hour; this is not quick either on SQLite, whose uuid indexes take the copies as
    random inserts: nine copies of 1M ran over 20 minutes here): copy k's battle ids are the originals' with the first two characters
    replaced by 'z' and k, which no UUID starts with. The counts table is left as it was:
    an export does not read it."""
    from sqlalchemy import create_engine, text

    from arena.store.schema import Battle, Vote

    battles = [column.name for column in Battle.__table__.columns]
    votes = [column.name for column in Vote.__table__.columns if column.name != "id"]
    engine = create_engine(url)
    with engine.begin() as connection:
        for k in range(1, copies):
            new = f"'z{k}' || substr({{}}, 3)"
            chosen = [new.format("id") if name == "id" else name for name in battles]
            connection.execute(
                text(
                    f"INSERT INTO battles ({', '.join(battles)}) SELECT {', '.join(chosen)} FROM battles WHERE id NOT LIKE 'z%'"
                )
            )
            chosen = [new.format("battle_id") if name == "battle_id" else name for name in votes]
            connection.execute(
                text(
                    f"INSERT INTO votes ({', '.join(votes)}) SELECT {', '.join(chosen)} FROM votes WHERE battle_id NOT LIKE 'z%'"
                )
            )
    engine.dispose()


def export(data_dir: Path, fmt: str, env: dict[str, str]) -> tuple[float, float, float, int, int]:
    """One export in a fresh child: (seconds, peak RSS and peak private memory of the child
    and its workers in MiB, file bytes, rows)."""
    out = data_dir / f"bench.{fmt}"
    log = data_dir / "bench.log"
    command = [sys.executable, "-m", "arena", "export", "--data-dir", str(data_dir), "--format", fmt]
    started = time.perf_counter()
    with log.open("w") as sink:
        child = subprocess.Popen(
            [*command, "--out", str(out), "--no-progress"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=ROOT,
        )
        peak = private = 0
        while child.poll() is None:
            resident, anonymous = tree_rss(child.pid)
            peak, private = max(peak, resident), max(private, anonymous)
            time.sleep(0.1)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"export failed: {log.read_text().strip()}")
    rows = int(log.read_text().split(" votes ->", 1)[0].rsplit("\n", 1)[-1].replace(",", ""))
    return seconds, peak / 2**20, private / 2**20, out.stat().st_size, rows


def tree_rss(root: int) -> tuple[int, int]:
    """Bytes resident in `root` and its descendants now (Linux /proc): all (VmRSS, mapped
    file pages included) and private (RssAnon: what the processes allocated). Follows the
    kernel's list of each process's children: reading every process's stat ten times a
    second took a good part of a core from the export it measures."""
    total = anonymous = 0
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        pending.extend(int(child) for child in children)
        fields = {line.split(":")[0]: line.split()[1:2] for line in status.splitlines()}
        total += int((fields.get("VmRSS") or ["0"])[0]) * 1024
        anonymous += int((fields.get("RssAnon") or ["0"])[0]) * 1024
    return total, anonymous


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--format", default="parquet", choices=("parquet", "csv", "jsonl"))
    parser.add_argument("--database-url", default=None, help="PostgreSQL (one size per run) instead of SQLite")
    parser.add_argument("--work", type=Path, default=Path("/tmp/arena-bench-dumps"))
    parser.add_argument("--copies", type=int, default=1, help="seed --votes, then copy them in SQL to K times as many")
    args = parser.parse_args()
    if args.database_url and len(args.votes) > 1:
        parser.error("with --database-url give one --votes size (they share the database)")
    env = {"ARENA_DATABASE_URL": args.database_url, "ARENA_SECRET_KEY": "bench"} if args.database_url else {}
    database = "PostgreSQL" if args.database_url else "SQLite"
    print(
        f"{'database':<10} {'votes':>11} {'format':<8} {'seconds':>8} {'votes/s':>10} {'peak MiB':>9} "
        f"{'private':>8} {'file MiB':>9}"
    )
    for votes in sorted(args.votes):
        data_dir = args.work / (f"{database.lower()}-{votes}" + (f"x{args.copies}" if args.copies > 1 else ""))
        seeded = seed(data_dir, votes, args.copies, env)
        if seeded:
            print(f"(seeded {votes:,} votes in {seeded:.1f} s)", file=sys.stderr)
        seconds, peak, private, size, rows = export(data_dir, args.format, env)
        print(
            f"{database:<10} {rows:>11,} {args.format:<8} {seconds:>8.2f} {rows / seconds:>10,.0f} "
            f"{peak:>9.0f} {private:>8.0f} {size / 2**20:>9.1f}"
        )
    print(
        "peak MiB: the export's peak RSS, its worker processes, Python and libraries included, and the "
        "SQLite file's pages each maps (shared page cache, counted once per process); private: "
        "peak of the memory they allocated (RssAnon)"
    )


if __name__ == "__main__":
    main()
