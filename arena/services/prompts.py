"""Example prompts per modality (data/prompts/<modality>.txt): the page's Random prompt and simulations."""

from __future__ import annotations

from functools import cache

from arena.settings import DATA_DIR
from arena.vocabulary import Modality


@cache
def example_prompts(modality: Modality) -> tuple[str, ...]:
    path = DATA_DIR / "prompts" / f"{modality}.txt"
    if path.exists():
        prompts = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        if prompts:
            return prompts
    return (f"a {modality} example",)
