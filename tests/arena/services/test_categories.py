"""Prompt categories: keyword rules per modality, whole words only, first matching rule wins."""

from __future__ import annotations

import pytest

from arena.services.categories import OTHER, RULES, categorise


@pytest.mark.parametrize(
    ("modality", "prompt", "category"),
    [
        ("text", "Write a Python function that reverses a list", "coding"),
        ("text", "Why does this SQL query return duplicates?", "coding"),
        ("text", "Solve the equation 3x + 2 = 11", "math"),
        ("text", "What is the sum of the first 100 integers?", "math"),
        ("text", "Write a poem about autumn rain", "creative"),
        ("text", "Compose a haiku on winter", "creative"),
        ("text", "How do I keep basil alive indoors?", "advice"),
        ("text", "Should I learn the piano or the guitar?", "advice"),
        ("text", "What is the capital of Mongolia?", "knowledge"),
        ("text", "Explain tides to a child.", "knowledge"),
        ("text", "Hello there!", OTHER),
        ("image", "A misty mountain at dawn", "nature"),
        ("image", "A fox curled up asleep", "animals"),
        ("image", "A gothic castle on a hill", "architecture"),
        ("image", "A red vintage car", "objects"),
        ("image", "An abstract swirl of neon colours", OTHER),
        ("3d", "A wooden desk with two drawers", "furniture"),
        ("3d", "A low-poly rocket", "vehicles"),
        ("3d", "A cheerful snowman", "characters"),
        ("3d", "A ceramic vase", "objects"),
        ("3d", "A blob", OTHER),
    ],
)
def test_golden_prompts(modality, prompt, category):
    assert categorise(modality, prompt) == category


@pytest.mark.parametrize(
    ("modality", "prompt"),
    [
        ("image", "a scatter of confetti"),  # not "cat"
        ("image", "concatenated shapes"),  # not "cat"
        ("image", "a category diagram"),  # not "cat"
        ("image", "carpet patterns"),  # not "car"
        ("image", "sunny skyline"),  # not "sun", not "sky"
        ("text", "decode the message"),  # not "code"
        ("text", "a bugle call"),  # not "bug"
        ("text", "improve programmer morale"),  # not "program"
        ("3d", "a boxer"),  # not "box"
    ],
)
def test_keywords_match_whole_words_only(modality, prompt):
    assert categorise(modality, prompt) == OTHER


@pytest.mark.parametrize(
    ("modality", "prompt", "category"),
    [
        ("image", "Cat.", "animals"),
        ("image", "the cat's whiskers", "animals"),
        ("image", "(dog)", "animals"),
        ("text", "python!", "coding"),
    ],
)
def test_punctuation_is_a_word_boundary(modality, prompt, category):
    assert categorise(modality, prompt) == category


@pytest.mark.parametrize(
    "prompt",
    [
        "WHAT IS the answer",
        "What Is the answer",
        "  what   is  the answer  ",
        "what\tis\nthe answer",
        "\n\nwhat is",
    ],
)
def test_case_and_whitespace_do_not_matter(prompt):
    assert categorise("text", prompt) == "knowledge"


@pytest.mark.parametrize("prompt", ["the sum of two numbers", "the SUM   OF two numbers", "the sum\n\tof two numbers"])
def test_multi_word_keywords_survive_any_whitespace(prompt):
    assert categorise("text", prompt) == "math"


@pytest.mark.parametrize(
    ("modality", "prompt", "category"),
    [
        ("text", "Write a Python poem", "coding"),  # coding before creative
        ("text", "Explain how to calculate an integral", "math"),  # math before knowledge
        ("text", "What is the best tip? any advice?", "advice"),  # advice before knowledge
        ("image", "a cat in a forest", "nature"),  # nature before animals
        ("image", "a house by the lake", "nature"),  # nature before architecture
        ("image", "a clock tower", "architecture"),  # architecture before objects
        ("3d", "a chair shaped like a car", "furniture"),  # furniture before vehicles
        ("3d", "a robot riding a truck", "vehicles"),  # vehicles before characters
        ("3d", "a dog in a box", "characters"),  # characters before objects
    ],
)
def test_the_first_matching_rule_wins(modality, prompt, category):
    assert categorise(modality, prompt) == category


def test_the_same_word_can_mean_different_categories_in_different_modalities():
    assert categorise("image", "a chair") == "objects"
    assert categorise("3d", "a chair") == "furniture"
    assert categorise("image", "a tree") == "nature"
    assert categorise("3d", "a tree") == "objects"


def test_every_keyword_alone_gives_its_own_category():
    """No rule word is shadowed by an earlier rule of the same modality."""
    for modality, rules in RULES.items():
        for category, words in rules:
            for word in words:
                assert categorise(modality, word) == category, (modality, word)


@pytest.mark.parametrize(
    ("modality", "prompt"),
    [
        ("audio", "a poem about the sea"),
        ("video", "a cat"),
        ("", "python function"),
        ("text", ""),
        ("image", "   "),
    ],
)
def test_unknown_modality_or_no_match_is_other(modality, prompt):
    assert categorise(modality, prompt) == OTHER


HARD = (
    "I run a small bakery and need a weekly staffing plan. The following constraints apply:\n"
    "1. Two people must be present from 6am to 2pm every day.\n"
    "2. Nobody works more than 40 hours a week or two closing shifts in a row.\n"
    "3. Weekend shifts are shared fairly between the five staff.\n"
    "Explain the trade-offs of your plan and answer in a table."
)


@pytest.mark.parametrize(
    ("prompt", "category"),
    [
        ("Describe the moon in exactly three sentences.", "instruction_following"),
        ("Summarise the French revolution in no more than 50 words.", "instruction_following"),
        ("List five fruits without using the letter e.", "instruction_following"),
        ("Respond only with yes or no: is the sky green?", "instruction_following"),
        ("Give me the planets in JSON.", "instruction_following"),
        ("Write a poem about the sea in exactly 4 lines", "instruction_following"),  # before creative
        ("Write a story about a dragon", "creative"),
        (HARD, "hard_prompts"),
        (HARD.replace("I run a small bakery", "I write Python for a small bakery"), "hard_prompts"),  # before coding
        ("Write a Python function; it must include type hints and must not use loops.", "coding"),  # short
        (" ".join(["word"] * 60), OTHER),  # long but asks nothing
    ],
)
def test_instruction_following_and_hard_prompts(prompt, category):
    assert categorise("text", prompt) == category


def test_hard_prompts_need_length_and_demands():
    from arena.services.categories import HARD_MIN_DEMANDS, HARD_MIN_WORDS, demands, is_hard

    assert len(HARD.split()) >= HARD_MIN_WORDS and demands(HARD) >= HARD_MIN_DEMANDS and is_hard(HARD)
    short = "Answer in a table. 1. a\n2. b\n3. c"
    assert demands(short) >= HARD_MIN_DEMANDS and not is_hard(short)
    assert categorise("image", HARD) != "hard_prompts"  # text prompts only
