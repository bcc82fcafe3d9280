"""The Data tab: the published vote dumps, each with its size, votes, date range and a download link.

The list is what GET /api/v1/dumps answers (arena/services/exports.py reads the manifests
in the data dir's dumps/ folder); the links go to /api/v1/dumps/{name}. No SQL here.
"""

from html import escape

import gradio as gr

from arena.runtime import Arena
from arena.services.exports import DumpInfo, list_dumps

INTRO = (
    "### Vote dumps\n"
    "Every vote as a file researchers can load with pandas or LMArena's tools: battle id, both models, the winner, "
    "a per-release voter pseudonym (`judge`), time, conversations (text) or output hashes (image, 3D), dimension, "
    "category and whether the vote counts. Each dump has a manifest with its SHA-256 and the `arena rank` command "
    "that reproduces the leaderboard from it. No voter ids or addresses are published; "
    "the coarse demographics each vote carried are published only where enough voters share them (k-anonymity)."
)
COLUMNS = ("Dump", "Format", "Votes", "Size", "Votes cast", "SHA-256", "Manifest")


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def dumps_html(dumps: list[DumpInfo]) -> str:
    """The table of dumps (or a line saying there are none yet)."""
    if not dumps:
        return (
            '<p class="arena-updated" id="data-empty">No vote dumps are published yet. Operators publish them with '
            "<code>arena export</code> or on a schedule (<code>ARENA_DUMP_EVERY</code>).</p>"
        )
    head = "".join(f'<th scope="col">{escape(name)}</th>' for name in COLUMNS)
    rows = []
    for dump in dumps:
        url = f"/api/v1/dumps/{escape(dump.name)}"
        manifest = f"/api/v1/dumps/{escape(dump.name.rsplit('.', 1)[0])}.manifest.json"
        dates = " – ".join(part[:10] for part in (dump.first_vote, dump.last_vote) if part)
        rows.append(
            "<tr>"
            f'<td><a href="{url}" download>{escape(dump.name)}</a></td>'
            f"<td>{escape(dump.format)}</td>"
            f"<td>{dump.rows:,}</td>"
            f"<td>{human_size(dump.size)}</td>"
            f"<td>{escape(dates)}</td>"
            f'<td><code title="{escape(dump.sha256)}">{escape(dump.sha256[:12])}…</code></td>'
            f'<td><a href="{manifest}">manifest</a></td>'
            "</tr>"
        )
    return (
        '<div class="arena-table-wrap"><table class="arena-board" id="data-dumps">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        '<p class="arena-legend">Also at <a href="/api/v1/dumps">/api/v1/dumps</a> (JSON, with each manifest).</p>'
    )


def build_data_tab(arena: Arena) -> None:
    """The whole tab, inside the page's main tabs; the list is read again each time the tab opens."""
    with gr.Tab("Data", id="data", elem_id="tab-data") as tab:
        gr.Markdown(INTRO, elem_id="data-intro")
        table = gr.HTML(dumps_html([]), elem_id="data-table")

    async def render() -> str:
        return dumps_html(await arena.store.run(list_dumps, arena.settings))

    tab.select(render, None, table, queue=False, show_progress="hidden", api_visibility="private")
