"""Continuous batching for a transformers causal LM: requests join and leave at every decode step.

A static batch makes a request that arrives mid-batch wait for the whole batch to end;
here each `step()` first drops rows whose caller went away, admits waiting requests
(their prompts prefilled together, their KV cache merged into the running one), then
samples one token for every row, streams it, drops the rows that finished, and runs one
decode forward for the rest. A new request therefore starts at the next step, and a
finished or cancelled one frees its slot at once.

Why our own scheduler and not transformers' `ContinuousBatchingManager`: in the release
we run (5.24) it samples with one `torch.multinomial` over the global generator and a
manager-wide `do_sample`, so it can neither give a request the answer its seed gives
alone nor mix greedy and sampled requests in one batch, and on CPU its set-up costs
about 15 s. Its paged KV cache is what we lack: the cache here is one left-padded
tensor per layer (rows of different lengths share it with padding; columns no row needs
any more are trimmed as long rows leave). Admission counts each request's prompt plus
its `max_tokens` against a KV budget in tokens, not the padding.

Sampling is seeded per request: each row draws one uniform number per step from its own
generator, so a token depends on that row's logits and seed alone. A request run alone
is reproducible; in a batch its logits can differ from its lone run by float rounding
(padding and batch shape change the summation order), which can flip a near tie.

The scheduler runs on the model's own thread (`run`); `submit` and `Job.cancelled` are
the only things other threads touch, under a lock or as a plain flag.
"""

from __future__ import annotations

import inspect
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch

from generators.batching import DONE, Job
from generators.latency import LatencyWindow
from generators.protocol import FinishReason, GeneratorError, OverloadedError, Usage

_CONTEXT_TOKENS = 5  # prompt tokens kept as decoding context so a chunk's leading space survives


@dataclass(frozen=True)
class TextSpec:
    """One request, reduced to what the step loop needs."""

    prompt_ids: list[int]
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int

    @property
    def kv_tokens(self) -> int:
        """The most cache positions this request can ever hold."""
        return len(self.prompt_ids) + self.max_new_tokens


@dataclass
class Row:
    """A running request: its job, sampler, detokenizer and progress."""

    job: Job[TextSpec]
    rng: torch.Generator
    detok: Detokenizer
    submitted: float
    joined_step: int
    position: int  # the position id of the next token fed to the model
    produced: int = 0
    first_token_at: float | None = None


@dataclass
class SchedulerLimits:
    max_batch_size: int  # rows decoded together
    max_queue: int  # requests waiting for a row; one more is refused (429)
    kv_tokens: int | None  # KV cache positions the running rows may reserve; None: no limit


@dataclass
class _Waiting:
    job: Job[TextSpec]
    submitted: float = field(default_factory=time.monotonic)


class ContinuousScheduler:
    """The step loop over one model; `step()` is public so tests can drive it one step at a time."""

    def __init__(self, model: Any, tokenizer: Any, device: torch.device, limits: SchedulerLimits, name: str):
        self.model = model
        self.device = device
        self.limits = limits
        self.name = name
        self.tokenizer = tokenizer
        # transformers renamed `past_key_values` to `cache` (5.2x warns, later releases drop the old name)
        self._cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
        self.eos = _eos_ids(model, tokenizer)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else next(iter(self.eos), 0)
        self.rows: list[Row] = []
        self.steps = 0
        self.stats = {"requests": 0, "prefills": 0, "forward_passes": 0, "joined_running_batch": 0, "refused": 0}
        self.ttft = LatencyWindow()
        self.queue_wait = LatencyWindow()
        self.durations = LatencyWindow()
        self._waiting: deque[_Waiting] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = False
        self._cache: Any = None  # a DynamicCache over the running rows
        self._mask: torch.Tensor | None = None  # [rows, width]: 1 where a cache column holds a real token
        self._logits: torch.Tensor | None = None  # [rows, vocab]: what the next token is sampled from

    # ---- other threads ----------------------------------------------------------

    def submit(self, job: Job[TextSpec]) -> None:
        """Queue a request for the next step; OverloadedError when `max_queue` are already waiting."""
        with self._lock:
            if len(self._waiting) >= self.limits.max_queue:
                self._waiting = deque(w for w in self._waiting if not w.job.cancelled)
            if len(self._waiting) >= self.limits.max_queue:
                self.stats["refused"] += 1
                raise OverloadedError(
                    f"{self.name} is busy: {len(self._waiting)} requests are waiting; try again shortly",
                    retry_after_s=self.retry_after_s(),
                )
            self._waiting.append(_Waiting(job))
            self.stats["requests"] += 1
        self._wake.set()

    def queued(self) -> int:
        with self._lock:
            return sum(1 for w in self._waiting if not w.job.cancelled)

    def retry_after_s(self) -> int:
        """About when a slot frees: the median request duration of the last minute (1 to 60 s)."""
        durations = sorted(self.durations.values())
        typical = durations[len(durations) // 2] if durations else 1.0
        return min(60, max(1, math.ceil(typical)))

    def health(self) -> dict[str, Any]:
        return {
            **self.stats,
            "steps": self.steps,
            "running": len(self.rows),
            "queued": self.queued(),
            "max_batch_size": self.limits.max_batch_size,
            "max_queue": self.limits.max_queue,
            "kv_tokens_budget": self.limits.kv_tokens,
            **self.ttft.summary("ttft"),
            **self.queue_wait.summary("queue_wait"),
        }

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    # ---- the model's thread -----------------------------------------------------

    def run(self) -> None:
        """Step while there is work, sleep while there is none, until `stop()`."""
        while not self._stopping:
            self._wake.clear()
            try:
                busy = self.step()
            except Exception as exc:  # every caller hears about it; the loop lives on
                self._fail_all(exc)
                busy = False
            if not busy:
                with self._lock:
                    idle = not self._waiting
                if idle:
                    self._wake.wait()
        self._fail_all(GeneratorError(f"{self.name} was shut down"))

    @torch.inference_mode()
    def step(self) -> bool:
        """One decode step for every row; False when there was nothing to do."""
        self._keep([row for row in self.rows if not row.job.cancelled])
        self._admit()
        if not self.rows:
            return False
        assert self._logits is not None
        uniforms = torch.tensor([torch.rand((), generator=row.rng).item() for row in self.rows], device=self.device)
        temperature = torch.tensor([row.job.payload.temperature for row in self.rows], device=self.device)
        top_p = torch.tensor([row.job.payload.top_p for row in self.rows], device=self.device)
        tokens = sample(self._logits, temperature, top_p, uniforms).tolist()
        going: list[Row] = []
        fed: list[int] = []
        for row, token in zip(self.rows, tokens, strict=True):
            if self._emit(row, token):
                going.append(row)
                fed.append(token)
        self._keep(going)
        self.steps += 1
        if self.rows:
            self._decode(fed)
        return True

    def _emit(self, row: Row, token: int) -> bool:
        """Stream `token` for `row`; False once the row is done."""
        spec = row.job.payload
        if row.first_token_at is None:
            row.first_token_at = time.monotonic()
            self.ttft.add(row.first_token_at - row.submitted)
        if token in self.eos:
            self._finish(row, FinishReason.STOP)
            return False
        row.produced += 1
        chunk = row.detok.add(token)
        if chunk:  # with the running count, so a consumer that stops at this chunk knows it
            row.job.put((Usage(len(spec.prompt_ids), row.produced), chunk))
        if row.produced >= spec.max_new_tokens:  # max_tokens, or the context window is full
            self._finish(row, FinishReason.LENGTH)
            return False
        return True

    def _finish(self, row: Row, reason: FinishReason) -> None:
        tail = row.detok.flush()
        if tail:
            row.job.put(tail)
        row.job.put(Usage(len(row.job.payload.prompt_ids), row.produced, reason))
        row.job.put(DONE)
        self.durations.add(time.monotonic() - row.submitted)

    def _admit(self) -> None:
        """Move waiting requests into the batch while rows and KV budget allow; prefill them together."""
        reserved = sum(row.job.payload.kv_tokens for row in self.rows)
        joining: list[_Waiting] = []
        with self._lock:
            while self._waiting and len(self.rows) + len(joining) < self.limits.max_batch_size:
                waiting = self._waiting[0]
                if waiting.job.cancelled:
                    self._waiting.popleft()
                    continue
                need = waiting.job.payload.kv_tokens
                budget = self.limits.kv_tokens
                if budget is not None and reserved + need > budget and (self.rows or joining):
                    break  # first come, first served: it waits for rows to leave
                self._waiting.popleft()
                joining.append(waiting)
                reserved += need
        if not joining:
            return
        if self.rows:
            self.stats["joined_running_batch"] += len(joining)
        admitted = time.monotonic()
        for waiting in joining:
            self.queue_wait.add(admitted - waiting.submitted)
        specs = [waiting.job.payload for waiting in joining]
        width = max(len(spec.prompt_ids) for spec in specs)
        input_ids = torch.full((len(specs), width), self.pad, dtype=torch.long)
        mask = torch.zeros((len(specs), width), dtype=torch.long)
        for index, spec in enumerate(specs):
            input_ids[index, width - len(spec.prompt_ids) :] = torch.tensor(spec.prompt_ids)
            mask[index, width - len(spec.prompt_ids) :] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        try:
            out = self.model(
                input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=True, logits_to_keep=1
            )
            cache = getattr(out, self._cache_arg)
            _check_cache(cache)
        except Exception as exc:  # the newcomers fail (a prompt that runs out of memory); running rows go on
            for waiting in joining:
                waiting.job.put(exc)
            return
        self.stats["prefills"] += 1
        self.stats["forward_passes"] += 1
        new_rows = [
            Row(
                job=waiting.job,
                rng=torch.Generator().manual_seed(waiting.job.payload.seed),
                detok=Detokenizer(self.tokenizer, waiting.job.payload.prompt_ids),
                submitted=waiting.submitted,
                joined_step=self.steps,
                position=len(waiting.job.payload.prompt_ids),
            )
            for waiting in joining
        ]
        self._merge(new_rows, cache, mask, out.logits[:, -1, :])

    def _merge(self, rows: list[Row], cache: Any, mask: torch.Tensor, logits: torch.Tensor) -> None:
        """Append prefilled rows to the running batch, left-padding the narrower cache."""
        if not self.rows:
            self.rows, self._cache, self._mask, self._logits = rows, cache, mask, logits
            return
        assert self._mask is not None and self._logits is not None
        width = max(self._mask.shape[1], mask.shape[1])
        for old, new in zip(self._cache.layers, cache.layers, strict=True):
            old.keys = torch.cat([_left_pad(old.keys, width), _left_pad(new.keys, width)])
            old.values = torch.cat([_left_pad(old.values, width), _left_pad(new.values, width)])
        self._mask = torch.cat([_left_pad(self._mask, width), _left_pad(mask, width)])
        self._logits = torch.cat([self._logits, logits])
        self.rows = self.rows + rows

    def _keep(self, rows: list[Row]) -> None:
        """Shrink the batch to `rows` (a subsequence of the running rows), trimming unused columns."""
        if len(rows) == len(self.rows):
            return
        if not rows:
            self.rows, self._cache, self._mask, self._logits = [], None, None, None
            return
        assert self._mask is not None and self._logits is not None
        positions = {id(row): index for index, row in enumerate(self.rows)}
        keep = torch.tensor([positions[id(row)] for row in rows], device=self.device)
        mask = self._mask.index_select(0, keep)
        start = int(mask.any(0).nonzero()[0])  # columns before it are padding in every remaining row
        self._mask = mask[:, start:]
        self._logits = self._logits.index_select(0, keep)
        for layer in self._cache.layers:
            layer.keys = layer.keys.index_select(0, keep)[:, :, start:]
            layer.values = layer.values.index_select(0, keep)[:, :, start:]
        self.rows = rows

    def _decode(self, tokens: list[int]) -> None:
        assert self._mask is not None
        self._mask = torch.cat([self._mask, self._mask.new_ones((len(self.rows), 1))], dim=1)
        positions = torch.tensor([[row.position] for row in self.rows], device=self.device)
        out = self.model(
            input_ids=torch.tensor(tokens, device=self.device)[:, None],
            attention_mask=self._mask,
            position_ids=positions,
            use_cache=True,
            **{self._cache_arg: self._cache},
        )
        self.stats["forward_passes"] += 1
        self._cache = getattr(out, self._cache_arg)
        self._logits = out.logits[:, -1, :]
        for row in self.rows:
            row.position += 1

    def _fail_all(self, exc: BaseException) -> None:
        with self._lock:
            waiting = [w.job for w in self._waiting]
            self._waiting.clear()
        for job in [row.job for row in self.rows] + waiting:
            job.put(exc)
        self.rows, self._cache, self._mask, self._logits = [], None, None, None


def _left_pad(tensor: torch.Tensor, width: int) -> torch.Tensor:
    """Zeros on the left of the sequence axis (-1 for a mask, -2 for keys and values) up to `width`."""
    axis = -1 if tensor.dim() == 2 else -2
    missing = width - tensor.shape[axis]
    if missing == 0:
        return tensor
    shape = list(tensor.shape)
    shape[axis] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=axis)


def _check_cache(cache: Any) -> None:
    """Rows are merged by concatenating plain per-layer tensors; sliding-window or static caches differ."""
    from transformers.cache_utils import DynamicLayer

    if any(type(layer) is not DynamicLayer for layer in getattr(cache, "layers", [None])):
        raise GeneratorError(
            "this model's KV cache is not a plain dynamic cache, which continuous batching needs",
            detail=f"cache {type(cache).__name__} with layers {[type(x).__name__ for x in cache.layers]}",
        )


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids = getattr(model.generation_config, "eos_token_id", None)
    ids = ids if isinstance(ids, list) else [ids]
    return {i for i in ids + [tokenizer.eos_token_id] if i is not None}


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

    def __init__(self, tokenizer: Any, prompt_ids: list[int]):
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
