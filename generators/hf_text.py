"""`hf-text`: a transformers causal LM with its tokenizer and chat template.

Requests are decoded by the model's continuous-batching scheduler (`generators.continuous`):
a request joins the running batch at the next decode step and leaves it when it ends
or its caller goes away. This module turns a request into the scheduler's `TextSpec`
(chat template, limits, sampling options, seed) and streams the scheduler's events back.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import torch

from generators.batching import DONE, Job
from generators.config import LocalEntry
from generators.continuous import ContinuousScheduler, SchedulerLimits, TextSpec
from generators.errors import ErrorCode
from generators.local import LocalGenerator
from generators.protocol import GenerationRequest, GeneratorError, InvalidRequestError, Usage

_KV_SHARE_OF_FREE = 0.8  # of the GPU memory free after loading, what the KV cache may reserve


class HFTextGenerator(LocalGenerator[TextSpec]):
    thread_prefix = "hf-text"

    def __init__(self, entry: LocalEntry):
        super().__init__(entry)
        self.model: Any = None  # a transformers model and tokenizer once loaded (their types are not followed)
        self.tokenizer: Any = None
        self.device: torch.device | None = None
        self.scheduler: ContinuousScheduler | None = None
        self._loop_done: Future[None] | None = None

    async def load(self) -> None:
        await super().load()
        assert self._executor is not None and self.device is not None
        options = self.entry.options
        limits = SchedulerLimits(options.max_batch_size, options.max_queue, kv_budget(self.model, self.device, options))
        self.scheduler = ContinuousScheduler(self.model, self.tokenizer, self.device, limits, self.name)
        self._loop_done = self._executor.submit(self.scheduler.run)

    async def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
            if self._loop_done is not None:
                await asyncio.wrap_future(self._loop_done)
        self.scheduler = self._loop_done = None
        await super().close()

    def health(self) -> dict[str, Any]:
        return self.scheduler.health() if self.scheduler is not None else {}

    def _load_sync(self, model_dir: Path, device: torch.device, dtype: torch.dtype) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        with self._load_errors():
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
        if device.type == "cuda":
            # cuDNN attention builds an execution plan for every new sequence length, and
            # every decode step is a new length: measured 80-130 ms per step on an H100
            # against ~10 with the flash / memory-efficient kernels (process-wide switch)
            torch.backends.cuda.enable_cudnn_sdp(False)
        self.tokenizer, self.model, self.device = tokenizer, model, device

    def _unload(self) -> None:
        self.model = self.tokenizer = None

    async def _stream_text(self, request: GenerationRequest) -> AsyncIterator[str | Usage]:
        if self.scheduler is None:
            raise GeneratorError(f"{self.name} is not loaded")
        job = Job(self._spec(request))
        self.scheduler.submit(job)
        try:
            while (event := await job.get()) is not DONE:
                if isinstance(event, tuple):  # (running usage, chunk): one event per token across threads
                    yield event[0]
                    yield event[1]
                else:
                    yield event
        finally:
            job.cancelled = True  # stops this row if the consumer went away

    def _spec(self, request: GenerationRequest) -> TextSpec:
        defaults = self.entry.options.defaults
        options = request.options
        prompt_ids = self._encode(request)
        limit = getattr(self.model.config, "max_position_embeddings", None) or 1 << 30
        if len(prompt_ids) >= limit:  # not even one new token fits
            raise InvalidRequestError(
                f"the prompt is too long for {self.name}: {len(prompt_ids)} tokens, and its context window "
                f"is {limit} tokens (prompt and answer together)",
                param="messages",
                code=ErrorCode.CONTEXT_LENGTH_EXCEEDED,
            )
        max_new = min(request.max_tokens, int(defaults.get("max_tokens", request.max_tokens)), limit - len(prompt_ids))
        temperature = float(options.get("temperature", defaults.get("temperature", 0.7)))
        top_p = float(options.get("top_p", defaults.get("top_p", 1.0)))
        for param, ok, rule in (
            ("max_tokens", max_new >= 1, "at least 1"),
            ("temperature", temperature >= 0, ">= 0"),
            ("top_p", 0 < top_p <= 1, "in (0, 1]"),
        ):
            if not ok:
                raise InvalidRequestError(f"{param} must be {rule}", param=param)
        seed = request.seed if request.seed is not None else random.getrandbits(63)
        return TextSpec(prompt_ids, max_new, temperature, top_p, seed)

    def _encode(self, request: GenerationRequest) -> list[int]:
        """The conversation through the model's chat template (a plain transcript without one)."""
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
            return tokenizer(text, add_special_tokens=False)["input_ids"]
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages) + "Assistant:"
        return tokenizer(text)["input_ids"]


def kv_budget(model: Any, device: torch.device, options: Any) -> int | None:
    """KV cache positions the running rows may reserve: the models file's `kv_cache_tokens`, and on
    a GPU at most what fits in a share of the memory left free after loading the weights."""
    budget: int | None = options.kv_cache_tokens
    if device.type == "cuda":
        config = model.config.get_text_config()
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        per_token = 2 * config.num_hidden_layers * heads * head_dim * model.dtype.itemsize
        free, _ = torch.cuda.mem_get_info(device)
        fits = int(free * _KV_SHARE_OF_FREE) // per_token
        budget = fits if budget is None else min(budget, fits)
    return budget
