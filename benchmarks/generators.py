"""Throughput of the local backends with and without dynamic batching.

Builds realistic-size, randomly initialised models (a GPT-2-small LM, a Stable
Diffusion 1.5-sized pipeline at 512x512, Shap-E), saves them, loads them through the
real backends and measures tokens/s and images/s at 1, 8 and 32 concurrent requests,
batched and one at a time, plus GPU memory and whether each batched answer equals
the answer the same request gets alone (same seed).

    python benchmarks/generators.py --out benchmarks/out/generators.json
    python benchmarks/generators.py --only text --quick     # a CPU smoke run

Random weights make no sense, but they cost exactly what trained ones cost.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generators.config import parse_models
from generators.protocol import GenerationRequest, GeneratorError
from generators.registry import build_generator
from tests.generators.shap_e_tables import crude_marching_cubes

CONCURRENCY = (1, 8, 32)


# ---- model builders ------------------------------------------------------------------


def word_tokenizer(vocab_size: int, model_max_length: int):
    """A word-level tokenizer whose every id decodes to a word, so random samples stay text."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    vocab = {token: i for i, token in enumerate(specials + [f"w{i}" for i in range(vocab_size - len(specials))])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        model_max_length=model_max_length,
    )


def build_gpt2_small(path: Path) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=50257,
        n_positions=1024,
        n_embd=768,
        n_layer=12,
        n_head=12,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
    )
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        model = GPT2LMHeadModel(config)
    model.save_pretrained(path)
    word_tokenizer(50257, 1024).save_pretrained(path)
    return path


def build_sd15(path: Path, quick: bool) -> Path:
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    width = (32, 64, 64, 64) if quick else (320, 640, 1280, 1280)
    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        unet = UNet2DConditionModel(
            sample_size=64,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=width,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
            cross_attention_dim=768,
            attention_head_dim=8,
            norm_num_groups=32,
        )
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            layers_per_block=2,
            block_out_channels=[32, 32, 32, 32] if quick else [128, 256, 512, 512],
            down_block_types=["DownEncoderBlock2D"] * 4,
            up_block_types=["UpDecoderBlock2D"] * 4,
            sample_size=512,
            norm_num_groups=32,
        )
        text = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=49408,
                hidden_size=768,
                intermediate_size=3072,
                num_hidden_layers=12,
                num_attention_heads=12,
                max_position_embeddings=77,
                eos_token_id=2,
            )
        )
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=word_tokenizer(49408, 77),
        unet=unet,
        scheduler=DDIMScheduler(clip_sample=False, steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(torch.float16).save_pretrained(path)
    return path


def build_shap_e(path: Path) -> Path:
    """Shap-E's real sizes; the marching-cubes tables (weights data) get a crude one-triangle fill."""
    from diffusers import HeunDiscreteScheduler, PriorTransformer, ShapEPipeline
    from diffusers.pipelines.shap_e import ShapERenderer
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
        prior = PriorTransformer(
            num_attention_heads=16,
            attention_head_dim=64,
            num_layers=24,
            embedding_dim=1024,
            num_embeddings=1024,
            additional_embeddings=0,
            time_embed_act_fn="gelu",
            norm_in_type="layer",
            embedding_proj_norm_type="layer",
            embedding_proj_dim=768,
            encoder_hid_proj_type=None,
            added_emb_type=None,
            clip_embed_dim=2048,
        )
        renderer = ShapERenderer()
        text = CLIPTextModelWithProjection(
            CLIPTextConfig(
                vocab_size=49408,
                hidden_size=768,
                intermediate_size=3072,
                num_hidden_layers=12,
                num_attention_heads=12,
                max_position_embeddings=77,
                projection_dim=768,
                eos_token_id=2,
            )
        )
    crude_marching_cubes(renderer)
    scheduler = HeunDiscreteScheduler(
        beta_schedule="exp",
        num_train_timesteps=1024,
        prediction_type="sample",
        use_karras_sigmas=True,
        clip_sample=True,
        clip_sample_range=1.0,
    )
    ShapEPipeline(
        prior=prior,
        text_encoder=text,
        tokenizer=word_tokenizer(49408, 77),
        shap_e_renderer=renderer,
        scheduler=scheduler,
    ).save_pretrained(path)
    return path


# ---- measuring -----------------------------------------------------------------------


async def load(name: str, modality: str, backend: str, path: Path, **options):
    entry = {"name": name, "modality": modality, "backend": backend, "options": {"path": str(path), **options}}
    generator = build_generator(parse_models({"models": [entry]})[0])
    await generator.load()
    return generator


def memory() -> dict:
    if not torch.cuda.is_available():
        return {}
    return {
        "allocated_gib": round(torch.cuda.memory_allocated() / 1024**3, 2),
        "peak_gib": round(torch.cuda.max_memory_allocated() / 1024**3, 2),
    }


async def timed(requests, generator):
    torch.cuda.synchronize() if torch.cuda.is_available() else None
    started = time.perf_counter()
    outputs = await asyncio.gather(*(generator.generate(request) for request in requests))
    return outputs, time.perf_counter() - started


def text_requests(count: int, max_tokens: int, offset: int = 0) -> list[GenerationRequest]:
    rng = np.random.default_rng(offset)
    return [
        GenerationRequest.from_prompt(
            "text",
            " ".join(f"w{w}" for w in rng.integers(0, 50000, 8 + i % 9)),
            seed=offset + i,
            max_tokens=max_tokens,
            timeout_s=3600,
            options={"temperature": 0.8, "top_p": 0.95},
        )
        for i in range(count)
    ]


async def bench_text(path: Path, max_tokens: int, dtype: str) -> dict:
    results: dict = {"model": "gpt2-small (124M, random)", "dtype": dtype, "max_tokens": max_tokens, "runs": []}
    outputs_by_mode = {}
    for mode, batch in (("batched", 32), ("one-at-a-time", 1)):
        torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
        lm = await load("gpt2", "text", "hf-text", path, dtype=dtype, max_batch_size=batch, batch_wait_ms=10)
        results.setdefault("memory_after_load", memory())
        await lm.generate(text_requests(1, 8, offset=999)[0])  # warm-up
        for concurrency in CONCURRENCY:
            requests = text_requests(concurrency, max_tokens)
            before = lm.health()
            outputs, seconds = await timed(requests, lm)
            tokens = sum(output.completion_tokens for output in outputs)
            results["runs"].append(
                {
                    "mode": mode,
                    "concurrency": concurrency,
                    "seconds": round(seconds, 3),
                    "tokens": tokens,
                    "tokens_per_s": round(tokens / seconds, 1),
                    "forward_passes": lm.health()["forward_passes"] - before["forward_passes"],
                    **memory(),
                }
            )
            print(f"text {mode:14} x{concurrency:<3} {tokens / seconds:9.1f} tokens/s", flush=True)
            outputs_by_mode[(mode, concurrency)] = [output.text for output in outputs]
        await lm.close()
    single = next(r["tokens_per_s"] for r in results["runs"] if r["mode"] == "batched" and r["concurrency"] == 1)
    for run in results["runs"]:
        run["speedup_vs_one_at_a_time"] = round(run["tokens_per_s"] / single, 2)
    batched, alone = outputs_by_mode[("batched", 32)], outputs_by_mode[("one-at-a-time", 32)]
    results["identical_to_alone"] = f"{sum(a == b for a, b in zip(batched, alone))}/{len(alone)}"
    return results


def pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png))).astype(int)


def image_requests(count: int, steps: int, side: int) -> list[GenerationRequest]:
    return [
        GenerationRequest.from_prompt(
            "image",
            f"w{i} w{i * 7} w{i * 13}",
            seed=i,
            timeout_s=3600,
            options={"steps": steps, "guidance": 7.5, "width": side, "height": side},
        )
        for i in range(count)
    ]


async def bench_image(path: Path, steps: int, side: int) -> dict:
    results: dict = {
        "model": "sd-1.5-sized (random)",
        "dtype": "float16",
        "steps": steps,
        "size": f"{side}x{side}",
        "runs": [],
    }
    outputs_by_mode = {}
    for mode, batch, levels in (("batched", 32, CONCURRENCY), ("one-at-a-time", 1, (1, 8))):
        torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
        sd = await load("sd", "image", "hf-image", path, dtype="float16", max_batch_size=batch, batch_wait_ms=10)
        results.setdefault("memory_after_load", memory())
        for concurrency in levels:  # warm-up: kernels and plans for each batch shape
            await asyncio.gather(*(sd.generate(request) for request in image_requests(concurrency, 2, side)))
        for concurrency in levels:
            outputs, seconds = await timed(image_requests(concurrency, steps, side), sd)
            results["runs"].append(
                {
                    "mode": mode,
                    "concurrency": concurrency,
                    "seconds": round(seconds, 3),
                    "images_per_s": round(concurrency / seconds, 2),
                    **memory(),
                }
            )
            print(f"image {mode:14} x{concurrency:<3} {concurrency / seconds:7.2f} images/s", flush=True)
            outputs_by_mode[(mode, concurrency)] = [output.png for output in outputs]
        await sd.close()
    single = next(r["images_per_s"] for r in results["runs"] if r["mode"] == "batched" and r["concurrency"] == 1)
    for run in results["runs"]:
        run["speedup_vs_one_at_a_time"] = round(run["images_per_s"] / single, 2)
    batched, alone = outputs_by_mode[("batched", 8)], outputs_by_mode[("one-at-a-time", 8)]
    differences = [np.abs(pixels(a) - pixels(b)) for a, b in zip(batched, alone)]
    results["identical_to_alone"] = f"{sum(a == b for a, b in zip(batched, alone))}/{len(alone)}"
    results["max_pixel_difference_vs_alone"] = int(max(d.max() for d in differences))
    results["pixels_differing_vs_alone"] = f"{np.mean([(d > 0).mean() for d in differences]):.2%}"
    return results


async def bench_3d(path: Path, steps: int, grid: int, max_faces: int) -> dict:
    torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
    shap_e = await load(
        "shap-e",
        "3d",
        "hf-3d",
        path,
        dtype="float16" if torch.cuda.is_available() else "float32",
        defaults={"steps": steps, "grid_size": grid, "max_faces": max_faces},
    )
    results: dict = {
        "model": "shap-e-sized (random)",
        "steps": steps,
        "grid_size": grid,
        "max_faces": max_faces,
        "memory_after_load": memory(),
        "runs": [],
    }
    for seed in range(3):
        started = time.perf_counter()
        try:
            output = await shap_e.generate(GenerationRequest.from_prompt("3d", "w1 w2", seed=seed, timeout_s=3600))
            outcome = {"vertices": output.vertices, "faces": output.faces, "glb_bytes": len(output.glb)}
        except GeneratorError as exc:
            outcome = {"error": str(exc)}
        results["runs"].append({"seconds": round(time.perf_counter() - started, 2), **outcome, **memory()})
        print(f"3d seed {seed}: {results['runs'][-1]}", flush=True)
    await shap_e.close()
    return results


async def main(args: argparse.Namespace) -> dict:
    report: dict = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if "text" in args.only:
            path = build_gpt2_small(root / "gpt2")
            report["text"] = await bench_text(path, args.max_tokens, args.text_dtype)
            if args.text_dtype != "float32":
                report["text_identity_float32"] = await identity_float32(path)
        if "image" in args.only:
            report["image"] = await bench_image(build_sd15(root / "sd", args.quick), args.steps, args.size)
        if "3d" in args.only:
            report["3d"] = await bench_3d(build_shap_e(root / "shap-e"), args.shap_e_steps, args.grid, args.max_faces)
    return report


async def identity_float32(path: Path) -> dict:
    """Batched against alone in float32, where batch-size-dependent rounding is far smaller
    than in bf16, sampled (temperature 0.8) and greedy."""
    report = {"requests": 16, "max_tokens": 32, "tf32_matmul": torch.backends.cuda.matmul.allow_tf32}
    for label, temperature in (("sampled", 0.8), ("greedy", 0.0)):
        texts = {}
        for batch in (16, 1):
            lm = await load("gpt2", "text", "hf-text", path, dtype="float32", max_batch_size=batch, batch_wait_ms=10)
            requests = text_requests(16, 32, offset=500)
            for request in requests:
                request.options["temperature"] = temperature
            outputs = await asyncio.gather(*(lm.generate(request) for request in requests))
            texts[batch] = [output.text for output in outputs]
            await lm.close()
        report[f"identical_to_alone_{label}"] = f"{sum(a == b for a, b in zip(texts[16], texts[1]))}/16"
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", default=["text", "image", "3d"], choices=["text", "image", "3d"])
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--text-dtype", default="auto", choices=["auto", "float32", "float16", "bfloat16"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--shap-e-steps", type=int, default=64)
    parser.add_argument("--grid", type=int, default=128)
    parser.add_argument("--max-faces", type=int, default=100_000, help="the 3D model's face budget")
    parser.add_argument("--quick", action="store_true", help="narrow image model, for a CPU smoke run")
    parser.add_argument("--out", type=Path, default=None)
    arguments = parser.parse_args()
    result = asyncio.run(main(arguments))
    print(json.dumps(result, indent=2))
    if arguments.out:
        arguments.out.parent.mkdir(parents=True, exist_ok=True)
        arguments.out.write_text(json.dumps(result, indent=2))
