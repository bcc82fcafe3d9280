"""A battle comes back after a reload: the page reloads when its server returns (connection.py),
and every panel then shows the battle this browser last had open, read from the database.

Each panel keeps its open battle's id in the browser (Panel.saved) from the moment the
server created it until the vote is recorded or the voter leaves it. On page load the
id is looked up for the cookie's voter only (another voter's id answers as an unknown
one), so a battle is never shown to anyone but its voter. What the database says is
what the page shows: a vote that did not reach the server is not there, a stream the
server lost is a battle that cannot take a vote.
"""

import gradio as gr

from arena.errors import NotFound
from arena.runtime import Arena
from arena.services.battles import BattleView
from arena.ui.battle import (
    CHOICE_LABELS,
    Panel,
    failure_status,
    final_value,
    locked,
    open_when_visible,
    pressed,
    relabel,
    status_html,
    unlocked,
)
from arena.ui.voter import voter_of
from arena.vocabulary import Dimension, Winner

BACK = "The connection is back and so is your battle. Which is better? Vote below."
INTERRUPTED = (
    "This battle was interrupted when the connection was lost, so it cannot take a vote. "
    "Press New battle to start another."
)


def wire_restore(arena: Arena, page: gr.Blocks, panels: list[Panel], tabs: dict[str, gr.Tabs]) -> None:
    """On page load, restore each panel's saved battle and show the tab of an unvoted one.

    `tabs`: the page's main tabs ("main") and each mode's modality tabs ("arena", "sbs").
    """

    async def restore(values: dict, request: gr.Request) -> dict:
        voter = voter_of(request)
        update: dict = {}
        shown = None
        for panel in panels:
            battle_id = values[panel.saved]
            if not battle_id:
                continue
            try:
                view = await arena.battles.get(battle_id, voter)
            except NotFound:
                update[panel.saved] = None
                continue
            update.update(restored(arena, panel, view))
            if shown is None and view.status == "ready" and not view.votes:
                shown = panel
        if shown is not None:
            mode = "sbs" if shown.named else "arena"
            update[tabs["main"]] = gr.Tabs(selected=mode)
            update[tabs[mode]] = gr.Tabs(selected=shown.prefix)
        return update

    outputs = [component for panel in panels for component in panel.outputs] + list(tabs.values())
    loaded = page.load(
        restore,
        {panel.saved for panel in panels},
        outputs,
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    for panel in panels:
        if panel.modality != "text":
            open_when_visible(panel, loaded)


def restored(arena: Arena, panel: Panel, view: BattleView) -> dict:
    """The panel as the database has the battle: outputs, names if revealed, votes if it can take one."""
    history: list[list] = [[], []]
    values = []
    for side, chat in zip("ab", history):
        value = None
        for turn, prompt in enumerate(view.conversation):  # the last prompt may have no answer: cut off
            output = view.turns[turn].get(side) if turn < len(view.turns) else None
            chat.append({"role": "user", "content": prompt})
            if output is not None:
                chat.append({"role": "assistant", "content": ""})
            value = final_value(arena, panel.modality, output, chat)
        values.append(value)
    voted = view.votes.get(Dimension.OVERALL.value)
    ready = view.status == "ready"
    update = {
        **unlocked(panel, votable=ready and not voted and panel.modality == "text"),  # others: open_when_visible
        panel.state: {
            "id": view.id,
            "status": "voted" if voted else view.status if ready else "failed",
            "prompt": view.conversation[0],
            "voted": bool(voted),
        },
        panel.saved: view.id if ready and not voted else None,
        panel.out_a: relabel("A", view.model_a, value=values[0]),
        panel.out_b: relabel("B", view.model_b, value=values[1]),
        panel.reveal: "",
        panel.regenerate: gr.Button(interactive=not voted),
        panel.status: status_html(BACK, "info"),
        **{radio: gr.Radio(value=view.votes.get(dimension)) for dimension, radio in panel.dimensions.items()},
    }
    if voted:
        update.update(locked(panel, working=False))
        update[panel.prompt] = gr.Textbox(interactive=False)
        update[panel.send] = gr.Button(interactive=False)
        update[panel.reveal] = (
            f"**Model A** was **{view.model_a}** · **Model B** was **{view.model_b}**."
            f" You voted *{CHOICE_LABELS[Winner(voted)]}*; your vote is recorded."
        )
        update[panel.status] = status_html("Your vote on this battle was recorded. Press New battle for another.", "ok")
        update.update(pressed(panel, Winner(voted)))
    elif view.status == "failed":
        update[panel.status] = failure_status(view)
        update[panel.vote_row] = gr.Row(visible=False)
    elif not ready:
        update[panel.status] = status_html(INTERRUPTED, "error")
        update[panel.vote_row] = gr.Row(visible=False)
    return update
