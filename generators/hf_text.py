"""`hf-text`: a transformers causal LM with its tokenizer and chat template.

Concurrent requests are batched (left padding) and decoded by one step loop that
streams each row's text as it grows. Sampling is seeded per request: each row draws
its uniform numbers from its own generator, so a request gets the same answer alone
or in a batch of 32, and one request's seed never depends on who else is waiting.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from generators.batching import DONE, Job
from generators.config import LocalEntry
from generators.errors import ErrorCode
from generators.local import LocalGenerator
from generators.protocol import FinishReason, GenerationRequest, InvalidRequestError, Usage

_CONTEXT_TOKENS = 5  # prompt tokens kept as decoding context so a chunk's leading space survives


@dataclass(frozen=True)
class TextSpec:
    """One request, reduced to what the step loop needs."""

    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int


class HFTextGenerator(LocalGenerator[TextSpec]):
    thread_prefix = "hf-text"
    batched = True

    def __init__(self, entry: LocalEntry):
        super().__init__(entry)
        self.model: Any = None  # a transformers model and tokenizer once loaded (their types are not followed)
        self.tokenizer: Any = None
        self.device: torch.device | None = None

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
        job = await self._submit(request)
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

    def _run_batch(self, jobs: list[Job[TextSpec]]) -> None:
        self.stats["batches"] += 1
        generate_batch(self.model, self.tokenizer, jobs, self.device, self.stats)


def _eos_ids(model, tokenizer) -> set[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    ids = ids if isinstance(ids, list) else [ids]
    return {i for i in ids + [tokenizer.eos_token_id] if i is not None}


@torch.inference_mode()
def generate_batch(model, tokenizer, jobs: list[Job[TextSpec]], device: torch.device, stats: dict) -> None:
    """Decode every job's prompt in one left-padded batch, streaming each row's chunks.

    Rows that finish (EOS, their own max_tokens, or a cancelled consumer) stop
    streaming at once; the loop ends when every row is done.
    """
    specs = [job.payload for job in jobs]
    rows = len(specs)
    eos = _eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(eos), 0)
    width = max(len(spec.prompt_ids) for spec in specs)
    input_ids = torch.full((rows, width), pad, dtype=torch.long)
    mask = torch.zeros((rows, width), dtype=torch.long)
    for row, spec in enumerate(specs):
        input_ids[row, width - len(spec.prompt_ids) :] = torch.tensor(spec.prompt_ids)
        mask[row, width - len(spec.prompt_ids) :] = 1
    input_ids, mask = input_ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    temperature = torch.tensor([spec.temperature for spec in specs], device=device)
    top_p = torch.tensor([spec.top_p for spec in specs], device=device)
    rngs = [torch.Generator().manual_seed(spec.seed) for spec in specs]
    detoks = [Detokenizer(tokenizer, spec.prompt_ids) for spec in specs]
    produced = [0] * rows
    done = [False] * rows

    out = model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1)
    stats["forward_passes"] += 1
    for _ in range(max(spec.max_new_tokens for spec in specs)):
        uniforms = torch.tensor([torch.rand((), generator=rng).item() for rng in rngs], device=device)
        tokens = sample(out.logits[:, -1, :], temperature, top_p, uniforms)
        for row, token in enumerate(tokens.tolist()):
            if done[row]:
                continue
            if jobs[row].cancelled:
                done[row] = True
                continue
            if token in eos:
                _finish(jobs[row], detoks[row], specs[row], produced[row], FinishReason.STOP)
                done[row] = True
                continue
            produced[row] += 1
            chunk = detoks[row].add(token)
            if chunk:  # with the running count, so a consumer that stops at this chunk knows it
                jobs[row].put((Usage(len(specs[row].prompt_ids), produced[row]), chunk))
            if produced[row] >= specs[row].max_new_tokens:  # max_tokens, or the context window is full
                _finish(jobs[row], detoks[row], specs[row], produced[row], FinishReason.LENGTH)
                done[row] = True
        if all(done):
            break
        mask = torch.cat([mask, mask.new_ones((rows, 1))], dim=1)
        positions = positions[:, -1:] + 1
        out = model(
            input_ids=tokens[:, None],
            attention_mask=mask,
            position_ids=positions,
            past_key_values=out.past_key_values,
            use_cache=True,
        )
        stats["forward_passes"] += 1


def _finish(
    job: Job[TextSpec], detok: Detokenizer, spec: TextSpec, completion_tokens: int, reason: FinishReason
) -> None:
    tail = detok.flush()
    if tail:
        job.put(tail)
    job.put(Usage(len(spec.prompt_ids), completion_tokens, reason))
    job.put(DONE)


def sample(
    logits: torch.Tensor, temperature: torch.Tensor, top_p: torch.Tensor, uniforms: torch.Tensor
) -> torch.Tensor:
    """Next token per row: greedy where temperature is 0, else top-p sampling by inverse CDF.

    The randomness is one uniform number per row, drawn from that row's own generator,
    so a row's choice depends on its logits and its seed alone.
    """
    logits = logits.float()
    greedy = logits.argmax(-1)
    probs = torch.softmax(logits / temperature.clamp(min=1e-5)[:, None], dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True, stable=True)
    before = sorted_probs.cumsum(-1) - sorted_probs
    sorted_probs = sorted_probs * (before < top_p[:, None])
    cdf = sorted_probs.cumsum(-1)
    pick = torch.searchsorted(cdf, (uniforms * cdf[:, -1])[:, None], right=True)
    sampled = order.gather(-1, pick.clamp(max=cdf.shape[-1] - 1)).squeeze(-1)
    return torch.where(temperature > 0, sampled, greedy)


class Detokenizer:
    """Turns a growing list of token ids into text deltas without re-decoding everything.

    Decodes a short window (as vLLM does) and holds back text that ends in an
    incomplete UTF-8 sequence, so multi-byte characters never arrive split.
    """

    def __init__(self, tokenizer, prompt_ids: list[int]):
        self.tokenizer = tokenizer
        self.ids = list(prompt_ids[-_CONTEXT_TOKENS:])
        self.prefix = 0
        self.read = len(self.ids)

    def add(self, token: int) -> str:
        self.ids.append(token)
        return self._delta(final=False)

    def flush(self) -> str:
        return self._delta(final=True)

    def _delta(self, final: bool) -> str:
        decode = self.tokenizer.decode
        before = decode(self.ids[self.prefix : self.read], skip_special_tokens=True)
        text = decode(self.ids[self.prefix :], skip_special_tokens=True)
        if len(text) <= len(before) or (text.endswith("\ufffd") and not final):
            return ""
        self.prefix, self.read = self.read, len(self.ids)
        return text[len(before) :]
