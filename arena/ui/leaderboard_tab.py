"""The Leaderboard tab: cached boards per modality, dimension and group, never a fit.

Every view reads Leaderboards.get, which serves the board the background thread
last fitted; votes only poke that thread. So opening this tab costs a dict
lookup and some HTML, whatever the number of votes.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape

import gradio as gr

from arena.errors import ArenaError
from arena.runtime import Arena
from arena.services.group_compare import compare_groups
from arena.services.leaderboards import board_key, unknown_group_message
from arena.ui.battle import DIMENSION_LABELS, MODALITY_LABELS
from arena.ui.charts import rating_chart, win_rate_heatmap
from arena.vocabulary import DIMENSIONS, GroupField, InvalidReason, Modality

MODALITY_CHOICES = [(label, modality.value) for modality, label in MODALITY_LABELS.items()]
EVERYONE = "all"
GROUP_LABELS = {
    GroupField.CATEGORY: "Prompt category",
    GroupField.LANGUAGE: "Prompt language",
    GroupField.AGE_BAND: "Age band",
    GroupField.GENDER: "Gender",
    GroupField.COUNTRY: "Country",
    GroupField.FIRST_LANGUAGE: "First language",
    GroupField.EXPERTISE: "Expertise",
}
GROUP_CHOICES = [("Everyone, all prompts", EVERYONE), *((GROUP_LABELS[g], g.value) for g in GroupField)]
COLUMNS = ("Rank (UB)", "Model", "Rating", "95% CI", "Votes", "Win rate", "Organisation", "License")
EXCLUDED_LABELS: dict[str, str] = {  # why a vote is not counted, as the line under the table says it
    InvalidReason.IDENTITY_LEAK: "named a model",
    InvalidReason.TOO_FAST: "too fast",
    InvalidReason.QUARANTINED: "quarantined",
    InvalidReason.BANNED: "banned",
    InvalidReason.WITHDRAWN: "withdrawn",
}


def build_leaderboard_tab(arena: Arena) -> tuple[gr.HTML, list, Callable[..., Awaitable[str]]]:
    """Lay out the tab; returns the board, the inputs and the render function (for tab.select)."""
    modality = gr.Radio(MODALITY_CHOICES, value="text", label="Modality", elem_id="lb-modality")
    with gr.Row(equal_height=True):
        dimension = gr.Dropdown(
            _dimension_choices("text"),
            value="overall",
            label="Quality dimension",
            elem_id="lb-dimension",
            min_width=140,
        )
        group = gr.Dropdown(GROUP_CHOICES, value=EVERYONE, label="Filter by", elem_id="lb-group", min_width=140)
        value = gr.Dropdown(
            [],
            value=None,
            label="Category or group",
            allow_custom_value=False,
            interactive=False,
            elem_id="lb-value",
            min_width=140,
            info=f"Only groups with at least {arena.settings.k_anonymity} voters are listed",
        )
    style = gr.Checkbox(
        False,
        label="Control for style (text, overall: length and markdown accounted for)",
        elem_id="lb-style",
    )
    refresh = gr.Button("Refresh", size="sm", elem_id="lb-refresh")
    board = gr.HTML("", elem_id="lb-board", js_on_load=None)
    inputs = [modality, dimension, group, value, style]

    # Handlers reach the database (a first board of a slice, k-anonymity's values) only on the
    # store's read threads, as every other page and API handler does.
    async def render(modality_value, dimension_value, group_value, value_value, style_value=False) -> str:
        return await arena.store.run(
            board_html, arena, modality_value, dimension_value, group_value, value_value, style_value
        )

    async def values_for(m: str, g: str, d: str | None = None) -> gr.Dropdown:
        return await arena.store.run(_value_dropdown, m, g, arena, d)

    async def on_modality(m: str, g: str) -> tuple[gr.Dropdown, gr.Dropdown]:
        return gr.Dropdown(choices=_dimension_choices(m), value="overall"), await values_for(m, g)

    modality.change(
        on_modality,
        [modality, group],
        [dimension, value],
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    ).then(render, inputs, board, queue=False, show_progress="hidden", api_visibility="private")
    # another group, or another dimension, may publish other values (k-anonymity is per board)
    for changed in (group.change, dimension.input):
        changed(
            values_for,
            [modality, group, dimension],
            value,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        ).then(render, inputs, board, queue=False, show_progress="hidden", api_visibility="private")
    for trigger in (value.input, style.input, refresh.click):
        trigger(render, inputs, board, queue=False, show_progress="hidden", api_visibility="private")
    _compare_section(arena, modality, dimension)
    return board, inputs, render


def _compare_section(arena: Arena, modality: gr.Radio, dimension: gr.Dropdown) -> None:
    """Two values of one group side by side: which models differ (Holm-corrected) and the rank correlation."""
    with gr.Accordion("Compare two groups", open=False, elem_id="lb-compare"):
        with gr.Row(equal_height=True):
            field = gr.Dropdown(
                GROUP_CHOICES[1:], value=GroupField.COUNTRY.value, label="Group", elem_id="lb-compare-group"
            )
            first = gr.Dropdown([], value=None, label="Group A", elem_id="lb-compare-a", min_width=120)
            second = gr.Dropdown([], value=None, label="Group B", elem_id="lb-compare-b", min_width=120)
        go = gr.Button("Compare", size="sm", elem_id="lb-compare-go")
        table = gr.HTML("", elem_id="lb-compare-table")

    async def values(m: str, d: str, g: str) -> tuple[gr.Dropdown, gr.Dropdown]:
        choices = await arena.store.run(_group_choices, arena, m, g, d)
        return (
            gr.Dropdown(choices=choices, value=choices[0] if choices else None, interactive=bool(choices)),
            gr.Dropdown(choices=choices, value=choices[1] if len(choices) > 1 else None, interactive=bool(choices)),
        )

    for trigger in (field.change, modality.change, dimension.input):
        trigger(
            values,
            [modality, dimension, field],
            [first, second],
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )

    async def compare(m: str, d: str, g: str, a: str | None, b: str | None) -> str:
        return await arena.store.run(compare_html, arena, m, d, g, a, b)

    go.click(
        compare,
        [modality, dimension, field, first, second],
        table,
        queue=False,
        show_progress="hidden",
        api_visibility="private",
    )


def compare_html(arena: Arena, modality: str, dimension: str, group: str, a: str | None, b: str | None) -> str:
    """The comparison of two groups' cached boards as a table and a line on the rank correlation."""
    if not a or not b:
        return _note(f"Pick two groups, each with at least {arena.settings.k_anonymity} voters.")
    try:
        found = compare_groups(arena.leaderboards, modality, dimension or "overall", group, a, b)
    except ArenaError as exc:
        return _note(_sentence(str(exc)))
    if found.result is None:
        return _note(_sentence(found.message or "this comparison is being computed; try again in a moment"))
    result = found.result
    head = "".join(
        f'<th scope="col">{escape(name)}</th>'
        for name in ("Model", f"Rating in {a}", f"Rating in {b}", "Difference (95% CI)", "p (Holm)", "Differs")
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{cell}</td>"
            for cell in (
                escape(row.model),
                f"{row.rating_a:.0f}",
                f"{row.rating_b:.0f}",
                f"{row.difference:+.0f} ({row.ci_low:+.0f} to {row.ci_high:+.0f})",
                f"{row.p_adjusted:.3g}",
                "yes" if row.significant else "no",
            )
        )
        + "</tr>"
        for row in result.rows
    )
    rho = "n/a" if result.correlation != result.correlation else f"{result.correlation:.2f}"
    interval = (
        f" (95% CI {result.correlation_low:.2f} to {result.correlation_high:.2f})"
        if result.correlation_low is not None and result.correlation_high is not None
        else ""
    )
    return (
        '<div class="arena-table-wrap" tabindex="0" role="region" aria-label="Comparison of two groups">'
        f'<table class="arena-board"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
        f'<p class="arena-legend">Rank correlation (Spearman) between the two boards: {rho}{escape(interval)} '
        f"over {result.models} models. A model differs when its Holm-corrected p-value is under {result.alpha:g}; "
        f"{found.votes_a:,} and {found.votes_b:,} votes.</p>"
    )


def board_html(arena: Arena, modality: str, dimension: str, group: str, value: str | None, style: bool = False) -> str:
    """The cached board as HTML: the 'last updated' line, the table, the chart and the heatmap."""
    if group != EVERYONE and not value:
        return _note("Pick a value for the filter to see that group's leaderboard.")
    try:
        key = board_key(modality, dimension or "overall", (group, value) if group != EVERYONE and value else None)
    except ArenaError as exc:
        return _note(str(exc))
    controlled = style and key.modality == Modality.TEXT and key.dimension == "overall" and key.group is None
    if style and not controlled:
        return _note("Style control is for the overall text board, without a filter.")
    if not arena.leaderboards.publishable(key):  # k-anonymity: under k is as unknown as nobody
        return _note(_sentence(unknown_group_message(key)))
    board = arena.style_boards.get() if controlled else arena.leaderboards.get(key)
    updated = (
        f'<p class="arena-updated">Last updated {escape(_when(board.computed_at))} · '
        f"{board.votes:,} {'vote' if board.votes == 1 else 'votes'} counted</p>"
    )
    if board.status == "pending":
        return _note(_sentence(board.message or "this leaderboard is being computed"))
    if board.status != "ok":
        return (
            updated
            + _excluded(board.excluded)
            + _down_weighted(board.down_weighted, arena.settings.quarantine_weight)
            + _note(
                _sentence(board.message or "too few votes") + " "
                "A table from so few votes would mislead, so none is shown yet."
            )
        )
    rows = board.rows
    order = [row["model"] for row in rows]
    legend = (
        f'<p class="arena-legend"><span class="arena-provisional">provisional</span> fewer than '
        f"{arena.settings.provisional_votes} votes: the rating may still move a lot. Rank (UB): 1 + the "
        "number of models that are better beyond statistical doubt.</p>"
    )
    return (
        updated
        + _table(rows)
        + _excluded(board.excluded)
        + _down_weighted(board.down_weighted, arena.settings.quarantine_weight)
        + _style(board.style)
        + legend
        + "<h3>Ratings with 95% confidence intervals</h3>"
        + rating_chart(rows)
        + "<h3>Win rates</h3>"
        + win_rate_heatmap(board.win_rate_matrix, order)
    )


def _style(style: dict[str, dict[str, float]] | None) -> str:
    """Style control's coefficients: how much each style difference sways a vote."""
    if not style:
        return ""
    parts = ", ".join(
        f"{escape(name)} {values['coef']:+.2f} ({values['ci_low']:+.2f} to {values['ci_high']:+.2f})"
        for name, values in style.items()
    )
    return (
        f'<p class="arena-legend" id="lb-style-coefficients">Controlled for style. Style effects '
        f"(log-odds per standard deviation of the difference, 95% CI): {parts}.</p>"
    )


def _table(rows: list[dict]) -> str:
    head = "".join(f'<th scope="col">{name}</th>' for name in COLUMNS)
    body = []
    for row in rows:
        mark = ' <span class="arena-provisional">provisional</span>' if row.get("provisional") else ""
        cells = (
            row["rank_ub"],
            f"{escape(str(row['model']))}{mark}",
            f"{row['rating']:.0f}",
            f"+{row['ci_high'] - row['rating']:.0f} / −{row['rating'] - row['ci_low']:.0f}",
            f"{row['votes']:,}",
            f"{row['win_rate']:.0%}",
            escape(row.get("organisation") or "–"),
            escape(row.get("license") or "–"),
        )
        body.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
    return (
        '<div class="arena-table-wrap" tabindex="0" role="region" aria-label="Leaderboard table">'
        f'<table class="arena-board"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
    )


def _excluded(excluded: dict[str, int]) -> str:
    """'15 votes not counted: 12 quarantined, 3 too fast', or nothing when every vote counts."""
    total = sum(excluded.values())
    if not total:
        return ""
    parts = ", ".join(f"{count:,} {EXCLUDED_LABELS.get(reason, reason)}" for reason, count in excluded.items())
    return f'<p class="arena-excluded">{total:,} {"vote" if total == 1 else "votes"} not counted: {escape(parts)}</p>'


def _down_weighted(votes: int, weight: float) -> str:
    """The robust fit's note: quarantined votes that still count, a little."""
    if not votes:
        return ""
    return (
        f'<p class="arena-excluded">{votes:,} quarantined {"vote counts" if votes == 1 else "votes count"} '
        f"at weight {weight:g} (robust fit).</p>"
    )


def _dimension_choices(modality: str) -> list[tuple[str, str]]:
    return [(DIMENSION_LABELS.get(d, d.capitalize()), d.value) for d in DIMENSIONS[Modality(modality)]]


def _value_dropdown(modality: str, group: str, arena: Arena, dimension: str | None = None) -> gr.Dropdown:
    """The values of `group` that have a board: at least k distinct voters (from the boards' cache)."""
    if group == EVERYONE:
        return gr.Dropdown(choices=[], value=None, interactive=False)
    choices = _group_choices(arena, modality, group, dimension)
    return gr.Dropdown(choices=choices, value=choices[0] if choices else None, interactive=bool(choices))


def _group_choices(arena: Arena, modality: str, group: str, dimension: str | None) -> list[str]:
    """The values of `group` with at least k distinct voters on this board (from the boards' cache)."""
    try:
        key = board_key(modality, dimension or "overall")
    except ArenaError:
        key = board_key(modality)
    return arena.leaderboards.group_values(key.modality, key.dimension).get(GroupField(group), [])


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _note(message: str) -> str:
    return f'<div class="arena-status arena-status-info" role="status">{escape(message)}</div>'


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."
