"""What `arena worker` delivers over HTTP: streamed chat and images under concurrent load.

The arena reaches every model over HTTP, so this drives a real worker process
(`python -m generators.worker`, a fresh one per load level so its `/health` window
holds that level alone) with an async HTTP client, the way the arena's `openai`
backend does:

- text, bursts: 1, 8, 32 and 64 concurrent streams, each sending `--rounds` streamed
  chat requests back to back (`--max-tokens` each); aggregate tokens/s, per-stream
  tokens/s (a request's tokens over its duration, median), time to first token p50/p99
  as the client sees it, and the worker's own queue wait and time to first token;
- text, Poisson arrivals at `--poisson-load` (default 0.8) of the request rate the
  widest burst sustained: time to first token p50/p99 under spread-out load;
- images: 1, 8 and 16 concurrent clients; images/s, latency p50/p99, and the worker's
  queue wait against compute (per batch);
- 3D: a Shap-E decode at `--grid` with and without the face budget (`--max-faces`):
  seconds, vertices, faces, GLB bytes and the size of the HTTP answer.

    python benchmarks/worker_http.py --models tiny --out benchmarks/out/worker_http_cpu.json
    python benchmarks/worker_http.py --models gpt2 --out benchmarks/out/worker_http_gpu.json

`tiny` builds the tests' tiny random models (CPU, seconds); `gpt2` builds the
random-init GPT-2-small and the SD-1.5-sized pipeline of benchmarks/generators.py.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEXT_LEVELS = (1, 8, 32, 64)
IMAGE_LEVELS = (1, 8, 16)


# ---- the worker ----------------------------------------------------------------------


def build_models(root: Path, size: str, device: str) -> dict[str, Any]:
    """Models-file entries for a text and an image model, built and saved under `root`."""
    if size == "tiny":
        from tests.generators.conftest import build_image_model, build_shap_e, build_text_model

        text, image = build_text_model(root / "text"), build_image_model(root / "image")
        mesh = build_shap_e(root / "shap-e")
        image_defaults = {"steps": 4, "guidance": 5.0, "width": 64, "height": 64}
        text_dtype = image_dtype = "float32"
    else:
        from benchmarks.generators import build_gpt2_small, build_sd15, build_shap_e

        text, image = build_gpt2_small(root / "gpt2"), build_sd15(root / "sd", quick=device == "cpu")
        mesh = build_shap_e(root / "shap-e")
        image_defaults = {"steps": 20, "guidance": 7.5, "width": 512, "height": 512}
        text_dtype, image_dtype = ("bfloat16", "float16") if device != "cpu" else ("float32", "float32")
    common = {"device": device, "max_queue": 1024}
    return {
        "text": {
            "name": "lm",
            "modality": "text",
            "backend": "hf-text",
            "options": {"path": str(text), "dtype": text_dtype, "max_batch_size": 64, **common},
        },
        "image": {
            "name": "sd",
            "modality": "image",
            "backend": "hf-image",
            "options": {
                "path": str(image),
                "dtype": image_dtype,
                "max_batch_size": 16,
                "batch_wait_ms": 10,
                "defaults": image_defaults,
                **common,
            },
        },
        "3d": {
            "name": "shap-e",
            "modality": "3d",
            "backend": "hf-3d",
            "options": {"path": str(mesh), "dtype": image_dtype, "defaults": {"steps": 2 if size == "tiny" else 64}},
        },
    }


class Worker:
    """`python -m generators.worker` serving one model on a free loopback port."""

    def __init__(self, entry: dict[str, Any], root: Path, threads: int | None):
        from tests.generators.conftest import free_port

        self.threads = threads
        self.log = root / f"worker-{entry['name']}.log"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.models_file = root / f"models-{entry['name']}.yaml"
        self.models_file.write_text(yaml.safe_dump({"models": [entry]}))
        self.process: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> Worker:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "generators.worker", "--models", str(self.models_file), "--port", str(self.port)],
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **self._threads_env()},
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("ab"),
        )
        async with httpx.AsyncClient() as http:
            for _ in range(600):
                if self.process.poll() is not None:
                    raise RuntimeError(f"the worker exited with {self.process.returncode}")
                try:
                    if (await http.get(f"{self.url}/health")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError("the worker did not start in 120 s")

    def _threads_env(self) -> dict[str, str]:
        """On a small CPU box torch's intra-op threads spin against the event loop and the
        client (measured here: 80 ms a step for a tiny model with 2 threads, 7 ms with 1)."""
        return {} if self.threads is None else {"OMP_NUM_THREADS": str(self.threads)}

    async def health(self, model: str) -> dict[str, Any]:
        async with httpx.AsyncClient() as http:
            models: dict[str, Any] = (await http.get(f"{self.url}/health")).json()["models"]
            return dict(models[model])

    async def __aexit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(30)
        if self.process.returncode not in (0, -15):
            print(self.log.read_text()[-3000:], file=sys.stderr)


# ---- text ------------------------------------------------------------------------------


async def chat(http: httpx.AsyncClient, max_tokens: int, seed: int) -> dict[str, float]:
    """One streamed chat request: time to first content, duration, completion tokens."""
    body = {
        "model": "lm",
        "messages": [{"role": "user", "content": f"write a short poem about the sea, number {seed}"}],
        "max_tokens": max_tokens,
        "temperature": 0.8,
        "top_p": 0.95,
        "seed": seed,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    started = time.perf_counter()
    first = None
    tokens = 0
    async with http.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            return {"status": response.status_code}
        async for line in response.aiter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if first is None and any(choice["delta"].get("content") for choice in chunk.get("choices", [])):
                first = time.perf_counter()
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    ended = time.perf_counter()
    return {"status": 200, "ttft": (first or ended) - started, "seconds": ended - started, "tokens": tokens}


def quantiles_ms(values: list[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None}

    def rank(q: float) -> float:
        return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000, 1)

    return {"p50_ms": rank(0.5), "p99_ms": rank(0.99)}


def text_summary(results: list[dict[str, float]], wall: float) -> dict[str, Any]:
    served = [r for r in results if r["status"] == 200]
    tokens = sum(r["tokens"] for r in served)
    return {
        "requests": len(results),
        "refused_429": sum(r["status"] == 429 for r in results),
        "tokens": int(tokens),
        "seconds": round(wall, 2),
        "aggregate_tokens_per_s": round(tokens / wall, 1),
        "per_stream_tokens_per_s": round(float(np.median([r["tokens"] / r["seconds"] for r in served])), 1),
        "ttft": quantiles_ms([r["ttft"] for r in served]),
    }


async def text_burst(url: str, streams: int, rounds: int, max_tokens: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=3600, limits=httpx.Limits(max_connections=None)) as http:
        await chat(http, 8, seed=10**6)  # warm-up, before the clock

        async def stream(index: int) -> list[dict[str, float]]:
            return [await chat(http, max_tokens, seed=index * rounds + r) for r in range(rounds)]

        started = time.perf_counter()
        per_stream = await asyncio.gather(*(stream(i) for i in range(streams)))
        wall = time.perf_counter() - started
    return {"streams": streams, **text_summary([r for rs in per_stream for r in rs], wall)}


async def text_poisson(url: str, rate: float, count: int, max_tokens: int) -> dict[str, Any]:
    gaps = np.random.default_rng(0).exponential(1 / rate, count)
    async with httpx.AsyncClient(base_url=url, timeout=3600, limits=httpx.Limits(max_connections=None)) as http:
        await chat(http, 8, seed=10**6)
        started = time.perf_counter()
        tasks = []
        for index, gap in enumerate(gaps):
            await asyncio.sleep(gap)
            tasks.append(asyncio.ensure_future(chat(http, max_tokens, seed=index)))
        results = await asyncio.gather(*tasks)
        wall = time.perf_counter() - started
    return {"arrivals_per_s": round(rate, 2), **text_summary(list(results), wall)}


def server_side(health: dict[str, Any], *names: str) -> dict[str, Any]:
    return {key: value for key, value in health.items() if key.startswith(names)}


async def bench_text(entry: dict[str, Any], root: Path, args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {"max_tokens": args.max_tokens, "rounds_per_stream": args.rounds, "bursts": []}
    for streams in args.streams:
        async with Worker(entry, root, args.threads) as worker:
            run = await text_burst(worker.url, streams, args.rounds, args.max_tokens)
            run["worker"] = server_side(await worker.health("lm"), "ttft", "queue_wait", "forward", "joined")
        report["bursts"].append(run)
        print(f"text x{streams:<3} {json.dumps(run)}", flush=True)
    widest = report["bursts"][-1]
    capacity = widest["requests"] / widest["seconds"]
    async with Worker(entry, root, args.threads) as worker:
        run = await text_poisson(worker.url, args.poisson_load * capacity, args.poisson_requests, args.max_tokens)
        run["load_vs_capacity"] = args.poisson_load
        run["worker"] = server_side(await worker.health("lm"), "ttft", "queue_wait")
    report["poisson"] = run
    print(f"text poisson {json.dumps(run)}", flush=True)
    single = report["bursts"][0]["aggregate_tokens_per_s"]
    for burst in report["bursts"]:
        burst["x_one_stream"] = round(burst["aggregate_tokens_per_s"] / single, 2)
    return report


# ---- images ----------------------------------------------------------------------------


async def draw(http: httpx.AsyncClient, seed: int) -> dict[str, float]:
    started = time.perf_counter()
    response = await http.post(
        "/v1/images/generations", json={"model": "sd", "prompt": f"a red cube number {seed}", "seed": seed}
    )
    return {"status": response.status_code, "seconds": time.perf_counter() - started}


async def bench_images(
    entry: dict[str, Any], root: Path, levels: list[int], rounds: int, threads: int | None
) -> dict[str, Any]:
    report: dict[str, Any] = {"rounds_per_client": rounds, "levels": []}
    for clients in levels:
        async with Worker(entry, root, threads) as worker:
            async with httpx.AsyncClient(base_url=worker.url, timeout=3600) as http:
                await draw(http, 10**6)

                async def client(index: int, http: httpx.AsyncClient = http) -> list[dict[str, float]]:
                    return [await draw(http, index * rounds + r) for r in range(rounds)]

                started = time.perf_counter()
                results = [r for rs in await asyncio.gather(*(client(i) for i in range(clients))) for r in rs]
                wall = time.perf_counter() - started
            health = await worker.health("sd")
        served = [r for r in results if r["status"] == 200]
        run = {
            "clients": clients,
            "images": len(served),
            "seconds": round(wall, 2),
            "images_per_s": round(len(served) / wall, 2),
            "latency": quantiles_ms([r["seconds"] for r in served]),
            "worker": server_side(health, "queue_wait", "compute", "batches"),
        }
        report["levels"].append(run)
        print(f"image x{clients:<3} {json.dumps(run)}", flush=True)
    single = report["levels"][0]["images_per_s"]
    for level in report["levels"]:
        level["x_one_client"] = round(level["images_per_s"] / single, 2)
    return report


# ---- 3D ----------------------------------------------------------------------------------


async def bench_3d(entry: dict[str, Any], root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One worker per face budget (none, then `--max-faces`), two meshes each."""
    report: dict[str, Any] = {"grid_size": args.grid, "runs": []}
    for budget in (None, args.max_faces):
        configured = json.loads(json.dumps(entry))
        configured["options"]["defaults"].update(grid_size=args.grid, max_faces=budget or 2**31 - 1)
        async with Worker(configured, root, args.threads) as worker:
            async with httpx.AsyncClient(base_url=worker.url, timeout=3600) as http:
                for seed in range(2):
                    started = time.perf_counter()
                    response = await http.post(
                        "/v1/3d/generations", json={"model": "shap-e", "prompt": "a red cube", "seed": seed}
                    )
                    seconds = time.perf_counter() - started
                    run: dict[str, Any] = {"max_faces": budget, "seconds": round(seconds, 2)}
                    if response.status_code == 200:
                        mesh = response.json()["data"][0]
                        run.update(
                            vertices=mesh["vertices"],
                            faces=mesh["faces"],
                            glb_bytes=len(base64.b64decode(mesh["b64_glb"])),
                            http_answer_bytes=len(response.content),
                        )
                    else:
                        run["error"] = response.json()["error"]["message"]
                    report["runs"].append(run)
                    print(f"3d {json.dumps(run)}", flush=True)
    return report


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    if args.threads is None and device == "cpu":
        args.threads = 1
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if device == "cuda" else f"cpu ({os.cpu_count()} cores)",
        "torch": torch.__version__,
        "models": args.models,
        "worker_torch_threads": args.threads,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        entries = build_models(root, args.models, device)
        if "text" in args.only:
            report["text"] = await bench_text(entries["text"], root, args)
        if "image" in args.only:
            report["image"] = await bench_images(
                entries["image"], root, args.image_clients, args.image_rounds, args.threads
            )
        if "3d" in args.only:
            report["3d"] = await bench_3d(entries["3d"], root, args)
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="tiny", choices=["tiny", "gpt2"])
    parser.add_argument("--only", nargs="+", default=["text", "image", "3d"], choices=["text", "image", "3d"])
    parser.add_argument("--streams", type=int, nargs="+", default=list(TEXT_LEVELS))
    parser.add_argument("--image-clients", type=int, nargs="+", default=list(IMAGE_LEVELS))
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3, help="requests each stream sends back to back")
    parser.add_argument("--poisson-load", type=float, default=0.8, help="share of the widest burst's request rate")
    parser.add_argument("--poisson-requests", type=int, default=128)
    parser.add_argument("--image-rounds", type=int, default=2)
    parser.add_argument("--grid", type=int, default=128, help="3D: marching-cubes resolution")
    parser.add_argument("--max-faces", type=int, default=100_000, help="3D: the face budget to compare")
    parser.add_argument("--threads", type=int, default=None, help="the worker's torch threads (CPU default 1)")
    parser.add_argument("--out", type=Path, default=None)
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    print(json.dumps(result, indent=2))
    if arguments.out:
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(json.dumps(result, indent=2))
