"""Latency of the shipped demo models: mean and p99 per model over the shipped prompts.

Run: python benchmarks/demo_models.py [--prompts 50] [--models data/models.demo.yaml]

Text models are measured with token_delay_ms set to 0: the delay is deliberate
pacing for the UI (it is added on top, per token), not work. Each model is warmed
up once first so the one-off corpus indexing and imports are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

from generators import GenerationRequest, build_generator, load_models

ROOT = Path(__file__).resolve().parents[1]


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def measure(models_file: Path, count: int) -> None:
    print(f"{'model':<14} {'modality':<8} {'q':>1} {'mean ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for entry in load_models(models_file):
        if entry.backend != "demo":
            continue
        entry = entry.model_copy(deep=True)
        entry.options.token_delay_ms = 0
        generator = build_generator(entry)
        prompts = (ROOT / "data" / "prompts" / f"{entry.modality}.txt").read_text(encoding="utf-8").splitlines()[:count]
        await generator.generate(GenerationRequest.from_prompt(entry.modality, prompts[0], seed=0))  # warm-up
        samples = []
        for index, prompt in enumerate(prompts):
            request = GenerationRequest.from_prompt(entry.modality, prompt, seed=index)
            start = time.perf_counter()
            await generator.generate(request)
            samples.append((time.perf_counter() - start) * 1000)
        print(
            f"{entry.name:<14} {entry.modality:<8} {entry.options.quality:>1} "
            f"{statistics.fmean(samples):8.1f} {_p99(samples):8.1f} {max(samples):8.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=50)
    parser.add_argument("--models", type=Path, default=ROOT / "data" / "models.demo.yaml")
    args = parser.parse_args()
    asyncio.run(measure(args.models, args.prompts))


if __name__ == "__main__":
    main()
