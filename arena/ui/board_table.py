"""The leaderboard table as HTML: sortable columns and a card per model name.

Sorting happens in the browser (SORT_JS, run once by the board's gr.HTML): the rows
are already on the page, so a click reorders them at once without a server trip.
Each cell carries its raw value in data-sort, so "1,204" sorts as a number. A model
name is a button that opens its card as a native popover: no script, Escape and a
click outside close it, and a screen reader announces it as a dialog.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from arena.services.catalog import PublicModel
from arena.vocabulary import ModelStatus


@dataclass(frozen=True)
class Column:
    """A table column: its header, how it sorts, and whether a phone shows it."""

    title: str
    kind: str  # "number" or "text": how the browser compares data-sort values
    first: str  # the direction of a first click: the order a reader wants first
    essential: bool  # shown at phone width; the others are hidden there (no sideways scrolling)


COLUMNS = (
    Column("Rank (UB)", "number", "ascending", True),
    Column("Model", "text", "ascending", True),
    Column("Rating", "number", "descending", True),
    Column("95% CI", "number", "ascending", False),
    Column("Votes", "number", "descending", True),
    Column("Win rate", "number", "descending", False),
    Column("Organisation", "text", "ascending", False),
    Column("License", "text", "ascending", False),
)
SHOWN_STATUSES = (ModelStatus.ACTIVE, ModelStatus.PENDING, ModelStatus.PROBING)

# Scoped to the board (gr.HTML css_template); a popover card sits in the top layer but stays a descendant.
CSS = """
th button[data-sort] { all: unset; cursor: pointer; font-weight: 600; }
th button[data-sort]::after { content: " ↕"; opacity: .45; font-size: .8em; }
th[aria-sort="ascending"] button::after { content: " ▲"; opacity: 1; }
th[aria-sort="descending"] button::after { content: " ▼"; opacity: 1; }
th button[data-sort]:focus-visible { outline: 3px solid #2563eb; outline-offset: 2px; }
.arena-model-name { all: unset; cursor: pointer; color: var(--link-text-color, #2563eb); text-decoration: underline; }
.arena-model-name:focus-visible { outline: 3px solid #2563eb; outline-offset: 2px; }
.arena-card { max-width: min(26rem, 92vw); padding: 1rem 1.25rem; border: 1px solid var(--border-color-primary);
  border-radius: .75rem; background: var(--background-fill-primary); color: var(--body-text-color);
  box-shadow: 0 10px 30px rgb(0 0 0 / .25); white-space: normal; }
.arena-card h4 { margin: 0 0 .5rem; }
.arena-card dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem .8rem; margin: .5rem 0; }
.arena-card dt { font-weight: 600; }
.arena-card dd { margin: 0; }
.arena-card::backdrop { background: rgb(0 0 0 / .2); }
.arena-deprecated { font-size: .75rem; padding: 0 .35rem; border-radius: .6rem; background: #e4e4e7; color: #27272a; }
@media (max-width: 480px) {
  .arena-col-extra { display: none; }
  .arena-board td.arena-col, .arena-board th.arena-col { white-space: normal; padding: .3rem .3rem; }
}
"""
# Run once per page by gr.HTML (js_on_load): one delegated listener survives every new board.
SORT_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('th button[data-sort]');
  if (!button) return;
  const th = button.closest('th');
  const table = th.closest('table');
  const index = [...th.parentNode.children].indexOf(th);
  const current = th.getAttribute('aria-sort');
  const direction = current ? (current === 'ascending' ? 'descending' : 'ascending') : button.dataset.first;
  table.querySelectorAll('thead th').forEach((other) => other.removeAttribute('aria-sort'));
  th.setAttribute('aria-sort', direction);
  const numeric = button.dataset.sort === 'number';
  const value = (row) => {
    const raw = row.cells[index].dataset.sort ?? row.cells[index].innerText;
    return numeric ? parseFloat(raw) : raw.toLowerCase();
  };
  const body = table.tBodies[0];
  const sign = direction === 'ascending' ? 1 : -1;
  const rows = [...body.rows].sort((a, b) => {
    const x = value(a), y = value(b);
    return sign * (numeric ? x - y : x.localeCompare(y));
  });
  rows.forEach((row) => body.appendChild(row));
});
"""


def board_table(rows: list[dict], cards: dict[str, PublicModel]) -> str:
    """The rows (best first) as a sortable table, each name opening its model's card."""
    head = "".join(
        f'<th scope="col" class="{_column_class(column)}">'
        f'<button type="button" data-sort="{column.kind}" data-first="{column.first}">{column.title}</button></th>'
        for column in COLUMNS
    )
    body = [_row(number, row, cards.get(row["model"])) for number, row in enumerate(rows)]
    return (
        '<div class="arena-table-wrap" tabindex="0" role="region" aria-label="Leaderboard table">'
        f'<table class="arena-board" id="lb-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _row(number: int, row: dict, card: PublicModel | None) -> str:
    mark = ' <span class="arena-provisional">provisional</span>' if row.get("provisional") else ""
    if card is not None and card.status not in SHOWN_STATUSES:
        mark += f' <span class="arena-deprecated">{escape(str(card.status))}</span>'
    width = row["ci_high"] - row["ci_low"]
    cells = (
        (row["rank_ub"], row["rank_ub"]),
        (row["model"], _model_cell(number, row["model"], card) + mark),
        (f"{row['rating']:.3f}", f"{row['rating']:.0f}"),
        (f"{width:.3f}", f"+{row['ci_high'] - row['rating']:.0f} / −{row['rating'] - row['ci_low']:.0f}"),
        (row["votes"], f"{row['votes']:,}"),
        (f"{row['win_rate']:.4f}", f"{row['win_rate']:.0%}"),
        (row.get("organisation") or "", escape(row.get("organisation") or "–")),
        (row.get("license") or "", escape(row.get("license") or "–")),
    )
    return (
        "<tr>"
        + "".join(
            f'<td class="{_column_class(column)}" data-sort="{escape(str(raw))}">{shown}</td>'
            for column, (raw, shown) in zip(COLUMNS, cells, strict=True)
        )
        + "</tr>"
    )


def _model_cell(number: int, name: str, card: PublicModel | None) -> str:
    """The name as a button opening the model's card (plain text when the catalog has no entry)."""
    if card is None:
        return escape(name)
    target = f"lb-card-{number}"
    facts = (
        ("Organisation", card.organisation),
        ("Licence", card.license),
        ("Parameters", card.parameters),
        ("Open weights", None if card.open_weights is None else ("yes" if card.open_weights else "no")),
        ("Output", card.output_format),
        ("Status", str(card.status)),
    )
    listed = "".join(f"<dt>{label}</dt><dd>{escape(value)}</dd>" for label, value in facts if value)
    link = (
        f'<p><a href="{escape(card.url)}" target="_blank" rel="noopener noreferrer">{escape(card.url)}</a></p>'
        if card.url and card.url.startswith(("https://", "http://"))
        else ""
    )
    description = f"<p>{escape(card.description)}</p>" if card.description else ""
    return (
        f'<button type="button" class="arena-model-name" popovertarget="{target}">{escape(name)}</button>'
        f'<div id="{target}" popover class="arena-card" role="dialog" aria-label="{escape(name)}">'
        f"<h4>{escape(name)}</h4>{description}<dl>{listed}</dl>{link}"
        f'<button type="button" popovertarget="{target}" popovertargetaction="hide">Close</button></div>'
    )


def _column_class(column: Column) -> str:
    return "arena-col" if column.essential else "arena-col arena-col-extra"
