"""A gallery of example prompts under each Arena panel, from data/prompts/<modality>.txt.

Random prompt draws one blindly; the gallery lets a voter who does not know what to
ask see a few kinds of prompt at once and pick one. A click only fills the prompt box:
the voter still presses Enter, so nothing is sent unseen.
"""

from __future__ import annotations

import gradio as gr

from arena.services.prompts import example_prompts
from arena.ui.battle import Panel
from arena.vocabulary import Modality

SHOWN = 6  # one glance on a phone; the Random prompt button reaches the rest


def build_examples(panel: Panel) -> gr.Dataset:
    """The gallery for one panel: clicking a prompt puts it in that panel's prompt box."""
    prompts = example_prompts(Modality(panel.modality))
    examples = gr.Examples(
        [[prompt] for prompt in prompts[:: max(1, len(prompts) // SHOWN)][:SHOWN]],
        inputs=[panel.prompt],
        label="Example prompts",
        examples_per_page=SHOWN,
        elem_id=f"{panel.prefix}-examples",
    )
    return examples.dataset
