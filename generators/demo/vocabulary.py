"""Words the demo models understand: prompt keywords and colour names.

Shared by the three modalities so "a red car" means the same red to the image
model and to the 3D model, and "cats" finds the drawing for "cat".
"""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass

RGB = tuple[int, int, int]

COLOURS: dict[str, RGB] = {
    "red": (206, 42, 42),
    "crimson": (180, 20, 50),
    "orange": (240, 130, 30),
    "yellow": (245, 205, 40),
    "gold": (225, 175, 40),
    "golden": (225, 175, 40),
    "green": (60, 160, 70),
    "lime": (150, 210, 60),
    "olive": (120, 130, 50),
    "teal": (30, 140, 140),
    "turquoise": (60, 200, 190),
    "cyan": (60, 200, 230),
    "blue": (45, 95, 200),
    "navy": (25, 40, 110),
    "purple": (130, 60, 170),
    "violet": (150, 90, 210),
    "pink": (240, 140, 180),
    "magenta": (210, 50, 160),
    "brown": (125, 80, 45),
    "wooden": (150, 105, 60),
    "black": (30, 30, 35),
    "white": (240, 240, 240),
    "grey": (135, 135, 140),
    "gray": (135, 135, 140),
    "silver": (190, 195, 205),
    "cream": (240, 228, 200),
    "beige": (220, 200, 160),
    "stone": (150, 145, 135),
    "glass": (170, 210, 225),
}

_SHADES = {"dark": 0.6, "deep": 0.7, "light": 1.35, "pale": 1.45, "bright": 1.15}

STOPWORDS = frozenset(
    """a an the and or but if of to in on at by for with about from into over under
    above below near next beside behind between is are was were be been being am do
    does did have has had i you he she it we they me him her us them my your his its
    our their this that these those what which who whom whose why how when where can
    could should would will shall may might must not no yes so very too just also
    than then there here some any all each every few more most other such own same
    only one two three tell give me please write make explain describe show let like
    as up down out off again once while during before after get got gets""".split()
)

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """Lower-case word tokens, punctuation dropped."""
    return _WORD.findall(text.lower())


def keywords(text: str) -> list[str]:
    """Content words in order of first appearance: what a prompt is about."""
    seen: dict[str, None] = {}
    for word in words(text):
        if word not in STOPWORDS and len(word) > 2:
            seen.setdefault(word, None)
    return list(seen)


def lookup(word: str, known: Container[str]) -> str | None:
    """`word` or its singular if either is in `known` ("cats" -> "cat", "berries" -> "berry")."""
    candidates = [word]
    if word.endswith("ies"):
        candidates.append(word[:-3] + "y")
    if word.endswith("es"):
        candidates.append(word[:-2])
    if word.endswith("s") and not word.endswith("ss"):
        candidates.append(word[:-1])
    return next((candidate for candidate in candidates if candidate in known), None)


def shade(colour: RGB, factor: float) -> RGB:
    """Scale a colour towards black (<1) or white (>1)."""
    red, green, blue = colour
    if factor <= 1:
        return int(red * factor), int(green * factor), int(blue * factor)
    mix = min(factor - 1, 1.0)
    return int(red + (255 - red) * mix), int(green + (255 - green) * mix), int(blue + (255 - blue) * mix)


_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "pair": 2, "stack": 3, "some": 3, "many": 5}


@dataclass(frozen=True)
class Mention:
    """A known noun in a prompt, with the colour named before it and how many were asked for."""

    noun: str
    colour: RGB | None
    count: int


def mentions(text: str, nouns: Container[str]) -> tuple[list[Mention], list[RGB]]:
    """The known nouns of a prompt, in order, each with its colour and count.

    Also returns the colours that qualified no known noun ("a purple scene"), which
    callers use for the background or a fallback object. A plural without a number
    counts as three.
    """
    found: list[Mention] = []
    loose: list[RGB] = []
    pending: RGB | None = None
    factor, count = 1.0, 0
    for word in words(text):
        if word in _SHADES:
            factor = _SHADES[word]
        elif word in _NUMBERS:
            count = _NUMBERS[word]
        elif word in COLOURS:
            if pending is not None:
                loose.append(pending)
            pending = shade(COLOURS[word], factor)
            factor = 1.0
        elif (noun := lookup(word, nouns)) is not None:
            found.append(Mention(noun, pending, count or (3 if noun != word else 1)))
            pending, count = None, 0
    if pending is not None:
        loose.append(pending)
    return found, loose
