"""The optional "About you" form: who votes, so leaderboards per voter group exist.

Nothing here is needed to vote. Saving records consent (Voters.save_profile),
and the voter can change or delete the answers at any time.
"""

from collections.abc import Callable
from html import escape

import gradio as gr

from arena.errors import ArenaError
from arena.runtime import Arena
from arena.services.voters import FIELDS, PROFILE_FIELDS, InvalidField, Profile
from arena.ui.voter import client_of, voter_of

CONSENT = (
    "By pressing Save you agree that Open Arena stores these answers with your votes, uses them for "
    "leaderboards by voter group, and publishes them only in coarse, anonymised form in the vote data; "
    "you can change or delete them here at any time."
)
NOT_SAID = ("Prefer not to say", "")
SAID_NOTHING = "prefer not to say"  # the API's gender value, shown as the one NOT_SAID choice here
LABELS = {
    "age_band": "Age band",
    "gender": "Gender",
    "country": "Country",
    "first_language": "First language",
    "expertise": "Expertise with AI",
}


def build_profile_form(arena: Arena) -> tuple[list[gr.components.Component], Callable]:
    """Lay out the form; returns its fields and a loader that fills them for this voter."""
    gr.Markdown(
        "Optional. Answering helps show how preferences differ between groups of people. You can vote without it."
    )
    with gr.Row():
        age = gr.Dropdown(
            [NOT_SAID, *PROFILE_FIELDS["age_band"]],
            value="",
            label="Age band",
            elem_id="profile-age_band",
            min_width=150,
        )
        gender = gr.Dropdown(
            [NOT_SAID, *(g for g in PROFILE_FIELDS["gender"] if g != SAID_NOTHING)],
            value="",
            label="Gender",
            elem_id="profile-gender",
            min_width=150,
        )
    with gr.Row():
        country = gr.Textbox(
            label="Country (two-letter code, e.g. FR)", max_length=2, elem_id="profile-country", min_width=150
        )
        language = gr.Textbox(
            label="First language (code, e.g. en or pt-BR)",
            max_length=16,
            elem_id="profile-first_language",
            min_width=150,
        )
    expertise = gr.Dropdown(
        [NOT_SAID, *PROFILE_FIELDS["expertise"]],
        value="",
        label="Expertise with AI",
        elem_id="profile-expertise",
        min_width=150,
    )
    gr.Markdown(CONSENT, elem_id="profile-consent")
    with gr.Row():
        save = gr.Button("Save", variant="primary", elem_id="profile-save", min_width=100)
        delete = gr.Button("Delete my answers", variant="stop", elem_id="profile-delete", min_width=100)
    message = gr.HTML("", elem_id="profile-message", js_on_load=None)
    fields = [age, gender, country, language, expertise]

    async def load(request: gr.Request) -> list[str]:
        return _shown(await arena.voters.profile(voter_of(request)))

    async def store(values: dict, request: gr.Request):
        try:
            who = client_of(arena, request)
            saved = await arena.voters.save_profile(
                who.voter_id, ip_hash=who.ip_hash, **{name: values[f] for name, f in zip(FIELDS, fields, strict=True)}
            )
        except InvalidField as exc:
            return [gr.skip()] * len(fields) + [_message(f"{LABELS[exc.field]} {exc.rule}.", "error")]
        except ArenaError as exc:
            return [gr.skip()] * len(fields) + [_message(str(exc), "error")]
        return _shown(saved) + [_message("Saved. Thank you!", "ok")]

    async def remove(request: gr.Request):
        await arena.voters.delete_profile(voter_of(request))
        return [""] * len(fields) + [_message("Deleted: nothing about you is stored any more.", "ok")]

    save.click(store, set(fields), [*fields, message], show_progress="hidden", api_visibility="private")
    delete.click(remove, None, [*fields, message], show_progress="hidden", api_visibility="private")
    return fields, load


def _shown(profile: Profile) -> list[str]:
    """The form's values for a stored profile; an API client's "prefer not to say" is the form's blank."""
    return [value if (value := getattr(profile, name) or "") != SAID_NOTHING else "" for name in FIELDS]


def _message(text: str, kind: str) -> str:
    return f'<div class="arena-status arena-status-{kind}" role="status" aria-live="polite">{escape(text)}</div>'
