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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import groupby

import torch

from generators.batching import DynamicBatcher, Job
from generators.config import LocalEntry
from generators.devices import LOAD_LOCK, load_error, prepare_local
from generators.protocol import ConfigError, GenerationRequest, Generator, GeneratorError, ImageOutput

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


class HFImageGenerator(Generator):
    def __init__(self, entry: LocalEntry):
        super().__init__(entry.name, entry.modality)
        self.entry = entry
        self.pipe = None
        self.stats = {"requests": 0, "batches": 0, "forward_passes": 0}
        self._executor: ThreadPoolExecutor | None = None
        self._batcher: DynamicBatcher[ImageSpec] | None = None

    async def load(self) -> None:
        await asyncio.to_thread(self._load_locked)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"hf-image-{self.name}")
        options = self.entry.options
        self._batcher = DynamicBatcher(self._run_batch, self._executor, options.max_batch_size,
                                       options.batch_wait_ms)

    def _load_locked(self) -> None:
        with LOAD_LOCK:
            self._load_sync()

    def _load_sync(self) -> None:
        from diffusers import AutoPipelineForText2Image

        model_dir, device, dtype = prepare_local(self.entry)
        try:
            pipe = AutoPipelineForText2Image.from_pretrained(model_dir, dtype=dtype).to(device)
        except ConfigError:
            raise
        except Exception as exc:
            raise load_error(self.name, exc) from None
        pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe

    async def close(self) -> None:
        if self._batcher is not None:
            await self._batcher.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        self.pipe = None
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    async def _generate(self, request: GenerationRequest) -> ImageOutput:
        if self._batcher is None:
            raise GeneratorError(f"{self.name} is not loaded")
        job = Job(self._spec(request))
        self.stats["requests"] += 1
        await self._batcher.submit(job)
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
                raise GeneratorError(f"width and height must be multiples of 8 between 64 and {MAX_SIDE}")
        steps = int(options.get("steps", 25))
        if not 1 <= steps <= 200:
            raise GeneratorError("steps must be between 1 and 200")
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
        for _, group in groupby(ordered, key=lambda job: job.payload.group):
            group = list(group)
            self.stats["batches"] += 1
            self.stats["forward_passes"] += group[0].payload.steps
            for job, image in zip(group, self._call_pipeline(group)):
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
