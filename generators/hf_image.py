"""`hf-image`: a diffusers text-to-image pipeline (AutoPipelineForText2Image).

Concurrent requests with the same steps, guidance and size run as one pipeline call
with a list of per-request generators, so each image's starting noise comes from its
own seed and matches what the request would get alone.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import random
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import Any

import torch

from generators.batching import Job
from generators.config import LocalEntry
from generators.local import LocalGenerator
from generators.protocol import GenerationRequest, ImageOutput, InvalidRequestError

MAX_SIDE = 2048


@dataclass(frozen=True)
class ImageSpec:
    prompt: str
    negative_prompt: str | None
    seed: int
    steps: int
    guidance: float
    width: int | None
    height: int | None

    @property
    def group(self) -> tuple:
        """Requests that can share one pipeline call."""
        return (self.steps, self.guidance, self.width, self.height, self.negative_prompt is None)


class HFImageGenerator(LocalGenerator[ImageSpec]):
    thread_prefix = "hf-image"
    batched = True

    def __init__(self, entry: LocalEntry):
        super().__init__(entry)
        self.pipe: Any = None  # a diffusers pipeline once loaded

    def _load_sync(self, model_dir: Path, device: torch.device, dtype: torch.dtype) -> None:
        from diffusers import AutoPipelineForText2Image

        with self._load_errors():
            pipe = AutoPipelineForText2Image.from_pretrained(model_dir, dtype=dtype).to(device)
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe

    def _unload(self) -> None:
        self.pipe = None

    async def _generate(self, request: GenerationRequest) -> ImageOutput:
        job = await self._submit(request)
        try:
            image = await job.get()
        finally:
            job.cancelled = True
        # PNG encoding (zlib releases the GIL) runs here, in parallel across requests and
        # beside the next batch, instead of serially on the model's thread
        return await asyncio.to_thread(to_png, image)

    def _spec(self, request: GenerationRequest) -> ImageSpec:
        defaults = self.entry.options.defaults
        options = {**defaults, **request.options}
        width, height = options.get("width"), options.get("height")
        for side in (width, height):
            if side is not None and (not isinstance(side, int) or not 64 <= side <= MAX_SIDE or side % 8):
                raise InvalidRequestError(
                    f"width and height must be multiples of 8 between 64 and {MAX_SIDE}", param="size"
                )
        steps = int(options.get("steps", 25))
        if not 1 <= steps <= 200:
            raise InvalidRequestError("steps must be between 1 and 200", param="steps")
        seed = request.seed if request.seed is not None else random.getrandbits(63)
        return ImageSpec(
            prompt=request.prompt,
            negative_prompt=options.get("negative_prompt"),
            seed=seed,
            steps=steps,
            guidance=float(options.get("guidance", 7.5)),
            width=width,
            height=height,
        )

    def _run_batch(self, jobs: list[Job[ImageSpec]]) -> None:
        ordered = sorted(jobs, key=lambda job: job.payload.group)
        for _, grouped in groupby(ordered, key=lambda job: job.payload.group):
            group = list(grouped)
            self.stats["batches"] += 1
            self.stats["forward_passes"] += group[0].payload.steps
            for job, image in zip(group, self._call_pipeline(group), strict=True):
                job.put(image)

    @torch.inference_mode()
    def _call_pipeline(self, group: list[Job[ImageSpec]]) -> list:
        pipe = self.pipe
        first = group[0].payload
        kwargs = {
            "prompt": [job.payload.prompt for job in group],
            # CPU generators: the starting noise is the same on any device and batch size
            "generator": [torch.Generator().manual_seed(job.payload.seed) for job in group],
            "num_inference_steps": first.steps,
            "guidance_scale": first.guidance,
            "width": first.width,
            "height": first.height,
            "output_type": "pil",
        }
        if first.negative_prompt is not None:
            kwargs["negative_prompt"] = [job.payload.negative_prompt for job in group]
        if "callback_on_step_end" in inspect.signature(pipe.__call__).parameters:
            kwargs["callback_on_step_end"] = _interrupt_when_abandoned(group)
        return pipe(**kwargs).images


def _interrupt_when_abandoned(group: list[Job]):
    """Stop denoising when every caller of the batch has gone (timeout, disconnect)."""

    def callback(pipe, step, timestep, callback_kwargs):
        if all(job.cancelled for job in group):
            pipe._interrupt = True
        return callback_kwargs

    return callback


def to_png(image) -> ImageOutput:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG")
    return ImageOutput(buffer.getvalue(), image.width, image.height)
