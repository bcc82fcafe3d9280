"""Continuous batching: requests join the running batch at the next step and leave it at once.

The scheduler is driven one `step()` at a time here (no thread, no clock), so what the
tests see is the scheduler's own state after each step.
"""

from __future__ import annotations

import asyncio

import pytest
import torch

from generators.batching import DONE, Job
from generators.continuous import ContinuousScheduler, SchedulerLimits, TextSpec
from generators.protocol import FinishReason, GenerationRequest, OverloadedError, Usage

from .conftest import load, local_entries


@pytest.fixture(scope="module")
def lm(tiny_models):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_models["text"], dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_models["text"])


def scheduler(lm, max_batch_size: int = 8, max_queue: int = 8, kv_tokens: int | None = None) -> ContinuousScheduler:
    model, tokenizer = lm
    return ContinuousScheduler(
        model, tokenizer, torch.device("cpu"), SchedulerLimits(max_batch_size, max_queue, kv_tokens), "tiny-lm"
    )


def job(lm, prompt: str, max_new_tokens: int, temperature: float = 0.0, seed: int = 0) -> Job[TextSpec]:
    ids = lm[1](prompt)["input_ids"]
    return Job(TextSpec(ids, max_new_tokens, temperature, 1.0, seed))


def drain(job: Job[TextSpec]) -> tuple[str, Usage]:
    """Everything the scheduler delivered to a finished job: its text and final usage."""
    events = []
    while not job._events.empty():
        events.append(job._events.get_nowait())
    assert events and events[-1] is DONE
    text = "".join(e[1] if isinstance(e, tuple) else e for e in events if isinstance(e, (tuple, str)))
    usage = events[-2]
    assert isinstance(usage, Usage)
    return text, usage


async def settle() -> None:
    """Let the loop run the call_soon_threadsafe callbacks that deliver events."""
    for _ in range(3):
        await asyncio.sleep(0)


def greedy_generate(lm, prompt: str, max_new_tokens: int) -> list[int]:
    model, tokenizer = lm
    ids = torch.tensor([tokenizer(prompt)["input_ids"]])
    out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=max_new_tokens)
    new = out[0, ids.shape[1] :].tolist()
    return new[: new.index(2) + 1] if 2 in new else new  # generate pads after EOS


async def test_a_request_joins_the_running_batch_at_the_next_step(lm):
    sched = scheduler(lm)
    first = job(lm, "write a short poem about the sea", 40)
    sched.submit(first)
    for _ in range(3):
        assert sched.step()
    assert [row.job for row in sched.rows] == [first] and sched.steps == 3
    second = job(lm, "hi", 6)
    sched.submit(second)
    assert sched.queued() == 1
    sched.step()
    assert [row.job for row in sched.rows] == [first, second]
    assert [row.joined_step for row in sched.rows] == [0, 3]
    assert sched.queued() == 0 and sched.stats["joined_running_batch"] == 1
    while sched.step():
        pass
    await settle()
    # the latecomer's answer is the one it gets alone: left padding and merged caches change nothing
    for done, prompt, limit in ((first, "write a short poem about the sea", 40), (second, "hi", 6)):
        text, usage = drain(done)
        tokens = greedy_generate(lm, prompt, limit)
        assert usage.completion_tokens == len([t for t in tokens if t != 2])
        assert text == lm[1].decode([t for t in tokens if t != 2], skip_special_tokens=True)


async def test_a_finished_row_leaves_at_once_and_trims_the_cache(lm):
    sched = scheduler(lm)
    short, long = job(lm, "a red cube on a wooden table", 2), job(lm, "hi", 30)
    sched.submit(short)
    sched.submit(long)
    sched.step()
    assert len(sched.rows) == 2
    sched.step()  # the short one's second token: it is done and gone before the next forward pass
    assert [row.job for row in sched.rows] == [long]
    # the long prompt's padding columns are no longer kept for the short one
    assert sched._mask is not None and bool(sched._mask[:, 0].all())
    await settle()
    assert drain(short)[1].finish_reason == FinishReason.LENGTH


async def test_cancellation_frees_the_slot_for_a_waiting_request(lm):
    sched = scheduler(lm, max_batch_size=1)
    running, waiting = job(lm, "hello world", 50), job(lm, "sea", 5)
    sched.submit(running)
    sched.submit(waiting)
    sched.step()
    assert [row.job for row in sched.rows] == [running] and sched.queued() == 1
    running.cancelled = True  # the client went away
    sched.step()
    assert [row.job for row in sched.rows] == [waiting] and sched.queued() == 0
    while sched.step():
        pass
    assert sched.rows == [] and sched._cache is None


async def test_past_the_queue_limit_a_request_is_refused_with_a_retry_delay(lm):
    sched = scheduler(lm, max_batch_size=1, max_queue=2)
    for _ in range(2):
        sched.submit(job(lm, "hi", 5))
    with pytest.raises(OverloadedError) as refused:
        sched.submit(job(lm, "hi", 5))
    assert refused.value.retry_after_s >= 1 and sched.stats["refused"] == 1
    sched.step()  # one leaves the queue for the batch: there is room again
    sched.submit(job(lm, "hi", 5))
    assert sched.queued() == 2


async def test_admission_by_kv_budget(lm):
    sched = scheduler(lm, kv_tokens=60)
    first, second = job(lm, "hello world", 40), job(lm, "sea", 40)
    sched.submit(first)
    sched.submit(second)
    sched.step()
    assert [row.job for row in sched.rows] == [first] and sched.queued() == 1  # 2 x (prompt + 40) > 60
    first.cancelled = True
    sched.step()
    assert [row.job for row in sched.rows] == [second]


async def test_a_request_alone_equals_plain_generate(tiny_models, lm):
    generator = await load(local_entries(tiny_models, "float32")[0])
    try:
        for prompt in ("hello world", "a red cube on a table"):
            request = GenerationRequest.from_prompt("text", prompt, seed=7, max_tokens=24, options={"temperature": 0})
            output = await generator.generate(request)
            spec = generator._spec(request)
            ids = torch.tensor([spec.prompt_ids])
            expected = lm[0].generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=24)
            tokens = expected[0, ids.shape[1] :].tolist()
            tokens = tokens[: tokens.index(2)] if 2 in tokens else tokens
            assert output.text == lm[1].decode(tokens, skip_special_tokens=True)
            assert output.completion_tokens == len(tokens)
        health = generator.health()
        assert health["running"] == 0 and health["queued"] == 0 and health["ttft_count"] == 2
        assert health["ttft_p50_ms"] is not None and health["ttft_p99_ms"] >= health["ttft_p50_ms"]
    finally:
        await generator.close()


async def test_a_seeded_sampled_request_repeats_alone(tiny_models):
    generator = await load(local_entries(tiny_models, "float32")[0])
    try:
        request = GenerationRequest.from_prompt("text", "sea", seed=11, max_tokens=16, options={"temperature": 1.0})
        first, again = await generator.generate(request), await generator.generate(request)
        assert first.text == again.text
    finally:
        await generator.close()


async def test_gpt2_with_learned_positions_gets_the_lone_answers_too():
    from transformers import GPT2Config, GPT2LMHeadModel

    from .conftest import train_tokenizer

    tokenizer = train_tokenizer(128)
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=128, n_embd=32, n_layer=2, n_head=4, bos_token_id=1, eos_token_id=2
    )
    gpt2 = (GPT2LMHeadModel(config).eval(), tokenizer)
    sched = scheduler(gpt2)
    prompts = ["hello world", "a red cube on a wooden table", "hi"]
    jobs = [job(gpt2, prompt, 20) for prompt in prompts]
    sched.submit(jobs[0])
    sched.step()
    sched.step()
    sched.submit(jobs[1])
    sched.submit(jobs[2])
    sched.step()
    assert [row.joined_step for row in sched.rows] == [0, 2, 2]
    while sched.step():
        pass
    await settle()
    for prompt, done in zip(prompts, jobs, strict=True):
        tokens = [t for t in greedy_generate(gpt2, prompt, 20) if t != 2]
        assert drain(done)[0] == tokenizer.decode(tokens, skip_special_tokens=True)


async def test_a_prefill_that_fails_fails_only_the_newcomers(lm):
    sched = scheduler(lm)
    running = job(lm, "write a short poem about the sea", 10)
    sched.submit(running)
    sched.step()
    broken = Job(TextSpec([10**6], 5, 0.0, 1.0, 0))  # a token id past the embedding table
    sched.submit(broken)
    sched.step()
    assert [row.job for row in sched.rows] == [running]
    while sched.step():
        pass
    await settle()
    with pytest.raises(IndexError):
        await broken.get()
    usage = drain(running)[1]
    assert usage.completion_tokens == len(
        [t for t in greedy_generate(lm, "write a short poem about the sea", 10) if t != 2]
    )
