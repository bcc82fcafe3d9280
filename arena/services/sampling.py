"""Which two models meet in an anonymous battle.

Pairs are drawn with probability proportional to w_a * w_b (uniform over pairs when
all weights are equal), and the probability of the drawn unordered pair is kept
with the battle so rankings can reweight by inverse propensity later.
"""

from __future__ import annotations

import random
from itertools import combinations


def pair_weights(models: dict[str, float]) -> list[tuple[tuple[str, str], float]]:
    pairs = [((a, b), models[a] * models[b]) for a, b in combinations(sorted(models), 2)]
    return [(pair, weight) for pair, weight in pairs if weight > 0]


def draw_pair(models: dict[str, float], rng: random.Random) -> tuple[str, str, float]:
    """Return (left, right, probability of this unordered pair); left/right is a coin flip."""
    pairs = pair_weights(models)
    if not pairs:
        raise ValueError("fewer than two models with positive weight")
    total = sum(weight for _, weight in pairs)
    (a, b), weight = rng.choices(pairs, weights=[w for _, w in pairs], k=1)[0]
    if rng.random() < 0.5:
        a, b = b, a
    return a, b, weight / total
