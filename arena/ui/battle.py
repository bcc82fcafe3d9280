"""One battle panel: a prompt, two outputs side by side, the vote, the reveal.

The same panel serves anonymous battles (the sampler picks the pair) and named
side-by-side battles (the voter picks both models); all rules live in
BattleService, so this module only turns its events into screen updates.
"""

import html
import random
import time
from dataclasses import dataclass, field

import gradio as gr

from arena.errors import ArenaError
from arena.runtime import Arena
from arena.services.battles import BattleView, Chunk, Finished, SideOutput, Started
from arena.services.catalog import active_models
from arena.services.prompts import example_prompts
from arena.ui.dimensions import LABELS, build_dimensions, open_dimensions, wire_dimensions
from arena.ui.prompt_limit import counter_html, too_long
from arena.ui.terms import ASK, build_notice
from arena.ui.visible import wait_js
from arena.ui.voter import client_of
from arena.vocabulary import Dimension, Modality, Winner

VOTES = (
    ("A is better", Winner.MODEL_A),
    ("B is better", Winner.MODEL_B),
    ("Tie", Winner.TIE),
    ("Both are bad", Winner.BOTH_BAD),
)
MODALITY_LABELS = {Modality.TEXT: "Text", Modality.IMAGE: "Image", Modality.THREE_D: "3D"}
CHOICE_LABELS = {winner: label for label, winner in VOTES}
DIMENSION_LABELS = LABELS  # the leaderboard tab names the dimensions alike
# Fair presentation: both sides drawn alike whatever the model returned. Every image fills
# the same box (a 256-px image is scaled up to the box a 512-px one gets), so size never
# tells the models apart.
PANEL_CSS = """
.arena-outputs .image-container, .arena-outputs .image-frame { width: 100%; height: 100%; }
.arena-outputs .image-frame img { width: 100% !important; height: 100% !important; object-fit: contain; }
"""
SAME_MODEL = "Choose two different models: a model compared with itself tells nothing."
STREAM_INTERVAL_S = 0.04  # at most ~25 screen updates a second while text streams
WAITING = "…"  # a side that has not sent its first words yet: the same mark on both sides, never an empty bubble
WORKING = {"text": "Both models are answering…", "image": "Painting both images…", "3d": "Building both 3D models…"}
PLACEHOLDER = {
    "text": "Ask anything, then press Enter",
    "image": "Describe an image, then press Enter",
    "3d": "Describe an object, then press Enter",
}


@dataclass
class Panel:
    """The components of one panel, so the page and the tests can address them."""

    modality: str
    named: bool
    state: gr.State
    prompt: gr.Textbox
    send: gr.Button
    dice: gr.Button
    out_a: gr.components.Component
    out_b: gr.components.Component
    status: gr.HTML
    vote_row: gr.Row
    vote_buttons: list[gr.Button]
    dimensions: dict[str, gr.Radio]
    reveal: gr.Markdown
    regenerate: gr.Button
    new_battle: gr.Button
    saved: gr.BrowserState  # this browser's unvoted battle id, restored after a reload (restore.py)
    picks: list[gr.Dropdown] = field(default_factory=list)
    notice: tuple[gr.Row, gr.Button] | None = None  # the terms notice and its I agree (terms.py)

    @property
    def prefix(self) -> str:
        return f"{'sbs' if self.named else 'arena'}-{self.modality}"

    @property
    def outputs(self) -> list:
        """Every component a handler may update (handlers return a dict of some of them)."""
        return [
            self.state,
            self.saved,
            self.prompt,
            self.send,
            self.out_a,
            self.out_b,
            self.status,
            self.vote_row,
            *self.vote_buttons,
            *self.dimensions.values(),
            self.reveal,
            self.regenerate,
            *self.picks,
        ]


def random_prompt(modality: str) -> str:
    """A prompt from data/prompts/<modality>.txt, for voters who do not know what to ask."""
    return random.choice(example_prompts(Modality(modality)))


def build_panel(arena: Arena, modality: str, named: bool = False) -> Panel:
    """Lay out one panel inside the current Gradio context and wire its events."""
    prefix = f"{'sbs' if named else 'arena'}-{modality}"
    picks: list[gr.Dropdown] = []
    if named:
        # built once at start-up, before serving: no event loop to block yet
        names = sorted(name for name in active_models(arena.store, Modality(modality)) if name in arena.generators)
        with gr.Row(equal_height=True):
            picks = [
                gr.Dropdown(
                    names,
                    value=names[i] if len(names) > i else None,
                    label=f"Model {side}",
                    elem_id=f"{prefix}-pick-{side.lower()}",
                    min_width=140,
                )
                for i, side in enumerate("AB")
            ]
    with gr.Row(equal_height=True, elem_classes=["arena-outputs"]):
        out_a = _output(modality, "A", f"{prefix}-out-a")
        out_b = _output(modality, "B", f"{prefix}-out-b")
    status = gr.HTML("", elem_id=f"{prefix}-status", js_on_load=None, apply_default_css=False)
    with gr.Row(visible=True, elem_classes=["arena-votes"]) as vote_row:
        vote_buttons = [
            gr.Button(
                label,
                interactive=False,
                elem_id=f"{prefix}-vote-{winner}",
                min_width=80,
                variant="primary" if winner in ("model_a", "model_b") else "secondary",
            )
            for label, winner in VOTES
        ]
    dimensions = build_dimensions(prefix, modality)
    reveal = gr.Markdown("", elem_id=f"{prefix}-reveal")
    notice = build_notice(prefix)
    with gr.Row(equal_height=True, elem_classes=["arena-prompt"]):
        prompt = gr.Textbox(
            show_label=False,
            label="Your prompt",
            placeholder=PLACEHOLDER[modality],
            lines=1,
            max_lines=6,
            scale=5,
            min_width=180,
            elem_id=f"{prefix}-prompt",
        )
        send = gr.Button("Send", variant="primary", scale=1, min_width=70, elem_id=f"{prefix}-send")
    gr.HTML(
        counter_html(f"{prefix}-prompt", arena.settings.max_prompt_chars),
        elem_id=f"{prefix}-counter",
        apply_default_css=False,
    )
    with gr.Row(elem_classes=["arena-actions"]):
        dice = gr.Button("Random prompt", size="sm", min_width=120, elem_id=f"{prefix}-random")
        regenerate = gr.Button(
            "Regenerate", size="sm", interactive=False, min_width=110, elem_id=f"{prefix}-regenerate"
        )
        new_battle = gr.Button("New battle", size="sm", min_width=110, elem_id=f"{prefix}-new")
    panel = Panel(
        modality,
        named,
        gr.State({}),
        prompt,
        send,
        dice,
        out_a,
        out_b,
        status,
        vote_row,
        vote_buttons,
        dimensions,
        reveal,
        regenerate,
        new_battle,
        gr.BrowserState(None, storage_key=f"open-arena-battle-{prefix}", secret=page_secret(arena)),
        picks,
        notice,
    )
    _wire(arena, panel)
    wire_dimensions(arena, panel, status_html)
    return panel


def page_secret(arena: Arena) -> str:
    """The key of the page's browser storage: derived, and stable across restarts so a reload finds its battle."""
    return arena.settings.subkey("page-storage").hex()


def _output(modality: str, side: str, elem_id: str) -> gr.components.Component:
    label = f"Model {side}"
    if modality == "text":
        return gr.Chatbot(
            label=label,
            elem_id=elem_id,
            height=380,
            min_width=150,
            feedback_options=None,
            buttons=["copy"],
            placeholder=f"{label}'s answer appears here",
            layout="bubble",
        )
    if modality == "image":
        return gr.Image(
            label=label,
            elem_id=elem_id,
            interactive=False,
            type="filepath",
            height=320,
            min_width=150,
            buttons=["fullscreen"],
            format="png",
        )
    return gr.Model3D(
        label=label, elem_id=elem_id, interactive=False, height=320, min_width=150, clear_color=(0.94, 0.95, 0.97, 1.0)
    )


def _wire(arena: Arena, panel: Panel) -> None:
    inputs = {panel.prompt, panel.state, panel.out_a, panel.out_b, *panel.picks}  # a set: handlers get a dict
    run = _runner(arena, panel)
    events = [
        trigger(
            handler, inputs, panel.outputs, concurrency_limit=None, show_progress="hidden", api_visibility="private"
        )
        for trigger, handler in (
            (panel.prompt.submit, run),
            (panel.send.click, run),
            (panel.regenerate.click, _regenerator(panel, run)),
        )
    ]
    for event in events:
        if panel.modality == "3d":
            event = event.then(
                lambda state: _show_models(panel, state),
                panel.state,
                panel.outputs,
                queue=False,
                show_progress="hidden",
                api_visibility="private",
            )
        if panel.modality != "text":
            open_when_visible(panel, event)
    for pick in panel.picks:
        pick.change(
            lambda a, b: _check_pair(panel, a, b),
            panel.picks,
            [panel.send, panel.status],
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
    panel.dice.click(
        lambda: random_prompt(panel.modality),
        None,
        panel.prompt,
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )
    # New battle first stops a generation still running (the service then marks that battle failed),
    # then clears the panel, so no late chunk of the old stream lands on the new one.
    panel.new_battle.click(None, cancels=events).then(
        lambda: _reset(panel), None, panel.outputs, queue=False, show_progress="hidden", api_visibility="private"
    )
    for button, (_, winner) in zip(panel.vote_buttons, VOTES):
        button.click(
            _voter(arena, panel, winner),
            {panel.state, *panel.dimensions.values()},
            panel.outputs,
            concurrency_limit=None,
            show_progress="hidden",
            api_visibility="private",
        )


def _runner(arena: Arena, panel: Panel):
    """The prompt handler: a new battle, or a follow-up turn of a text battle not yet voted on."""

    async def run(values: dict, request: gr.Request):
        prompt = (values[panel.prompt] or "").strip()
        state = values[panel.state]
        if not prompt:
            yield {panel.status: status_html("Type a prompt first, or press Random prompt.", "info")}
            return
        refusal = too_long(prompt, arena.settings.max_prompt_chars) or (
            SAME_MODEL if panel.named and len({values[pick] for pick in panel.picks}) < 2 else None
        )
        who = client_of(arena, request)
        if not refusal and not await arena.voters.accepted_terms(who.voter_id):
            refusal = ASK
        if refusal:  # refused here, before the box is cleared: the voter keeps the prompt
            yield {panel.status: status_html(refusal, "error")}
            return
        follow_up = (
            panel.modality == "text" and state.get("status") == "ready" and not state.get("voted") and state.get("id")
        )
        if follow_up:
            events = arena.battles.continue_stream(state["id"], who.voter_id, prompt, ip_hash=who.ip_hash)
            state = {**state, "status": "generating"}
            history = [list(values[panel.out_a] or []), list(values[panel.out_b] or [])]
        else:
            models = tuple(values[pick] for pick in panel.picks) if panel.named else None
            events = arena.battles.start_stream(
                panel.modality, prompt, who.voter_id, models=models, ip_hash=who.ip_hash
            )
            state = {"status": "generating", "prompt": prompt, "voted": False}
            history = [[], []]
        for chat in history:
            chat += [{"role": "user", "content": prompt}, {"role": "assistant", "content": WAITING}]
        yield {
            **locked(panel, working=True),
            panel.state: state,
            panel.prompt: _prompt_box(panel, working=True),
            panel.status: status_html(WORKING[panel.modality], "working"),
            panel.reveal: "",
            **_cleared_outputs(panel, history),
        }
        last = 0.0
        try:
            async for event in events:
                if isinstance(event, Started):
                    state = {**state, "id": event.battle_id}
                    yield {panel.state: state, panel.saved: event.battle_id}
                elif isinstance(event, Chunk):
                    chat = history[0 if event.side == "a" else 1]
                    first = chat[-1]["content"] == WAITING
                    sofar = "" if first else chat[-1]["content"]
                    chat[-1] = {"role": "assistant", "content": sofar + event.text}
                    now = time.perf_counter()
                    if first or now - last >= STREAM_INTERVAL_S:
                        last = now
                        yield {panel.out_a: history[0], panel.out_b: history[1]}
                elif isinstance(event, Finished):
                    yield _finished(arena, panel, event.battle, history)
        except ArenaError as exc:
            state = {**state, "status": "ready" if follow_up else "idle"}
            yield {
                **unlocked(panel, votable=bool(follow_up)),
                panel.state: state,
                panel.status: status_html(str(exc), "error"),
            }

    return run


def _check_pair(panel: Panel, model_a: str | None, model_b: str | None) -> dict:
    """Side-by-side: Send stays off while both picks name the same model (or one is empty)."""
    if model_a and model_b and model_a != model_b:
        return {panel.send: gr.Button(interactive=True), panel.status: ""}
    return {panel.send: gr.Button(interactive=False), panel.status: status_html(SAME_MODEL, "error")}


def _regenerator(panel: Panel, run):
    """Regenerate: the same first prompt as a new battle with a newly drawn pair (before any vote)."""

    async def regenerate(values: dict, request: gr.Request):
        state = values[panel.state]
        if not state.get("prompt") or state.get("voted") or state.get("status") == "generating":
            return
        fresh = {**values, panel.prompt: state["prompt"], panel.state: {}}
        async for update in run(fresh, request):
            yield update

    return regenerate


def _finished(arena: Arena, panel: Panel, view: BattleView, history: list[list]) -> dict:
    """The end of a turn: final outputs, then votes enabled (ready) or the failure explained."""
    turn = view.turns[-1] if view.turns else {}
    values = [final_value(arena, panel.modality, turn.get(side), history[i]) for i, side in enumerate("ab")]
    ready = view.status == "ready"
    state = {"id": view.id, "status": view.status, "prompt": view.conversation[0], "voted": False}
    # images and 3D: the votes open once the browser shows both outputs (open_when_visible)
    update = {
        **unlocked(panel, votable=ready and panel.modality == "text"),
        panel.state: state,
        panel.regenerate: gr.Button(interactive=True),  # a failed battle may be regenerated too
    }
    for out, side, name, value in zip((panel.out_a, panel.out_b), "AB", (view.model_a, view.model_b), values):
        update[out] = relabel(side, name) if panel.modality == "3d" else relabel(side, name, value=value)
    if panel.modality == "3d":
        state["models"] = values  # shown by _show_models
    if ready:
        hint = "Both outputs are complete. Which is better? Vote below"
        hint += ", or send a follow-up message to both." if panel.modality == "text" else "."
        update[panel.status] = status_html(hint, "info")
    else:
        update[panel.status] = failure_status(view)
        update[panel.vote_row] = gr.Row(visible=False)
        update[panel.saved] = None  # nothing to come back to
    return update


def failure_status(view: BattleView) -> str:
    message = view.error or "one of the models failed"
    return status_html(
        f"This battle failed: {message}. It cannot take a vote."
        " Press Regenerate for two new answers to the same prompt, or New battle for another prompt.",
        "error",
    )


def _prompt_box(panel: Panel, working: bool) -> gr.Textbox:
    """Text battles move the prompt into the chat panes; image and 3D keep it in view."""
    return (
        gr.Textbox(value="", interactive=not working)
        if panel.modality == "text"
        else gr.Textbox(interactive=not working)
    )


def _show_models(panel: Panel, state: dict) -> dict:
    """Put the finished GLB files into the 3D viewers, as a plain (non-streaming) update.

    Gradio's Model3D viewer stays blank when its value arrives from a streaming
    (generator) handler, so the battle handler leaves the files in the state and
    this follow-up step shows them.
    """
    models = state.get("models")
    if models is None:
        return {}
    return {panel.out_a: gr.Model3D(value=models[0]), panel.out_b: gr.Model3D(value=models[1])}


def open_when_visible(panel: Panel, event) -> None:
    """After `event`, wait in the browser until both outputs are on screen, then open the votes."""
    event.then(None, None, None, js=wait_js(panel.prefix), queue=False, api_visibility="private").then(
        lambda values: _open_votes(panel, values),
        {panel.state, *panel.dimensions.values()},
        [*panel.vote_buttons, *panel.dimensions.values()],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )


def _open_votes(panel: Panel, values: dict) -> dict:
    state = values[panel.state]
    votable = state.get("status") == "ready" and not state.get("voted")
    return {
        **{button: gr.Button(interactive=votable) for button in panel.vote_buttons},
        **open_dimensions(panel, values, votable=state.get("status") in ("ready", "voted")),
    }


def final_value(arena: Arena, modality: str, output: SideOutput | None, chat: list):
    if modality == "text":
        if output is not None:
            content = output.text if output.error is None else f"⚠️ This side failed: {output.error}"
            chat[-1] = {"role": "assistant", "content": content or ""}
        return chat
    if output is None or output.artifact_sha256 is None:
        return None
    found = arena.artifacts.find(output.artifact_sha256)
    return str(found[0]) if found else None


def _voter(arena: Arena, panel: Panel, winner: Winner):
    """A vote button's handler: the overall vote, then the reveal (dimensions are recorded as pressed)."""

    async def vote(values: dict, request: gr.Request):
        state = values[panel.state]
        if state.get("status") != "ready" or state.get("voted") or not state.get("id"):
            return {panel.status: status_html("There is nothing to vote on yet.", "info")}
        who = client_of(arena, request)
        try:
            result = await arena.battles.vote(state["id"], who.voter_id, winner, Dimension.OVERALL, ip_hash=who.ip_hash)
        except ArenaError as exc:
            return {panel.status: status_html(str(exc), "error")}
        counted = "" if result.valid or panel.named else f" (not counted: {result.invalid_reason})"
        note = " Side-by-side votes are stored but never count on the main leaderboard." if panel.named else ""
        more = " You can still rate the qualities above until you leave this battle." if panel.dimensions else ""
        return {
            **locked(panel, working=False),
            **open_dimensions(panel, values, votable=True),
            panel.prompt: gr.Textbox(interactive=False),
            panel.send: gr.Button(interactive=False),
            panel.state: {**state, "voted": True, "status": "voted"},
            panel.saved: None,
            panel.out_a: relabel("A", result.model_a),
            panel.out_b: relabel("B", result.model_b),
            panel.reveal: (
                f"**Model A** was **{result.model_a}** · **Model B** was **{result.model_b}**."
                f" You voted *{CHOICE_LABELS[winner]}*; thanks, your vote is recorded{counted}.{note}"
            ),
            panel.status: status_html(f"Vote recorded. Press New battle for another.{more}", "ok"),
            **pressed(panel, winner),
        }

    return vote


def pressed(panel: Panel, winner: Winner | None) -> dict:
    """The vote buttons, closed, with the pressed one ticked (it stays visible after the vote) or all plain."""
    return {
        button: gr.Button(value=f"✓ {label}" if choice == winner else label, interactive=False)
        for button, (label, choice) in zip(panel.vote_buttons, VOTES)
    }


def _reset(panel: Panel) -> dict:
    return {
        **unlocked(panel, votable=False),
        **pressed(panel, None),
        panel.state: {},
        panel.saved: None,
        panel.prompt: gr.Textbox(value="", interactive=True),
        panel.status: "",
        panel.reveal: "",
        **_cleared_outputs(panel, [[], []]),
        panel.regenerate: gr.Button(interactive=False),
        **{radio: gr.Radio(value=None, interactive=False) for radio in panel.dimensions.values()},
    }


def relabel(side: str, name: str | None, **value) -> dict:
    """The output's label, with the model's name once it may be shown (gr.update keeps value=None)."""
    return gr.update(label=f"Model {side}" + (f" · {name}" if name else ""), **value)


def _cleared_outputs(panel: Panel, history: list[list]) -> dict:
    """Anonymous labels again; text panes show the conversation so far, image and 3D nothing.

    (A Chatbot ignores a None value, hence lists for text.)
    """
    values = history if panel.modality == "text" else [None, None]
    return {out: relabel(side, None, value=value) for out, side, value in zip((panel.out_a, panel.out_b), "AB", values)}


def locked(panel: Panel, working: bool) -> dict:
    """While generating (or after the vote) nothing can be voted, sent or regenerated."""
    return {
        panel.vote_row: gr.Row(visible=True),
        **{button: gr.Button(interactive=False) for button in panel.vote_buttons},
        **{radio: gr.Radio(interactive=False) for radio in panel.dimensions.values()},
        panel.regenerate: gr.Button(interactive=False),
        panel.prompt: gr.Textbox(interactive=not working),
        panel.send: gr.Button(interactive=not working),
        **{pick: gr.Dropdown(interactive=not working) for pick in panel.picks},
    }


def unlocked(panel: Panel, votable: bool) -> dict:
    return {
        panel.vote_row: gr.Row(visible=True),
        **{button: gr.Button(interactive=votable) for button in panel.vote_buttons},
        **{radio: gr.Radio(interactive=votable) for radio in panel.dimensions.values()},
        panel.regenerate: gr.Button(interactive=votable),
        panel.prompt: gr.Textbox(interactive=True),
        panel.send: gr.Button(interactive=True),
        **{pick: gr.Dropdown(interactive=True) for pick in panel.picks},
    }


def status_html(message: str, kind: str) -> str:
    """A live status line; `working` adds an indeterminate progress bar (CSS only)."""
    bar = '<div class="arena-progress" aria-hidden="true"><div></div></div>' if kind == "working" else ""
    return (
        f'<div class="arena-status arena-status-{kind}" role="status" aria-live="polite">'
        f"{html.escape(message)}{bar}</div>"
    )
