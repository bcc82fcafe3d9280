"""A prompt's category for category leaderboards, by transparent keyword rules.

LMArena labels categories with an LLM; a self-hosted arena needs something that
runs offline and that a voter can predict, so: the first rule whose words appear.
"""

from __future__ import annotations

import re

RULES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "text": [
        ("coding", ("code", "python", "function", "bug", "sql", "javascript", "program", "regex", "compile")),
        ("math", ("calculate", "equation", "integral", "prove", "probability", "solve", "sum of", "math")),
        ("creative", ("poem", "story", "haiku", "lyrics", "limerick", "fiction", "imagine", "write a")),
        ("advice", ("should i", "how do i", "how can i", "tips", "advice", "recommend")),
        ("knowledge", ("what is", "who was", "why do", "why does", "explain", "history", "how does")),
    ],
    "image": [
        ("nature", ("tree", "mountain", "forest", "sea", "ocean", "flower", "sky", "sun", "river", "lake")),
        ("animals", ("cat", "dog", "bird", "fish", "horse", "animal", "fox", "owl")),
        ("architecture", ("house", "city", "building", "castle", "bridge", "tower", "street")),
        ("objects", ("car", "cup", "chair", "lamp", "book", "clock", "boat")),
    ],
    "3d": [
        ("furniture", ("chair", "table", "sofa", "lamp", "desk", "bed", "shelf")),
        ("vehicles", ("car", "boat", "plane", "rocket", "train", "bicycle", "truck")),
        ("characters", ("robot", "snowman", "person", "figure", "animal", "cat", "dog")),
        ("objects", ("cup", "vase", "mug", "bottle", "box", "ball", "tree", "house")),
    ],
}
OTHER = "other"


def categorise(modality: str, prompt: str) -> str:
    text = " " + re.sub(r"\s+", " ", prompt.lower()) + " "
    for category, words in RULES.get(modality, []):
        if any(re.search(rf"\b{re.escape(word)}\b", text) for word in words):
            return category
    return OTHER
