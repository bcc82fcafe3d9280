"""The "Submit a model" tab: model authors submit an OpenAI-compatible endpoint and check on it.

A thin layer over `arena.submissions` (arena/services/submissions.py), as the REST routes
in arena/api/submissions.py are: the same abuse gate first (`Voters.gate_submission` with
the client's IP hash), then `submit`, which checks, stores (the key encrypted), starts
the probe and returns the submission with the author token. The page shows the id and
the token once and never sends the API key back; "Check a submission" shows the author's
status view (status, probe per prompt, battles, errors, votes, rating once ranked).
Errors the services raise are shown as their messages. No SQL here.
"""

from __future__ import annotations

from html import escape
from typing import Any

import gradio as gr

from arena.api.submissions import with_board
from arena.errors import ArenaError
from arena.runtime import Arena
from arena.services.submissions import LIMITS, SubmissionForm, SubmissionView
from arena.settings import Settings
from arena.ui.battle import MODALITY_LABELS
from arena.ui.voter import client_of
from arena.vocabulary import ModelStatus

STATUS_WORDS = {
    ModelStatus.PROBING: "probing: the test prompts are being sent to the endpoint",
    ModelStatus.PENDING: "pending: waiting (see the reason)",
    ModelStatus.ACTIVE: "active: in battles",
    ModelStatus.DISABLED: "disabled: out of battles for now",
    ModelStatus.REJECTED: "rejected",
    ModelStatus.RETIRED: "withdrawn: out of new battles, its votes stay on the boards' history",
}
STATUS_KIND = {
    ModelStatus.PROBING: "working",
    ModelStatus.PENDING: "info",
    ModelStatus.ACTIVE: "ok",
    ModelStatus.DISABLED: "error",
    ModelStatus.REJECTED: "error",
    ModelStatus.RETIRED: "info",
}


def intro_markdown(settings: Settings) -> str:
    """What happens after pressing Submit; the limits come from the settings."""
    return f"""
### Submit a model
Serve your model behind an **OpenAI-compatible endpoint** (`/v1/chat/completions` for text,
`/v1/images/generations` for images, `/v1/3d/generations` for 3D) reachable over **https**, and fill in the form.

1. **Probe:** the arena sends a few test prompts of the model's modality to the endpoint at once and records each
   answer's latency, format and error. A failed probe leaves the submission pending, with the reason.
2. **Approval:** an operator of this arena reviews the submission and approves or rejects it.
3. **Battles:** once approved, the model enters anonymous battles (more often while it is new) and the
   leaderboard, marked *provisional* until it has {settings.provisional_votes} votes.

Limits: {settings.submissions_pending_max} submissions waiting for a decision per author and per address, and
{settings.organisation_active_max} models active or waiting per organisation. Only OpenAI-compatible endpoints
over https are accepted, and only on public addresses.

The **API key** (if your endpoint needs one) is stored encrypted, used only to call your endpoint, and **never shown
again**, here or anywhere else. You get a **submission id** and an **author token**: the token is shown once, so
keep it; with both you can check the submission below (or at `GET /api/v1/submissions/{{id}}`).
"""


def _message(text: str, kind: str) -> str:
    return f'<div class="arena-status arena-status-{kind}" role="status" aria-live="polite">{escape(text)}</div>'


def _optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def created_html(view: SubmissionView, token: str) -> str:
    """The success box: the id and the token (once), never the key."""
    code = 'style="user-select: all; word-break: break-all;"'
    return (
        '<div class="arena-status arena-status-ok" role="status" aria-live="polite" id="submit-created">'
        f"<p><strong>Submitted {escape(view.name)}.</strong> The probe is running; "
        "check the submission below in a few seconds.</p>"
        f'<p>Submission id: <code id="submit-id" {code}>{escape(view.id)}</code></p>'
        f'<p>Author token (<strong>shown once: keep it</strong>): <code id="submit-token" {code}>'
        f"{escape(token)}</code></p>"
        "<p>Send the token with later submissions to keep them together, and as "
        "<code>Authorization: Bearer</code> to the API.</p>"
        "</div>"
    )


def _cell(value: Any) -> str:
    return "" if value is None else escape(str(value))


def _probe_html(probe: dict[str, Any] | None, probed_at: Any) -> str:
    if not probe:
        return "<h4>Probe</h4><p>Not probed yet.</p>"
    verdict = "passed" if probe.get("ok") else "failed"
    when = f" ({escape(str(probed_at)[:19])} UTC)" if probed_at else ""
    parts = [f"<h4>Probe</h4><p>The latest probe <strong>{verdict}</strong>{when}.</p>"]
    if probe.get("error"):
        parts.append(f"<p>Error: {escape(str(probe['error']))}</p>")
    results = probe.get("results") or []
    if results:
        head = "".join(
            f'<th scope="col">{name}</th>' for name in ("Prompt", "Result", "Latency", "First text", "Format", "Error")
        )
        rows = []
        for result in results:
            latency = result.get("latency_ms")
            first = result.get("first_text_ms")
            rows.append(
                "<tr>"
                f"<td>{_cell(result.get('prompt'))}</td>"
                f"<td>{'ok' if result.get('ok') else 'failed'}</td>"
                f"<td>{'' if latency is None else f'{latency:,} ms'}</td>"
                f"<td>{'' if first is None else f'{first:,} ms'}</td>"
                f"<td>{_cell(result.get('format'))}</td>"
                f'<td style="white-space: normal;">{_cell(result.get("error"))}</td>'
                "</tr>"
            )
        parts.append(
            '<div class="arena-table-wrap"><table class="arena-board" id="submit-probe">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    return "".join(parts)


def _rating_html(board: dict[str, Any] | None) -> str:
    if not board:
        return "<p>Rating: not ranked yet (a model needs votes in battles first).</p>"
    provisional = ' <span class="arena-provisional">provisional</span>' if board.get("provisional") else ""
    return (
        f"<p>Rating: <strong>{board['rating']:.0f}</strong> "
        f"(95% CI {board['ci_low']:.0f}–{board['ci_high']:.0f}), rank {board['rank']}, "
        f"{board['votes']:,} votes on the leaderboard{provisional}</p>"
    )


def status_html(view: SubmissionView) -> str:
    """The author's status view, readable: status and reason, probe per prompt, counts, errors, rating."""
    kind = STATUS_KIND.get(view.status, "info")
    reason = f"<br>Reason: {escape(view.reason)}" if view.reason else ""
    again = (
        "<br>Press <strong>Check</strong> again in a few seconds for the probe's result."
        if view.status == ModelStatus.PROBING
        else ""
    )
    parts = [
        f'<div id="submit-status-view"><div class="arena-status arena-status-{kind}" role="status" aria-live="polite">'
        f"<strong>{escape(view.name)}</strong> ({escape(view.modality.value)}): "
        f'status <strong id="submit-status-value">{escape(view.status.value)}</strong> '
        f"({escape(STATUS_WORDS.get(view.status, ''))}){reason}{again}</div>",
        f'<p style="overflow-wrap: anywhere;">Endpoint: <code>{escape(view.base_url)}</code>'
        f", model <code>{escape(view.model)}</code>; "
        f"{'an API key is stored, encrypted' if view.has_api_key else 'no API key'}. "
        f"Submitted {escape(str(view.created_at)[:19])} UTC, updated {escape(str(view.updated_at)[:19])} UTC.</p>",
        f"<p>Battles served: <strong>{view.battles:,}</strong>, of which failed: "
        f"<strong>{view.failed_battles:,}</strong>; votes: <strong>{view.votes:,}</strong>.</p>",
        _rating_html(view.board),
        _probe_html(view.probe, view.probed_at),
    ]
    if view.errors:
        items = "".join(
            f"<li>{escape(str(entry.get('at', ''))[:19])}: {escape(str(entry.get('error', '')))}</li>"
            for entry in view.errors[::-1]
        )
        parts.append(f"<h4>Recent errors (newest first)</h4><ul>{items}</ul>")
    else:
        parts.append("<h4>Recent errors</h4><p>None in battles or health checks.</p>")
    parts.append("</div>")
    return "".join(parts)


def build_submit_tab(arena: Arena) -> None:
    """The whole tab, inside the page's main tabs."""
    with gr.Tab("Submit a model", id="submit", elem_id="tab-submit"):
        gr.Markdown(intro_markdown(arena.settings), elem_id="submit-intro")
        with gr.Row():
            name = gr.Textbox(
                label="Public model name (name)",
                placeholder="my-model-7b",
                max_length=LIMITS["name"],
                elem_id="submit-name",
                min_width=200,
            )
            modality = gr.Dropdown(
                [(label, value.value) for value, label in MODALITY_LABELS.items()],
                value="text",
                label="Modality",
                elem_id="submit-modality",
                min_width=150,
            )
        with gr.Row():
            base_url = gr.Textbox(
                label="Endpoint base URL (base_url)",
                placeholder="https://api.example.com/v1",
                max_length=LIMITS["base_url"],
                elem_id="submit-base_url",
                min_width=200,
            )
            model = gr.Textbox(
                label="Model id at that endpoint (model)",
                max_length=LIMITS["model"],
                elem_id="submit-model",
                min_width=200,
            )
        api_key = gr.Textbox(
            label="API key (optional: stored encrypted, never shown again)",
            type="password",
            max_length=LIMITS["api_key"],
            elem_id="submit-api_key",
        )
        with gr.Row():
            contact = gr.Textbox(
                label="Contact e-mail, for the operators (contact)",
                max_length=LIMITS["contact"],
                elem_id="submit-contact",
                min_width=200,
            )
            organisation = gr.Textbox(
                label="Organisation", max_length=LIMITS["organisation"], elem_id="submit-organisation", min_width=200
            )
        with gr.Row():
            license_ = gr.Textbox(
                label="License (optional)", max_length=LIMITS["license"], elem_id="submit-license", min_width=150
            )
            parameters = gr.Textbox(
                label="Parameters (optional, e.g. 7B)",
                max_length=LIMITS["parameters"],
                elem_id="submit-parameters",
                min_width=150,
            )
        open_weights = gr.Checkbox(
            label="Open weights (anyone may download them)", value=False, elem_id="submit-open_weights"
        )
        description = gr.Textbox(
            label="Description (optional)", lines=3, max_length=LIMITS["description"], elem_id="submit-description"
        )
        earlier = gr.Textbox(
            label="Author token from an earlier submission (optional: keeps your submissions together)",
            type="password",
            elem_id="submit-author-token",
        )
        send = gr.Button("Submit", variant="primary", elem_id="submit-send")
        created = gr.HTML("", elem_id="submit-result")

        gr.Markdown(
            "### Check a submission\nEnter the submission id and the author token you got when you submitted it.",
            elem_id="check-intro",
        )
        with gr.Row():
            check_id = gr.Textbox(label="Submission id", elem_id="check-id", min_width=200)
            check_token = gr.Textbox(label="Author token", type="password", elem_id="check-token", min_width=200)
        check = gr.Button("Check", elem_id="check-send")
        status = gr.HTML("", elem_id="check-status")

    fields = [name, modality, base_url, model, contact, organisation, license_, parameters, open_weights, description]

    async def submit(values: dict, request: gr.Request):
        form = SubmissionForm(
            name=(values[name] or "").strip(),
            modality=values[modality] or "",
            base_url=(values[base_url] or "").strip(),
            model=(values[model] or "").strip(),
            contact=(values[contact] or "").strip(),
            organisation=(values[organisation] or "").strip(),
            api_key=_optional(values[api_key]),
            license=_optional(values[license_]),
            open_weights=bool(values[open_weights]),
            parameters=_optional(values[parameters]),
            description=_optional(values[description]),
        )
        try:
            who = client_of(arena, request)
            await arena.voters.gate_submission(who.ip_hash)
            view, token = await arena.submissions.submit(form, _optional(values[earlier]), who.ip_hash)
        except ArenaError as exc:
            return {created: _message(f"Not submitted: {exc}", "error")}
        return {
            created: created_html(view, token),
            api_key: "",  # the key never travels back to the browser
            earlier: token,
            check_id: view.id,
            check_token: token,
            status: status_html(view),
        }

    async def show(submission_id: str, token: str) -> str:
        submission_id, token = (submission_id or "").strip(), (token or "").strip()
        if not submission_id or not token:
            return _message("Enter the submission id and the author token.", "info")
        try:
            view = await arena.submissions.status(submission_id, token)
        except ArenaError as exc:
            return _message(f"{exc} (check the id and the token)", "error")
        return status_html(with_board(arena, view))

    send.click(
        submit,
        {*fields, api_key, earlier},
        [created, api_key, earlier, check_id, check_token, status],
        show_progress="minimal",
        api_visibility="private",
    )
    check.click(show, [check_id, check_token], status, show_progress="minimal", api_visibility="private")
