"""Style control (as LMArena's): a contextual Bradley-Terry fit with style features.

For a vote between ``model_a`` (i) and ``model_b`` (j) with style features z (one
number per feature, a property of the two answers),

    P(i beats j) = σ(θ_i − θ_j [+ h] + βᵀz),

so a model's rating θ is its strength with the style of its answers held equal, and β
says how much voters reward each style difference. Ties are half a win each (the
likelihood of :mod:`ranking.families`' Bradley-Terry), the prior on θ is the one of
:mod:`ranking.bt`, and ``style_reg`` adds ½·reg·N·‖β‖² (N: votes), so reg = 1 is
arena-rank's ``ContextualBradleyTerry`` default and 0 (ours) the plain MLE of β.

Features, as LMArena computes them (FastChat's ``preprocess_for_style``): for each
count c (answer length, markdown headers, list items, bold spans) the normalised
difference (c_a − c_b)/(c_a + c_b + 1), then standardised (z-scored) over the votes of
the fit, so β is in log-odds per standard deviation. They come from ``style_*``
columns (any numeric feature, already a difference between the two answers, e.g.
written by :func:`style_features`) or, when there are none, are computed from
``conversation_a`` / ``conversation_b`` (OpenAI message lists; the assistant turns).
Answer length is counted in characters (LMArena counts tokens: the normalised
difference is nearly the same).

This module holds the features (pure functions, no scipy); the fit is in
:mod:`ranking.contextual`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

STYLE_PREFIX = "style_"
STYLE_FEATURES = ("length", "headers", "lists", "bold")
"""The features :func:`style_features` computes, as columns ``style_<name>``."""
CONVERSATION_COLUMNS = ("conversation_a", "conversation_b")
METADATA_COLUMN = "conv_metadata"
_METADATA_KEYS = {
    "length": "sum_assistant_{}_tokens",
    "headers": "header_count_{}",
    "lists": "list_count_{}",
    "bold": "bold_count_{}",
}

_CODE = re.compile(r"```[^`]*```", re.DOTALL)
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST = re.compile(r"^\s*(?:\d+\.|[-*+])\s", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")

Matrix = npt.NDArray[np.float64]


def answer_text(conversation: object) -> str:
    """The assistant turns of an OpenAI message list (``[{"role", "content"}, ...]``,
    content a string or a list of ``{"type": "text", "text"}`` parts), joined. A JSON
    string of such a list is parsed; any other string is the answer itself."""
    if conversation is None:
        return ""
    if isinstance(conversation, str):
        text = conversation
        if not text.lstrip().startswith("["):
            return text
        try:
            conversation = json.loads(text)
        except ValueError:
            return text
    if not isinstance(conversation, (list, tuple)) and hasattr(conversation, "tolist"):
        conversation = conversation.tolist()  # a numpy array from a Parquet list column
    if not isinstance(conversation, (list, tuple)):
        return ""
    parts: list[str] = []
    for message in conversation:
        if not isinstance(message, Mapping) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, (list, tuple)):
            parts.extend(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return "\n".join(parts)


def style_counts(conversation: object) -> dict[str, int]:
    """Answer length (characters) and markdown headers, list items and bold spans of the
    assistant turns; code blocks are not counted as markdown (as LMArena)."""
    text = answer_text(conversation)
    prose = _CODE.sub("", text)
    return {
        "length": len(text),
        "headers": len(_HEADER.findall(prose)),
        "lists": len(_LIST.findall(prose)),
        "bold": len(_BOLD.findall(prose)),
    }


def style_features(conversation_a: object, conversation_b: object) -> dict[str, float]:
    """The style features of one battle: ``{"style_length": (c_a − c_b)/(c_a + c_b + 1),
    "style_headers": ..., "style_lists": ..., "style_bold": ...}`` (pure; the fit
    standardises them). Store them as columns and :func:`ranking.rank` with
    ``style="controlled"`` uses them."""
    ca, cb = style_counts(conversation_a), style_counts(conversation_b)
    return {f"{STYLE_PREFIX}{k}": (ca[k] - cb[k]) / (ca[k] + cb[k] + 1) for k in STYLE_FEATURES}


def _count(value: object) -> float:
    """A count of LMArena's conv_metadata: a number, or a dict of counts (h1..h6,
    ordered/unordered, ** and __) that is summed; NaN when missing."""
    if isinstance(value, Mapping):
        return float(sum(_count(v) for v in value.values()))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return float("nan")


def metadata_features(metadata: object) -> list[float]:
    """The :data:`STYLE_FEATURES` of one battle from LMArena's ``conv_metadata``
    (``sum_assistant_a_tokens``, ``header_count_a``, ``list_count_a``, ``bold_count_a``
    and the ``_b`` ones; a dict or its JSON): the same normalised differences, with the
    length in tokens as LMArena counts it. NaN where a count is missing."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    if not isinstance(metadata, Mapping):
        return [float("nan")] * len(STYLE_FEATURES)
    out = []
    for k in STYLE_FEATURES:
        a, b = (_count(metadata.get(_METADATA_KEYS[k].format(side))) for side in "ab")
        out.append((a - b) / (a + b + 1))
    return out


def features_of_metadata(values: Sequence[object]) -> Matrix:
    """Rows × :data:`STYLE_FEATURES` matrix of :func:`metadata_features`."""
    out = np.array([metadata_features(v) for v in values], dtype=np.float64)
    return out.reshape(len(values), len(STYLE_FEATURES))


def features_of_conversations(conv_a: Sequence[object], conv_b: Sequence[object]) -> Matrix:
    """Rows × :data:`STYLE_FEATURES` matrix of :func:`style_features`."""
    out = np.empty((len(conv_a), len(STYLE_FEATURES)))
    for r, (ca, cb) in enumerate(zip(conv_a, conv_b, strict=True)):
        f = style_features(ca, cb)
        out[r] = [f[f"{STYLE_PREFIX}{k}"] for k in STYLE_FEATURES]
    return out
