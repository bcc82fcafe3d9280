"""Pair sampling: P(pair) = w_a*w_b / sum over pairs, a fair left/right coin, and no zero-weight models.

Every random test uses a seeded random.Random, so it gives the same answer on every run;
the statistical bounds below are chosen so that a correct sampler passes them easily.
"""

from __future__ import annotations

import random
from collections import Counter
from itertools import combinations
from math import comb, sqrt

import pytest

from arena.services.sampling import draw_pair, pair_weights

WEIGHTS = {"alpha": 1.0, "beta": 2.0, "gamma": 3.0, "delta": 0.5, "ghost": 0.0}
DRAWS = 20_000
# chi-square critical value at p = 0.001 for 5 degrees of freedom (the 6 positive pairs above)
CHI2_DF5_P001 = 20.515


def expected_probabilities(models: dict[str, float]) -> dict[frozenset[str], float]:
    products = {frozenset((a, b)): models[a] * models[b] for a, b in combinations(models, 2)}
    total = sum(products.values())
    return {pair: weight / total for pair, weight in products.items() if weight > 0}


def draws(models: dict[str, float], n: int = DRAWS, seed: int = 20240601) -> list[tuple[str, str, float]]:
    rng = random.Random(seed)
    return [draw_pair(models, rng) for _ in range(n)]


def test_pair_weights_are_products_over_sorted_unordered_pairs_without_zero_weights():
    weights = dict(pair_weights(WEIGHTS))
    assert weights == {
        ("alpha", "beta"): 2.0,
        ("alpha", "delta"): 0.5,
        ("alpha", "gamma"): 3.0,
        ("beta", "delta"): 1.0,
        ("beta", "gamma"): 6.0,
        ("delta", "gamma"): 1.5,
    }


def test_returned_probability_is_the_pair_product_over_the_sum_of_all_pair_products():
    expected = expected_probabilities(WEIGHTS)
    assert sum(expected.values()) == pytest.approx(1.0)
    for left, right, probability in draws(WEIGHTS, n=500):
        assert probability == pytest.approx(expected[frozenset((left, right))])


def test_equal_weights_give_uniform_pair_probabilities():
    models = {f"m{i}": 1.0 for i in range(7)}
    for _, _, probability in draws(models, n=200):
        assert probability == pytest.approx(1 / comb(7, 2))


def test_empirical_pair_frequencies_match_the_probabilities():
    expected = expected_probabilities(WEIGHTS)
    observed = Counter(frozenset((left, right)) for left, right, _ in draws(WEIGHTS))
    assert set(observed) <= set(expected)
    chi2 = sum((observed[pair] - DRAWS * p) ** 2 / (DRAWS * p) for pair, p in expected.items())
    assert chi2 < CHI2_DF5_P001, (chi2, observed)
    # and no single pair strays more than 4 standard deviations
    for pair, p in expected.items():
        assert abs(observed[pair] - DRAWS * p) < 4 * sqrt(DRAWS * p * (1 - p)), (pair, observed[pair], DRAWS * p)


def test_left_and_right_are_a_fair_coin():
    results = draws(WEIGHTS)
    first_on_left = sum(left < right for left, right, _ in results)
    assert abs(first_on_left - DRAWS / 2) < 4 * sqrt(DRAWS / 4)
    # per model too: each appears on the left about half of the times it is drawn
    appearances = Counter(name for left, right, _ in results for name in (left, right))
    on_left = Counter(left for left, _, _ in results)
    for name, n in appearances.items():
        assert abs(on_left[name] - n / 2) < 4 * sqrt(n / 4), (name, on_left[name], n)


def test_zero_weight_models_are_never_drawn():
    models = {"a": 1.0, "b": 0.0, "c": 1.0, "d": 0.0, "e": 2.0}
    names = {name for left, right, _ in draws(models, n=2000) for name in (left, right)}
    assert names == {"a", "c", "e"}


def test_two_positive_models_always_meet_with_probability_one():
    for left, right, probability in draws({"x": 0.3, "y": 5.0, "z": 0.0}, n=200):
        assert {left, right} == {"x", "y"}
        assert probability == pytest.approx(1.0)


@pytest.mark.parametrize("models", [{}, {"solo": 1.0}, {"a": 1.0, "b": 0.0}, {"a": 0.0, "b": 0.0, "c": 0.0}])
def test_fewer_than_two_positive_weight_models_raise_value_error(models):
    assert pair_weights(models) == []
    with pytest.raises(ValueError, match="fewer than two"):
        draw_pair(models, random.Random(0))


def test_the_two_names_always_differ():
    for models in (WEIGHTS, {"a": 1.0, "b": 1.0}, {f"m{i}": float(i % 3) for i in range(10)}):
        assert all(left != right for left, right, _ in draws(models, n=2000))


def test_the_same_seed_gives_the_same_draws():
    assert draws(WEIGHTS, n=300, seed=7) == draws(WEIGHTS, n=300, seed=7)
