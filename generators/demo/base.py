"""What every demo model shares: its options, its configured failure, its seed."""

from __future__ import annotations

import random

from generators.config import DemoEntry
from generators.protocol import GenerationRequest, Generator, GeneratorError


class DemoGenerator(Generator):
    """A demo model of one modality at one quality level (1 crude .. 3 best)."""

    def __init__(self, entry: DemoEntry):
        super().__init__(entry.name, entry.modality)
        self.options = entry.options
        self.quality = entry.options.quality

    def check_fail(self) -> None:
        """Fail like a broken backend would, so operators and tests can see a failed battle."""
        if self.options.fail:
            raise GeneratorError(f"demo model {self.name} is configured to fail")


def request_rng(request: GenerationRequest) -> random.Random:
    """A generator seeded by the request's seed and whole conversation.

    The same conversation and seed always give the same output (a battle can be
    replayed); without a seed the conversation alone decides, and a different prompt
    with the same seed still gives a different output. String seeds are hashed with
    SHA-512 by `random`, so this does not depend on PYTHONHASHSEED.
    """
    turns = "\x1e".join(f"{message.role}\x1f{message.content}" for message in request.messages)
    return random.Random(f"{request.seed}\x1d{turns}")
