"""The terms and privacy notice where people type: above each prompt box until the voter accepts.

Accepted once per voter (the cookie's id) and stored (Voters.accept_terms); a battle is
not started before that, and the notice does not come back on later visits. Its link
opens the About tab's full text, where the cookie's purpose is stated too.
"""

import gradio as gr

from arena.runtime import Arena
from arena.ui.voter import client_of, voter_of

NOTICE = (
    '<div class="arena-terms-text"><strong>Before your first battle:</strong> Open Arena stores your prompts, '
    "both answers and your votes under a random id kept in a cookie (<code>arena_voter</code>), whose only "
    "purpose is to keep your battles and votes together without a login. Prompts, answers and votes may be "
    "published in anonymised vote dumps, so <strong>do not enter private or personal information</strong>. "
    '<a href="#about" data-arena-tab="about">Terms and privacy in full</a></div>'
)
ASK = "Please read the notice above the prompt box and press I agree before your first battle."
# The notice's link selects the About tab (Gradio's tabs have no URLs); on a phone the
# notice stays just above the prompt box, which the layout moves to the top.
HEAD = """
<style>
.arena-terms { padding: .5rem .75rem !important; border: 1px solid var(--border-color-primary); }
.arena-terms-text { font-size: .92rem; }
@media (max-width: 480px) { .arena-terms { order: -2; } .arena-terms-text { font-size: .85rem; } }
</style>
<script>
document.addEventListener("click", event => {
  const link = event.target.closest && event.target.closest("a[data-arena-tab]");
  if (!link) return;
  event.preventDefault();
  document.querySelector(`#tab-${link.dataset.arenaTab}-button`)?.click();
});
</script>
"""


def build_notice(prefix: str) -> tuple[gr.Row, gr.Button]:
    """The notice and its I agree button, inside the current panel (hidden until the page load finds
    the voter has not accepted yet: no flash of it for those who have)."""
    with gr.Row(elem_classes=["arena-terms"], elem_id=f"{prefix}-terms", equal_height=True, visible=False) as row:
        gr.HTML(NOTICE, apply_default_css=False, scale=5)
        agree = gr.Button("I agree", variant="primary", size="sm", scale=1, min_width=90, elem_id=f"{prefix}-agree")
    return row, agree


def wire_terms(arena: Arena, page: gr.Blocks, notices: list[tuple[gr.Row, gr.Button]]) -> None:
    """Hide every notice once this voter has accepted: at page load, and when any I agree is pressed."""
    rows = [row for row, _ in notices]

    async def shown(request: gr.Request) -> list[gr.Row]:
        accepted = await arena.voters.accepted_terms(voter_of(request))
        return [gr.Row(visible=not accepted) for _ in rows]

    async def accept(request: gr.Request) -> list[gr.Row]:
        who = client_of(arena, request)
        await arena.voters.accept_terms(who.voter_id, who.ip_hash)
        return [gr.Row(visible=False) for _ in rows]

    page.load(shown, None, rows, queue=False, show_progress="hidden", api_visibility="private")
    for _, agree in notices:
        agree.click(accept, None, rows, queue=False, show_progress="hidden", api_visibility="private")
