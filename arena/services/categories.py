"""A prompt's category for category leaderboards, by transparent rules.

LMArena labels categories with an LLM; a self-hosted arena needs something that
runs offline and that a voter can predict, so: one category per prompt, the first
rule that matches, in this order. Words match whole words, case and spacing aside.

Text prompts:
1. hard_prompts: a long, demanding prompt: at least HARD_MIN_WORDS words and at least
   HARD_MIN_DEMANDS demands, counting each instruction pattern below that matches and
   each numbered or bulleted requirement line (LMArena's "hard prompts" ask for
   specificity, several constraints and problem-solving; we count the constraints).
2. coding: a programming word (code, python, function, sql, regex, ...).
3. math: a mathematics word (equation, integral, probability, solve, ...).
4. instruction_following: an explicit constraint on the answer's form (INSTRUCTIONS:
   "in exactly 3 sentences", "no more than 50 words", "do not use", "respond only with",
   "in JSON", "in bullet points", "all caps", "start each line with", "must include").
5. creative: creative writing (poem, story, haiku, lyrics, write a, ...).
6. advice, 7. knowledge: as their words say; anything else is "other".
Image and 3D prompts: one keyword list per subject (nature, animals, ...).
"""

from __future__ import annotations

import re

RULES: dict[str, list[tuple[str, tuple[str, ...]]]] = {
    "text": [
        ("hard_prompts", ()),  # by length and demands: see is_hard
        ("coding", ("code", "python", "function", "bug", "sql", "javascript", "program", "regex", "compile")),
        ("math", ("calculate", "equation", "integral", "prove", "probability", "solve", "sum of", "math")),
        ("instruction_following", ()),  # by pattern: see INSTRUCTIONS
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
_N = r"(\d+|one|two|three|four|five|six|seven|eight|nine|ten|twenty|fifty|hundred)"
_UNITS = r"(words?|sentences?|lines?|paragraphs?|bullet points?|bullets?|characters?|items?|steps?|syllables?)"
# Explicit constraints on the answer's form (instruction following; each one counts as a demand).
INSTRUCTIONS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern)
    for pattern in (
        rf"\b(exactly|at most|at least|no more than|fewer than|less than|under|maximum of|minimum of) {_N} {_UNITS}\b",
        rf"\bin {_N} {_UNITS}\b",
        r"\b(do not|don't|never|without) (use|using|mention|mentioning|include|including|repeat|exceed)\b",
        r"\b(respond|answer|reply) (only|with only|in one)\b",
        r"\b(only|just) (respond|answer|reply|output|return) with\b",
        r"\b(format|formatted|output|return) (it |the answer |your answer |the result )?(as|in) "
        r"(json|yaml|xml|csv|markdown|a table|a list|bullet points)\b",
        r"\bin (json|yaml|xml|csv|markdown|a table|bullet points|all caps|lowercase|uppercase)\b",
        r"\b(all caps|all lowercase|all uppercase)\b",
        r"\b(start|begin|end) (each|every|your|the) (\w+ )?with\b",
        r"\b(must|should) (include|contain|mention|be written|use|not)\b",
        r"\b(the following|these) (constraints|requirements|rules)\b",
    )
)
HARD_MIN_WORDS = 40
HARD_MIN_DEMANDS = 3
_REQUIREMENT_LINE = re.compile(r"^\s*(\d+[.)]|[-*•])\s+\S", re.MULTILINE)


def demands(prompt: str) -> int:
    """How many explicit demands a prompt makes: instruction patterns matched, plus numbered
    or bulleted requirement lines."""
    text = " " + re.sub(r"\s+", " ", prompt.lower()) + " "
    return sum(1 for pattern in INSTRUCTIONS if pattern.search(text)) + len(_REQUIREMENT_LINE.findall(prompt))


def is_hard(prompt: str) -> bool:
    """A hard prompt: long (HARD_MIN_WORDS words or more) and demanding (HARD_MIN_DEMANDS or more)."""
    return len(prompt.split()) >= HARD_MIN_WORDS and demands(prompt) >= HARD_MIN_DEMANDS


# Each rule's words as one compiled alternation (whole words): a prompt is matched once per rule.
_WORDS: dict[str, list[tuple[str, re.Pattern[str] | None]]] = {
    modality: [
        (category, re.compile(r"\b(?:" + "|".join(re.escape(word) for word in words) + r")\b") if words else None)
        for category, words in rules
    ]
    for modality, rules in RULES.items()
}


def categorise(modality: str, prompt: str) -> str:
    text = " " + re.sub(r"\s+", " ", prompt.lower()) + " "
    for category, words in _WORDS.get(modality, []):
        if category == "hard_prompts":
            if is_hard(prompt):
                return category
        elif category == "instruction_following":
            if any(pattern.search(text) for pattern in INSTRUCTIONS):
                return category
        elif words is not None and words.search(text):
            return category
    return OTHER
