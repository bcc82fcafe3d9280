"""Demo text models: n-gram samplers of increasing order over the shipped corpus.

Quality 1 draws words independently (unigram salad), quality 2 follows a bigram
chain that wanders across sentences, quality 3 writes whole sentences with a
trigram model, each one anchored on a keyword of the latest user message.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

from generators.config import DemoEntry
from generators.demo.base import DemoGenerator, request_rng
from generators.demo.corpus import SENTENCE_END, START, NGrams, load_ngrams, normalise, resolve_corpus
from generators.demo.vocabulary import keywords, lookup
from generators.protocol import FinishReason, GenerationRequest, Usage

MAX_SENTENCE = 40


class DemoTextGenerator(DemoGenerator):
    def __init__(self, entry: DemoEntry):
        super().__init__(entry)
        self.corpus = resolve_corpus(entry.options.corpus)

    async def load(self) -> None:
        load_ngrams(self.corpus)

    async def _stream_text(self, request: GenerationRequest) -> AsyncIterator[str | Usage]:
        self.check_fail()
        answer = compose(load_ngrams(self.corpus), self.quality, request)
        tokens = answer[: max(1, request.max_tokens)]
        finish = FinishReason.LENGTH if len(tokens) < len(answer) else FinishReason.STOP
        prompt_tokens = sum(len(message.content.split()) for message in request.messages)
        delay = self.options.token_delay_ms / 1000
        for index, token in enumerate(tokens):
            await asyncio.sleep(delay)  # sleep(0) still yields, so two streams interleave
            yield Usage(prompt_tokens, index + 1)  # running count, for a consumer that stops early
            yield token if index == 0 else " " + token
        yield Usage(prompt_tokens, len(tokens), finish)


def compose(ngrams: NGrams, quality: int, request: GenerationRequest) -> list[str]:
    """The whole answer as tokens (before max_tokens), deterministic for the conversation and seed."""
    rng = request_rng(request)
    topic = [word for word in (lookup(w, ngrams.by_word) for w in keywords(request.prompt)) if word]
    if quality == 1:
        tokens = unigram_salad(ngrams, rng, topic, rng.randint(25, 35))
    elif quality == 2:
        tokens = bigram_ramble(ngrams, rng, topic, rng.randint(40, 55))
    else:
        tokens = trigram_answer(ngrams, rng, topic, rng.randint(55, 75))
    return tokens


def unigram_salad(ngrams: NGrams, rng: random.Random, topic: list[str], length: int) -> list[str]:
    """Words drawn by frequency alone, after the prompt's first keywords."""
    tokens = topic[:2]
    while len(tokens) < length:
        word = normalise(rng.choice(ngrams.unigrams))
        if word:
            tokens.append(word)
    return tokens


def bigram_ramble(ngrams: NGrams, rng: random.Random, topic: list[str], length: int) -> list[str]:
    """A bigram chain from a keyword: locally plausible, globally aimless."""
    if topic:
        sentence, position = rng.choice(ngrams.by_word[topic[0]])
        token = ngrams.sentences[sentence][position]
    else:
        token = rng.choice(ngrams.sentences)[0]
    tokens = [token[:1].upper() + token[1:]]
    # run on to the next full stop so the answer does not end mid-phrase
    while len(tokens) < length or not tokens[-1].endswith(SENTENCE_END):
        token = rng.choice(ngrams.bigrams.get(token) or [ngrams.sentences[0][0]])
        tokens.append(token)
        if len(tokens) > length + 20:
            tokens[-1] = tokens[-1].rstrip(",;:") + "."
            break
    return tokens


def trigram_answer(ngrams: NGrams, rng: random.Random, topic: list[str], length: int) -> list[str]:
    """Trigram sentences, each begun from a real sentence that uses a prompt keyword.

    The prefix up to the keyword is kept verbatim, so every sentence is on topic
    and starts grammatically; the trigram chain then finishes it, preferring
    continuations that mention the other keywords.
    """
    targets = set(topic)
    used: set[int] = set()
    tokens: list[str] = []
    turn = 0
    while len(tokens) < length:
        occurrences = ngrams.by_word[topic[turn % len(topic)]] if topic else []
        fresh = [hit for hit in occurrences if hit[0] not in used]
        if fresh:
            sentence, position = rng.choice(fresh)
        else:
            sentence, position = rng.randrange(len(ngrams.sentences)), 0
        used.add(sentence)
        prefix = ngrams.sentences[sentence][: position + 1]
        tokens.extend(_finish_sentence(ngrams, rng, prefix, targets))
        turn += 1
    return tokens


def _finish_sentence(ngrams: NGrams, rng: random.Random, prefix: list[str], targets: set[str]) -> list[str]:
    sentence = list(prefix)
    while not sentence[-1].endswith(SENTENCE_END):
        if len(sentence) >= MAX_SENTENCE:
            sentence[-1] = sentence[-1].rstrip(",;:") + "."
            break
        before, last = ([START, START] + sentence)[-2:]
        options = ngrams.trigrams.get((before, last))
        if not options:
            sentence[-1] = sentence[-1].rstrip(",;:") + "."
            break
        on_topic = [option for option in options if normalise(option) in targets]
        sentence.append(rng.choice(on_topic if on_topic and rng.random() < 0.6 else options))
    return sentence
