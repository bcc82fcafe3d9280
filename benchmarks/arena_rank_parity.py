"""Do our dumps reproduce with LMArena's own ranking library? Prints the largest rating difference.

Seeds a fresh arena with `arena simulate --bulk`, exports a Parquet dump, ranks it with
`arena rank` (no prior, as arena-rank fits the plain MLE) and with arena-rank's
BradleyTerry, and compares the ratings model by model. arena-rank pins jax and numpy
versions of its own, so it runs in a separate virtual environment given by
--arena-rank-python, e.g.:

    python3 -m venv /tmp/arv && /tmp/arv/bin/pip install arena-rank==0.1.1 pyarrow
    python benchmarks/arena_rank_parity.py --arena-rank-python /tmp/arv/bin/python --votes 100000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ARENA_RANK = """
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
import pandas as pd
from arena_rank.models.bradley_terry import BradleyTerry
from arena_rank.utils.data_utils import PairDataset
votes = pd.read_parquet(sys.argv[1], columns=["model_a", "model_b", "winner", "anony", "is_valid"])
votes = votes[votes["anony"] & votes["is_valid"]]
dataset = PairDataset.from_pandas(votes)
model = BradleyTerry(n_competitors=len(dataset.competitors))
result = model.compute_ratings_and_cis(dataset)
print(json.dumps(dict(zip(dataset.competitors, map(float, result["ratings"])))))
"""


def run(command: list[str], **kwargs) -> str:
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arena-rank-python", required=True, help="a Python with arena-rank installed")
    parser.add_argument("--votes", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data = Path(scratch) / "data"
        arena = [sys.executable, "-m", "arena"]
        run([*arena, "simulate", "--votes", str(args.votes), "--bulk", "--modality", "text", "--data-dir", str(data)])
        dump = Path(scratch) / "votes.parquet"
        run([*arena, "export", "--data-dir", str(data), "--modality", "text", "--out", str(dump), "--no-progress"])
        ours = json.loads(run([*arena, "rank", str(dump), "--prior", "0", "--format", "json"]))
        rows = ours["rows"] if isinstance(ours, dict) else ours
        ours_by_model = {row["model"]: row["rating"] for row in rows}
        theirs = json.loads(run([args.arena_rank_python, "-c", ARENA_RANK, str(dump)]))
    worst = max(abs(ours_by_model[model] - rating) for model, rating in theirs.items())
    print(f"{args.votes:,} simulated text votes, {len(theirs)} models, dumped to Parquet")
    for model in sorted(theirs, key=lambda name: -theirs[name]):
        print(f"  {model:24} arena rank {ours_by_model[model]:9.3f}   arena-rank {theirs[model]:9.3f}")
    print(f"largest difference: {worst:.5f} Elo ({'within' if worst <= 0.01 else 'NOT within'} 0.01)")


if __name__ == "__main__":
    main()
