"""Per-dimension votes (image: aesthetics, alignment, detail; 3D: geometry, texture,
alignment), beside the main vote rather than in a collapsed accordion.

Each choice is recorded the moment it is pressed, before or after the overall vote,
for as long as the voter stays on the battle; a recorded choice stays selected and
locked (one vote per dimension). A choice the server refused is cleared again, so the
page never shows an unrecorded vote as given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import gradio as gr

from arena.errors import ArenaError
from arena.runtime import Arena
from arena.ui.voter import client_of
from arena.vocabulary import DIMENSIONS, Dimension, Modality

if TYPE_CHECKING:
    from arena.ui.battle import Panel

LABELS = {
    "aesthetics": "Aesthetics",
    "alignment": "Prompt alignment",
    "detail": "Detail",
    "geometry": "Geometry",
    "texture": "Texture",
}
CHOICES = [("A", "model_a"), ("B", "model_b"), ("Tie", "tie"), ("Both bad", "both_bad")]
SHORT = {value: label for label, value in CHOICES}


def build_dimensions(prefix: str, modality: str) -> dict[str, gr.Radio]:
    """The modality's extra dimensions as radios in one visible row (none for text)."""
    extra = [d.value for d in DIMENSIONS[Modality(modality)] if d != Dimension.OVERALL]
    if not extra:
        return {}
    with gr.Row(elem_classes=["arena-dimensions"], elem_id=f"{prefix}-dimensions"):
        return {
            dimension: gr.Radio(
                CHOICES,
                value=None,
                label=f"Optional: better {LABELS[dimension].lower()}?",
                interactive=False,
                elem_id=f"{prefix}-dim-{dimension}",
                min_width=160,
            )
            for dimension in extra
        }


def wire_dimensions(arena: Arena, panel: Panel, status_html: Callable[[str, str], str]) -> None:
    """Record each dimension's choice when pressed (see the module docstring)."""
    for dimension, radio in panel.dimensions.items():
        radio.input(
            _recorder(arena, panel, dimension, radio, status_html),
            {panel.state, radio},
            [radio, panel.status],
            concurrency_limit=None,
            show_progress="hidden",
            api_visibility="private",
        )


def _recorder(arena: Arena, panel: Panel, dimension: str, radio: gr.Radio, status_html: Callable[[str, str], str]):
    label = LABELS[dimension]

    async def record(values: dict, request: gr.Request) -> dict:
        state, choice = values[panel.state], values[radio]
        if not choice:
            return {}
        if state.get("status") not in ("ready", "voted") or not state.get("id"):
            return {radio: gr.Radio(value=None), panel.status: status_html("There is nothing to vote on yet.", "info")}
        who = client_of(arena, request)
        try:
            await arena.battles.vote(state["id"], who.voter_id, choice, dimension, ip_hash=who.ip_hash)
        except ArenaError as exc:
            return {radio: gr.Radio(value=None), panel.status: status_html(f"{label}: not recorded: {exc}", "error")}
        return {
            radio: gr.Radio(value=choice, interactive=False),
            panel.status: status_html(f"{label}: your choice ({SHORT[choice]}) is recorded.", "ok"),
        }

    return record


def open_dimensions(panel: Panel, values: dict, votable: bool) -> dict:
    """Unanswered dimensions open with the votes; answered ones stay locked on their choice."""
    return {radio: gr.Radio(interactive=votable and not values.get(radio)) for radio in panel.dimensions.values()}
