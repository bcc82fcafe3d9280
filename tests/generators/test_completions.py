"""Stop strings and n choices, built above the engine on any generator's text stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from generators.completions import Choice, StopCutter, choice_requests, derive_seed, gather_or_cancel, merge
from generators.protocol import FinishReason, GenerationRequest, Generator, GeneratorError, InvalidRequestError, Usage


def cut(stops: list[str], chunks: list[str]) -> tuple[list[str], bool]:
    cutter = StopCutter(stops)
    out = [cutter.feed(chunk) for chunk in chunks]
    if not cutter.stopped:
        out.append(cutter.flush())
    return [part for part in out if part], cutter.stopped


@pytest.mark.parametrize(
    "stops, chunks, emitted, stopped",
    [
        (["END"], ["Hello wor", "ld END and more"], ["Hello wor", "ld "], True),
        (["END"], ["Hello E", "N", "D more"], ["Hello "], True),  # split over three chunks
        (["END"], ["Hello E", "N", "X"], ["Hello ", "ENX"], False),  # held back, then released
        (["END"], ["no stop at all E"], ["no stop at all ", "E"], False),  # held, flushed at the end
        (["aab"], ["a", "a", "a", "b", "zzz"], ["a"], True),  # overlapping prefixes
        (["xyz", "b"], ["aaab", "xyz"], ["aaa"], True),  # the earliest of several
        (["\n\n", "User:"], ["Sure.\n", "\nUser: hi"], ["Sure."], True),
        (["stop"], ["stop right away"], [], True),
        ([], ["a", "b"], ["a", "b"], False),
    ],
)
def test_stop_cutter(stops, chunks, emitted, stopped):
    assert cut(stops, chunks) == (emitted, stopped)


def test_nothing_past_a_stop_is_ever_emitted():
    text = "the cat sat on the mat; the end"
    for size in range(1, 8):
        chunks = [text[i : i + size] for i in range(0, len(text), size)]
        emitted, stopped = cut(["on the", "mat"], chunks)
        assert "".join(emitted) == "the cat sat " and stopped


def test_derived_seeds():
    assert derive_seed(7, 0) == 7
    assert derive_seed(7, 1) == derive_seed(7, 1) != derive_seed(7, 2) != derive_seed(8, 1)
    assert all(0 <= derive_seed(-3, index) < 2**63 for index in range(1, 50))
    request = GenerationRequest.from_prompt("text", "hi", seed=5)
    assert [r.seed for r in choice_requests(request, 3)] == [5, derive_seed(5, 1), derive_seed(5, 2)]
    assert choice_requests(request, 1) == [request]
    unseeded = choice_requests(GenerationRequest.from_prompt("text", "hi"), 3)
    assert len({r.seed for r in unseeded}) == 3 and None not in {r.seed for r in unseeded}


class Words(Generator):
    """Streams words with a running token count, and notes whether its stream was closed early."""

    def __init__(self, words: list[str], fail_after: int | None = None, refuse: bool = False):
        super().__init__("words", "text")
        self.words, self.fail_after, self.refuse = words, fail_after, refuse
        self.produced = 0
        self.closed_early = False

    async def _stream_text(self, request: GenerationRequest) -> AsyncIterator[str | Usage]:
        if self.refuse:
            raise InvalidRequestError("too long", param="messages", code="context_length_exceeded")
        done = False
        try:
            for index, word in enumerate(self.words[: request.max_tokens]):
                if self.fail_after is not None and index == self.fail_after:
                    raise GeneratorError("broke")
                await asyncio.sleep(0)
                self.produced += 1
                yield Usage(2, index + 1)
                yield word
            finish = FinishReason.LENGTH if request.max_tokens < len(self.words) else FinishReason.STOP
            yield Usage(2, min(request.max_tokens, len(self.words)), finish)
            done = True
        finally:  # closed (GeneratorExit) or cancelled: like hf_text, the row stops here
            self.closed_early = not done


WORDS = ["one ", "two ", "three ", "four ", "five ", "six ", "seven ", "eight "]


async def test_a_stop_string_ends_the_engines_stream_and_counts_its_tokens():
    engine = Words(WORDS)
    result = await Choice(engine, GenerationRequest.from_prompt("text", "count"), ["ree f"]).collect()
    assert result.text == "one two th" and result.finish_reason == FinishReason.STOP
    assert (result.prompt_tokens, result.completion_tokens) == (2, 4)
    assert engine.closed_early and engine.produced == 4


async def test_without_a_stop_the_engines_finish_reason_stands():
    request = GenerationRequest.from_prompt("text", "count", max_tokens=3)
    result = await Choice(Words(WORDS), request, ["never"]).collect()
    assert (result.text, result.finish_reason, result.completion_tokens) == ("one two three ", FinishReason.LENGTH, 3)
    result = await Choice(Words(WORDS[:2]), GenerationRequest.from_prompt("text", "count")).collect()
    assert (result.text, result.finish_reason) == ("one two ", FinishReason.STOP)


async def test_start_raises_a_refusal_before_anything_is_streamed():
    choice = Choice(Words(WORDS, refuse=True), GenerationRequest.from_prompt("text", "x"))
    with pytest.raises(InvalidRequestError):
        await choice.start()


async def test_merge_interleaves_choices_and_reports_each_end():
    choices = [
        Choice(Words(WORDS[:3]), GenerationRequest.from_prompt("text", "x"), index=0),
        Choice(Words(WORDS[:2]), GenerationRequest.from_prompt("text", "x"), ["two"], index=1),
    ]
    events = [event async for event in merge(choices)]
    texts = {0: "", 1: ""}
    for index, text in events:
        texts[index] += text or ""
    assert texts == {0: "one two three ", 1: "one "}
    assert sorted(index for index, text in events if text is None) == [0, 1]


async def test_merge_fails_fast_and_stops_the_others():
    slow = Words(WORDS * 50)
    choices = [
        Choice(slow, GenerationRequest.from_prompt("text", "x", max_tokens=400), index=0),
        Choice(Words(WORDS, fail_after=2), GenerationRequest.from_prompt("text", "x"), index=1),
    ]
    with pytest.raises(GeneratorError, match="broke"):
        async for _ in merge(choices):
            pass
    assert slow.closed_early and slow.produced < 400


async def test_gather_or_cancel_cancels_the_rest():
    cancelled = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def fails() -> None:
        await asyncio.sleep(0)
        raise GeneratorError("no")

    with pytest.raises(GeneratorError):
        await gather_or_cancel([forever(), fails()])
    assert cancelled.is_set()
