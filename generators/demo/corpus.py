"""The text corpus behind the demo text models, as n-gram tables built once per process."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from generators.protocol import ConfigError

CORPUS_DIR = Path(__file__).resolve().parents[2] / "data" / "corpus"
DEFAULT_CORPUS = "arena-essays.txt"
SENTENCE_END = (".", "!", "?")
START = "<s>"


def normalise(token: str) -> str:
    """The word inside a corpus token: "Sea," -> "sea"."""
    return token.strip(".,;:!?\"'()").lower()


@dataclass(frozen=True)
class NGrams:
    """Successor lists (repeats encode frequency, so `random.choice` samples by count)."""

    sentences: list[list[str]]
    unigrams: list[str]
    bigrams: dict[str, list[str]]
    trigrams: dict[tuple[str, str], list[str]]
    by_word: dict[str, list[tuple[int, int]]]  # word -> (sentence, position) occurrences


def resolve_corpus(name: str | None) -> Path:
    """The corpus file for a models-file `corpus` option, checked at start."""
    path = (CORPUS_DIR / (name or DEFAULT_CORPUS)).resolve()
    if not path.is_relative_to(CORPUS_DIR) or not path.is_file():
        raise ConfigError(f"demo corpus {name!r} is not a file under {CORPUS_DIR}")
    return path


@lru_cache(maxsize=8)
def load_ngrams(path: Path) -> NGrams:
    """Read and index a corpus; cached so requests never touch the disk."""
    tokens = path.read_text(encoding="utf-8").split()
    sentences: list[list[str]] = [[]]
    for token in tokens:
        sentences[-1].append(token)
        if token.endswith(SENTENCE_END):
            sentences.append([])
    sentences = [sentence for sentence in sentences if sentence]

    bigrams: dict[str, list[str]] = defaultdict(list)
    for first, second in zip(tokens, tokens[1:]):
        bigrams[first].append(second)
    trigrams: dict[tuple[str, str], list[str]] = defaultdict(list)
    by_word: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for index, sentence in enumerate(sentences):
        padded = [START, START, *sentence]
        for a, b, c in zip(padded, padded[1:], padded[2:]):
            trigrams[(a, b)].append(c)
        for position, token in enumerate(sentence):
            by_word[normalise(token)].append((index, position))
    return NGrams(sentences, tokens, dict(bigrams), dict(trigrams), dict(by_word))
