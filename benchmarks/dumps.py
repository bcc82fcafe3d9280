"""Benchmark `arena export`: time, peak memory and file size of vote dumps.

    python benchmarks/dumps.py                          # 1M votes, SQLite, Parquet
    python benchmarks/dumps.py --votes 100000 200000    # memory flat in the number of votes?
    python benchmarks/dumps.py --votes 10000000 --database-url postgresql+psycopg://postgres@127.0.0.1/bench

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


def seed(data_dir: Path, votes: int, env: dict[str, str]) -> float:
    """Seed `votes` bulk votes unless already done; returns the seconds it took (0 when reused)."""
    marker = data_dir / f".seeded-{votes}"
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
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return time.perf_counter() - started


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
    file pages included) and private (RssAnon: what the processes allocated)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, total, anonymous, grown = {root}, 0, 0, True
    while grown:
        found = {pid for pid, parent in parents.items() if parent in tree} - tree
        tree |= found
        grown = bool(found)
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
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
        data_dir = args.work / f"{database.lower()}-{votes}"
        seeded = seed(data_dir, votes, env)
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
