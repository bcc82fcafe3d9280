"""The Leaderboard tab: cached boards per modality, dimension and group, never a fit.

Every view reads Leaderboards.get, which serves the board the background thread
last fitted; votes only poke that thread. So opening this tab costs a dict
lookup and some HTML, whatever the number of votes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape

import gradio as gr
from gradio.components import Component

from arena.errors import ArenaError
from arena.runtime import Arena
from arena.services.catalog import PublicModel, list_models
from arena.services.group_compare import compare_groups
from arena.services.leaderboards import Board, BoardKey, board_key
from arena.ui.battle import DIMENSION_LABELS, MODALITY_LABELS
from arena.ui.board_table import CSS as BOARD_CSS
from arena.ui.board_table import SHOWN_STATUSES, SORT_JS, board_table
from arena.ui.charts import rating_chart, win_rate_heatmap
from arena.vocabulary import DIMENSIONS, GroupField, InvalidReason, Modality

POLL_S = 2.0  # while the tab is open: a pending board appears, a refit shows, without a Refresh button
# After each render the browser's address bar takes the board's query string: a reader shares what they see.
URL_JS = """(modality, dimension, group, value, style, showAll) => {
  const query = new URLSearchParams({tab: 'leaderboard', modality, dimension: dimension || 'overall'});
  if (group && group !== 'all' && value) { query.set('group', group); query.set('value', value); }
  if (style) query.set('style', 'controlled');
  if (showAll) query.set('all', '1');
  history.replaceState(history.state, '', '?' + query.toString());
}"""
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
EXCLUDED_LABELS: dict[str, str] = {  # why a vote is not counted, as the line under the table says it
    InvalidReason.IDENTITY_LEAK: "named a model",
    InvalidReason.TOO_FAST: "too fast",
    InvalidReason.QUARANTINED: "quarantined",
    InvalidReason.BANNED: "banned",
    InvalidReason.WITHDRAWN: "withdrawn",
}


@dataclass(frozen=True)
class BoardTab:
    """What app.py wires to the page: the tab's outputs, the poll timer and the handlers for
    the tab's selection and for a shared URL."""

    board: gr.HTML
    note: gr.HTML
    controls: list[Component]  # modality, dimension, group, value, style, show_all
    shown: gr.State  # the stamp of the board and filters on screen: polls re-render only when it moves
    timer: gr.Timer
    show: Callable[..., Awaitable[tuple]]
    from_url: Callable[..., Awaitable[tuple]]


def build_leaderboard_tab(arena: Arena) -> BoardTab:
    """Lay out the tab and wire its controls; the caller wires `show` and `from_url`."""
    modality = gr.Radio(MODALITY_CHOICES, value="text", label="Modality", elem_id="lb-modality")
    with gr.Row(equal_height=True):
        dimension = gr.Dropdown(
            _dimension_choices("text"),
            value="overall",
            label="Quality dimension",
            elem_id="lb-dimension",
            min_width=140,
        )
        group = gr.Dropdown([GROUP_CHOICES[0]], value=EVERYONE, label="Filter by", elem_id="lb-group", min_width=140)
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
    with gr.Row():
        style = gr.Checkbox(
            False,
            label="Control for style (text, overall: length and markdown accounted for)",
            elem_id="lb-style",
        )
        show_all = gr.Checkbox(False, label="Show deprecated and disabled models", elem_id="lb-all")
    note = gr.HTML("", elem_id="lb-note")  # what a shared link asked for that does not exist, until the next choice
    board = gr.HTML("", elem_id="lb-board", js_on_load=SORT_JS, css_template=BOARD_CSS)
    shown = gr.State("")
    timer = gr.Timer(POLL_S, active=False)
    controls: list[Component] = [modality, dimension, group, value, style, show_all]
    private = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}

    # Handlers reach the database (a first board of a slice, k-anonymity's values, model cards) only
    # on the store's read threads, as every other page and API handler does.
    async def refresh(*chosen) -> tuple[gr.Dropdown, gr.Dropdown, str, str]:
        return await arena.store.run(board_state, arena, BoardChoice.of(*chosen))

    async def poll(*chosen_and_shown) -> tuple:
        """A tick: the board again when it moved (a pending board fitted, new votes), else nothing at all,
        so an unchanged board is never re-sent (no flicker; the reader's sort order and open card stay).
        The filters are left alone: re-sending a dropdown would close it under the reader's pointer."""
        _, _, html, stamp = await refresh(*chosen_and_shown[:-1])
        return (gr.skip(), gr.skip()) if stamp == chosen_and_shown[-1] else (html, stamp)

    def on_modality(m: str) -> gr.Dropdown:
        return gr.Dropdown(choices=_dimension_choices(m), value="overall")

    async def show(*chosen) -> tuple:
        """The tab opened: the board as cached now, and polling while the tab stays open."""
        return *await refresh(*chosen), gr.Timer(active=True)

    async def choose(*chosen) -> tuple:
        """The reader chose: that board, and any message about a shared link's values goes."""
        return "", *await refresh(*chosen)

    state = [note, group, value, board, shown]
    shared = {"fn": None, "inputs": controls, "js": URL_JS, **private}  # the address bar follows the board
    modality.input(on_modality, modality, dimension, **private).then(choose, controls, state, **private).then(**shared)
    for trigger in (dimension.input, group.input, value.input, style.input, show_all.input):
        trigger(choose, controls, state, **private).then(**shared)
    timer.tick(poll, [*controls, shown], [board, shown], **private)
    _compare_section(arena, modality, dimension)

    async def from_url(request: gr.Request) -> tuple:
        return await arena.store.run(_from_url, arena, dict(request.query_params))

    return BoardTab(board, note, controls, shown, timer, show, from_url)


def wire_leaderboard(page: gr.Blocks, tabs: gr.Tabs, tab: gr.Tab, view: BoardTab) -> None:
    """Render the board when its tab opens, poll only while it is open, and open it from a shared URL."""
    private = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
    group, value = view.controls[2:4]
    tab.select(view.show, view.controls, [group, value, view.board, view.shown, view.timer], **private).then(
        None, view.controls, None, js=URL_JS, **private
    )
    tabs.select(_poll_on_board, None, view.timer, **private)
    outputs = [tabs, *view.controls, view.note, view.board, view.shown, view.timer]
    page.load(view.from_url, None, outputs, **private)


def _poll_on_board(selected: gr.SelectData) -> gr.Timer:
    """Another tab opened: stop polling the leaderboard (its tab's own select starts it)."""
    return gr.skip() if selected.value == "Leaderboard" else gr.Timer(active=False)


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


@dataclass(frozen=True)
class BoardChoice:
    """The board a reader asked for, as the controls (or a shared URL) say it."""

    modality: str
    dimension: str | None
    group: str
    value: str | None
    style: bool = False
    show_all: bool = False

    @classmethod
    def of(cls, modality, dimension, group, value, style=False, show_all=False) -> BoardChoice:
        return cls(modality, dimension, group or EVERYONE, value, bool(style), bool(show_all))


def board_state(arena: Arena, choice: BoardChoice) -> tuple[gr.Dropdown, gr.Dropdown, str, str]:
    """The filters this board offers (the reader's choice kept where it still exists), the board's
    HTML, and a stamp of both: a poll that finds the same stamp leaves the page alone."""
    group, value = _filter_dropdowns(arena, choice.modality, choice.dimension, choice.group, choice.value)
    choice = replace(choice, group=group.value, value=value.value)
    html, stamp = board_view(arena, choice)
    return group, value, html, f"{stamp}|{group.choices}|{value.choices}"


def board_view(arena: Arena, choice: BoardChoice) -> tuple[str, str]:
    """The board's HTML and its stamp: what the HTML shows, to tell whether a later poll found news."""
    if choice.group != EVERYONE and not choice.value:
        return _note("Pick a value for the filter to see that group's leaderboard."), "no-value"
    try:
        group = (choice.group, choice.value) if choice.group != EVERYONE and choice.value else None
        key = board_key(choice.modality, choice.dimension or "overall", group)
    except ArenaError as exc:
        return _note(_sentence(str(exc))), "invalid"
    controlled = choice.style and key.modality == Modality.TEXT and key.dimension == "overall" and key.group is None
    if choice.style and not controlled:
        return _note("Style control is for the overall text board, without a filter."), "no-style"
    if not arena.leaderboards.publishable(key):  # k-anonymity: under k is as unknown as nobody
        label = GROUP_LABELS.get(GroupField(key.group), str(key.group)) if key.group else ""
        return _note(
            f"There is no leaderboard for {label.lower()} \u201c{key.value}\u201d: pick one of the listed values "
            f"(a group is listed once at least {arena.settings.k_anonymity} voters are in it)."
        ), "unknown-group"
    board = arena.style_boards.get() if controlled else arena.leaderboards.get(key)
    stamp = f"{key}|{controlled}|{choice.show_all}|{board.status}|{board.computed_at.isoformat()}"
    return board_html(arena, board, list_models(arena.store, key.modality), choice.show_all), stamp


def board_html(arena: Arena, board: Board, models: list[PublicModel], show_all: bool) -> str:
    """A cached board as HTML: the 'last updated' line, the table, the chart and the heatmap."""
    updated = (
        f'<p class="arena-updated">Last updated {escape(_when(board.computed_at))} · '
        f"{board.votes:,} {'vote' if board.votes == 1 else 'votes'} counted</p>"
    )
    if board.status == "pending":
        return _note("This leaderboard is being computed; it appears here by itself in a moment.")
    notes = _excluded(board.excluded) + _down_weighted(board.down_weighted, arena.settings.quarantine_weight)
    if board.status != "ok":
        return (
            updated
            + notes
            + _note(
                _sentence(board.message or "too few votes") + " "
                "A table from so few votes would mislead, so none is shown yet."
            )
        )
    cards = {model.name: model for model in models}
    rows = board.rows if show_all else [row for row in board.rows if _shown(cards.get(row["model"]))]
    hidden = len(board.rows) - len(rows)
    legend = (
        f'<p class="arena-legend"><span class="arena-provisional">provisional</span> fewer than '
        f"{arena.settings.provisional_votes} votes: the rating may still move a lot. Rank (UB): 1 + the "
        "number of models that are better beyond statistical doubt. Click a column to sort, a name for its card."
        + (f" {hidden} deprecated or disabled {'model is' if hidden == 1 else 'models are'} hidden." if hidden else "")
        + "</p>"
    )
    return (
        updated
        + board_table(rows, cards)
        + notes
        + _style(board.style)
        + legend
        + "<h3>Ratings with 95% confidence intervals</h3>"
        + rating_chart(rows)
        + "<h3>Win rates</h3>"
        + win_rate_heatmap(board.win_rate_matrix, [row["model"] for row in rows])
    )


def _shown(card: PublicModel | None) -> bool:
    """Whether the default view lists a model: those in battles or about to be (not retired or disabled)."""
    return card is None or card.status in SHOWN_STATUSES


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


def _filter_dropdowns(
    arena: Arena, modality: str, dimension: str | None, group: str, value: str | None
) -> tuple[gr.Dropdown, gr.Dropdown]:
    """The filters this board offers: only group fields with a published value, and their values;
    the reader's choice is kept where it still exists."""
    fields = _group_fields(arena, modality, dimension)
    group = group if group in (choice for _, choice in fields) else EVERYONE
    return gr.Dropdown(choices=fields, value=group), _value_dropdown(modality, group, arena, dimension, value)


def _group_fields(arena: Arena, modality: str, dimension: str | None) -> list[tuple[str, str]]:
    """'Everyone' and the group fields that have at least one published value on this board."""
    key = _slice(modality, dimension)
    found = arena.leaderboards.group_values(key.modality, key.dimension)
    return [GROUP_CHOICES[0], *((GROUP_LABELS[g], g.value) for g in GroupField if found.get(g))]


def _value_dropdown(
    modality: str, group: str, arena: Arena, dimension: str | None = None, current: str | None = None
) -> gr.Dropdown:
    """The values of `group` that have a board: at least k distinct voters (from the boards' cache)."""
    if group == EVERYONE:
        return gr.Dropdown(choices=[], value=None, interactive=False)
    choices = _group_choices(arena, modality, group, dimension)
    chosen = current if current in choices else (choices[0] if choices else None)
    return gr.Dropdown(choices=choices, value=chosen, interactive=bool(choices))


def _group_choices(arena: Arena, modality: str, group: str, dimension: str | None) -> list[str]:
    """The values of `group` with at least k distinct voters on this board (from the boards' cache)."""
    key = _slice(modality, dimension)
    return arena.leaderboards.group_values(key.modality, key.dimension).get(GroupField(group), [])


def _slice(modality: str, dimension: str | None) -> BoardKey:
    """The main board of a modality and dimension; its overall board when the dimension is not its own."""
    try:
        return board_key(modality, dimension or "overall")
    except ArenaError:
        return board_key(modality)


def _from_url(arena: Arena, params: dict[str, str]) -> tuple:
    """The page opened from a shared link (?tab=leaderboard&modality=...&group=...&value=...): that board,
    with a message for each value that does not exist. Any other URL leaves the page as it is."""
    if params.get("tab") != "leaderboard":
        return tuple(gr.skip() for _ in range(11))
    problems: list[str] = []
    modality = params.get("modality", "text")
    if modality not in {m.value for m in Modality}:
        problems.append(f"\u201c{modality}\u201d is not a modality; showing text.")
        modality = "text"
    dimension = params.get("dimension", "overall")
    if dimension not in DIMENSIONS[Modality(modality)]:
        problems.append(f"\u201c{dimension}\u201d is not a quality dimension of {modality}; showing overall.")
        dimension = "overall"
    group, value = params.get("group", EVERYONE), params.get("value") or None
    if group != EVERYONE and group not in {g.value for g in GroupField}:
        problems.append(f"\u201c{group}\u201d is not a filter; showing everyone.")
        group, value = EVERYONE, None
    choice = BoardChoice(modality, dimension, group, value, params.get("style") == "controlled", "all" in params)
    groups, values, html, stamp = board_state(arena, choice)
    if group != EVERYONE and (groups.value, values.value) != (group, value):
        label = GROUP_LABELS[GroupField(group)].lower()
        problems.append(
            f"There is no leaderboard for {label} \u201c{value or ''}\u201d: pick one of the listed values "
            f"(a group is listed once at least {arena.settings.k_anonymity} voters are in it)."
        )
    return (
        gr.Tabs(selected="leaderboard"),
        gr.Radio(value=modality),
        gr.Dropdown(choices=_dimension_choices(modality), value=dimension),
        groups,
        values,
        gr.Checkbox(value=choice.style),
        gr.Checkbox(value=choice.show_all),
        "".join(_note(problem) for problem in problems),
        html,
        stamp,
        gr.Timer(active=True),
    )


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _note(message: str) -> str:
    return f'<div class="arena-status arena-status-info" role="status">{escape(message)}</div>'


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:] + "."
