"""Benchmark the ranking engine end to end on synthetic Parquet dumps.

    python benchmarks/ranking.py                      # 1M and 10M votes, numpy
    python benchmarks/ranking.py --sizes 1e6,1e7,1e8  # adds 100M votes, streamed (~0.5 GB of Parquet)
    python benchmarks/ranking.py --device cuda        # torch bootstrap on the GPU
    python benchmarks/ranking.py --end-to-end         # `arena rank FILE --ci bootstrap` as a user runs it
    python benchmarks/ranking.py --end-to-end --root /tmp/old-checkout   # the same command of another checkout

For each size it writes (once, cached under --dir) a Parquet file of N votes over M
models (log-normal pair popularity, 15% ties of which a third both_bad; model and
winner columns dictionary-encoded, as pandas/arrow write categoricals), then runs a
fresh child process that times: read (Parquet batches -> codes), aggregate (codes ->
counts), fit (Newton BT to 1e-8), bootstrap (R multinomial rounds over cells, refit),
sandwich, and reports peak RSS of the child. Needs numpy, pandas, pyarrow, scipy
(torch for --device cuda); not choix or tqdm.

--end-to-end times what a user waits for instead: ``python -m arena rank FILE --ci
bootstrap --rounds R`` as a fresh process (start, imports, reading, fit, bootstrap,
printing), --repeat times per size, and reports the median and the slowest run, with
``arena --help`` alone for the start-up share. The child of the stage timings runs with one
BLAS thread, as ``arena rank`` does (see ranking.cli.single_threaded_blas).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def generate(path: Path, n_votes: int, n_models: int, seed: int = 0, chunk: int = 10_000_000) -> None:
    """Write ``n_votes`` BT votes with half ties to ``path``, ``chunk`` rows at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1, n_models)
    pop = np.exp(0.8 * rng.standard_normal(n_models))
    cdf = np.cumsum(pop / pop.sum())
    names = pa.array([f"model-{k:03d}" for k in range(n_models)])
    winners = pa.array(["model_a", "model_b", "tie", "both_bad"])
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(
        tmp,
        pa.schema(
            [
                ("model_a", pa.dictionary(pa.int32(), pa.string())),
                ("model_b", pa.dictionary(pa.int32(), pa.string())),
                ("winner", pa.dictionary(pa.int32(), pa.string())),
            ]
        ),
    ) as w:
        for start in range(0, n_votes, chunk):
            n = min(chunk, n_votes - start)
            a = np.searchsorted(cdf, rng.random(n)).clip(max=n_models - 1)
            b = np.searchsorted(cdf, rng.random(n)).clip(max=n_models - 1)
            while (same := a == b).any():
                b[same] = np.searchsorted(cdf, rng.random(int(same.sum()))).clip(max=n_models - 1)
            p = 1 / (1 + np.exp(theta[b] - theta[a]))
            shape = 4 * p * (1 - p)
            t = min(0.15 / shape.mean(), 0.5) * shape  # 15% ties; E[score of a] stays p
            u = rng.random(n)
            win = np.where(u < p - t / 2, 0, np.where(u < p + t / 2, 2, 1))
            win[(win == 2) & (rng.random(n) < 1 / 3)] = 3
            w.write_table(
                pa.table(
                    {
                        "model_a": _dictionary(a, names),
                        "model_b": _dictionary(b, names),
                        "winner": _dictionary(win, winners),
                    }
                ),
                row_group_size=1 << 20,
            )
    tmp.rename(path)


def _dictionary(codes: np.ndarray, values: Any) -> Any:
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), values)


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space, so it
    starts afresh at exec; ru_maxrss would inherit the parent's peak across fork."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(path: str, rounds: int, device: str) -> dict:
    """Time the stages on ``path`` in this (fresh) process."""
    from ranking import bt
    from ranking.bootstrap import bootstrap
    from ranking.counts import aggregate
    from ranking.design import build_pairs
    from ranking.intervals import normal_ci, sandwich_cov
    from ranking.io import open_votes

    if device != "cpu":
        import torch  # warm the CUDA context outside the timings

        torch.ones(1, device=device).sum().item()
    rss_start = peak_rss_mb()
    out: dict = {}
    t0 = time.perf_counter()
    counts = aggregate(open_votes(path), timings=out)
    t1 = time.perf_counter()
    pairs = build_pairs(counts)
    f = bt.fit(pairs)
    t2 = time.perf_counter()
    if device != "cpu":  # one tiny warm-up round so kernels are loaded
        bootstrap(pairs, f, rounds=2, seed=1, device=device)
    t2b = time.perf_counter()
    rep = bootstrap(pairs, f, rounds=rounds, seed=0, device=device)
    t3 = time.perf_counter()
    lo, hi = normal_ci(f.theta, sandwich_cov(pairs, f), 0.95)
    t4 = time.perf_counter()
    out.update(
        fit=t2 - t1,
        bootstrap=t3 - t2b,
        sandwich=t4 - t3,
        total=(t1 - t0) + (t2 - t1) + (t3 - t2b) + (t4 - t3),
        converged=f.converged,
        grad_norm=f.grad_norm,
        iterations=f.iterations,
        boot_unconverged=rep.unconverged,
        n_votes=counts.n_votes,
        cells=int(pairs.counts.size),
        rss_start_mb=rss_start,
        peak_rss_mb=peak_rss_mb(),
    )
    return out


def blas_env() -> dict[str, str]:
    """This environment, with one BLAS thread unless the user chose a number (as `arena rank`)."""
    from ranking.cli import BLAS_THREADS

    env = dict(os.environ)
    if not any(name in env for name in BLAS_THREADS):
        env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def wall(command: list[str], root: Path) -> float:
    """Seconds from starting ``command`` (in ``root``) until it exited; fails on an error."""
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{proc.stderr}")
    return took


def end_to_end(paths: dict[int, Path], rounds: int, device: str, repeat: int, root: Path) -> None:
    """Time `python -m arena rank FILE --ci bootstrap` of the checkout at ``root``, start included."""
    arena = [sys.executable, "-m", "arena"]
    rank = ["rank", "--ci", "bootstrap", "--rounds", str(rounds), "--device", device, "--no-progress"]
    help_runs = sorted(wall([*arena, "--help"], root) for _ in range(repeat))
    rows = []
    for size, path in paths.items():
        wall([*arena, *rank, str(path)], root)  # the file into the page cache, as in a user's second run
        runs = sorted(wall([*arena, *rank, str(path)], root) for _ in range(repeat))
        rows.append((size, runs))
    print(
        f"arena rank end to end (process start included), {root}: {rounds} bootstrap rounds, "
        f"device={device}, {os.cpu_count()} CPUs, {repeat} runs each"
    )
    print(f"{'':>12}  {'p50':>8}  {'max':>8}  {'min':>8}")
    print(f"{'arena --help':>12}  {median(help_runs):>6.3f} s  {help_runs[-1]:>6.3f} s  {help_runs[0]:>6.3f} s")
    for size, runs in rows:
        print(f"{size:>12,}  {median(runs):>6.3f} s  {runs[-1]:>6.3f} s  {runs[0]:>6.3f} s")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="1e6,1e7", help="comma-separated vote counts, e.g. 1e6,1e7,1e8")
    p.add_argument("--models", type=int, default=100)
    p.add_argument("--rounds", type=int, default=1000)
    p.add_argument("--device", default="cpu", help="cpu (numpy) or cuda (torch)")
    p.add_argument(
        "--repeat", type=int, default=None, help="runs per size (default 3, the fastest shown; --end-to-end: 7)"
    )
    p.add_argument("--end-to-end", action="store_true", help="time `arena rank FILE --ci bootstrap` as a process")
    p.add_argument("--root", type=Path, default=ROOT, help="with --end-to-end: the checkout whose arena is timed")
    p.add_argument("--dir", default=os.environ.get("TMPDIR", "/tmp"), help="where the Parquet files go")
    p.add_argument("--json", action="store_true", help="print the raw figures as JSON too")
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.rounds, args.device)))
        return
    paths = {}
    for size in (int(float(s)) for s in args.sizes.split(",")):
        path = paths[size] = Path(args.dir) / f"ranking-bench-{size}-{args.models}.parquet"
        if not path.exists():
            t = time.perf_counter()
            generate(path, size, args.models)
            print(
                f"generated {path} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - t:.1f} s",
                file=sys.stderr,
            )
    if args.end_to_end:
        end_to_end(paths, args.rounds, args.device, max(1, args.repeat or 7), args.root.resolve())
        return
    args.repeat = args.repeat or 3
    rows = []
    for size, path in paths.items():
        runs = []
        for _ in range(max(1, args.repeat if size <= 10**7 else 1)):
            proc = subprocess.run(
                [sys.executable, __file__, "--child", str(path), "--rounds", str(args.rounds), "--device", args.device],
                capture_output=True,
                text=True,
                check=False,
                env=blas_env(),
            )
            if proc.returncode:
                sys.exit(proc.stderr)
            runs.append(json.loads(proc.stdout))
        best = min(runs, key=lambda r: r["total"])
        best["size"], best["peak_rss_max_mb"] = size, max(r["peak_rss_mb"] for r in runs)
        rows.append(best)
    print(
        f"ranking benchmark: {args.models} models, {args.rounds} bootstrap rounds, device={args.device}, "
        f"{os.cpu_count()} CPUs, best of {args.repeat}"
    )
    head = [
        "votes",
        "read",
        "aggregate",
        "fit",
        f"boot x{args.rounds}",
        "sandwich",
        "total",
        "peak RSS",
        "RSS after imports",
    ]
    print("  ".join(f"{h:>12}" for h in head))
    for r in rows:
        cells = [f"{r['size']:,}"] + [
            f"{r[k]:.3f} s" for k in ("read", "aggregate", "fit", "bootstrap", "sandwich", "total")
        ]
        cells += [f"{r['peak_rss_max_mb']:.0f} MB", f"{r['rss_start_mb']:.0f} MB"]
        print("  ".join(f"{c:>12}" for c in cells))
    if any(not r["converged"] or r["boot_unconverged"] for r in rows):
        print("warning: some fits did not converge", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
