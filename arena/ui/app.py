"""The public page: tabs for anonymous battles, named side-by-side, leaderboard, data (vote dumps),
submitting a model and about.

`build_ui` assembles the Blocks; `mount` serves them at / on the API's FastAPI app
with everything the page needs from the Gradio wheel (no CDN, no web fonts), so
the arena works offline and behind firewalls.
"""

import gradio as gr
from fastapi import FastAPI

from arena.runtime import Arena
from arena.ui.about import build_about_tab
from arena.ui.battle import MODALITY_LABELS, PANEL_CSS, build_panel
from arena.ui.connection import HEAD as CONNECTION_HEAD
from arena.ui.data_tab import build_data_tab
from arena.ui.examples import build_examples
from arena.ui.layout import CSS as LAYOUT_CSS
from arena.ui.layout import HEAD as LAYOUT_HEAD
from arena.ui.leaderboard_tab import build_leaderboard_tab, wire_leaderboard
from arena.ui.profile import build_profile_form
from arena.ui.prompt_limit import HEAD as PROMPT_HEAD
from arena.ui.restore import wire_restore
from arena.ui.submit_tab import build_submit_tab
from arena.ui.terms import HEAD as TERMS_HEAD
from arena.ui.terms import wire_terms
from arena.ui.visible import HEAD as VISIBLE_HEAD
from arena.ui.voter import VoterCookieMiddleware

MODALITIES = tuple((label, modality.value) for modality, label in MODALITY_LABELS.items())
INTRO = (
    "## ⚔️ Open Arena\n"
    "Ask anything. Two anonymous models answer side by side. **Vote for the better one**, then see who they were."
)
SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]
CSS = """
.gradio-container { max-width: 1200px !important; margin: 0 auto; font-size: 16px; }
.arena-status { padding: .5rem .75rem; border-radius: .5rem; margin: .25rem 0; font-size: 1rem; }
.arena-status-info { background: var(--background-fill-secondary); }
.arena-status-working { background: #eef4ff; color: #1d3a8a; }
.arena-status-ok { background: #e9f8ee; color: #14532d; }
.arena-status-error { background: #fdecec; color: #7f1d1d; font-weight: 600; }
.arena-progress { height: 4px; margin-top: .4rem; overflow: hidden; background: #c7d7fe; border-radius: 2px; }
.arena-progress div { width: 30%; height: 100%; background: #2563eb; animation: arena-slide 1.2s infinite ease-in-out; }
@keyframes arena-slide { from { margin-left: -30%; } to { margin-left: 100%; } }
@media (prefers-reduced-motion: reduce) { .arena-progress div { animation: none; width: 100%; opacity: .6; } }
.arena-table-wrap { overflow-x: auto; width: 0; min-width: 100%; } /* scrolls instead of widening the page */
.arena-board, .arena-heatmap { border-collapse: collapse; width: 100%; font-size: .95rem; }
.arena-board th, .arena-board td, .arena-heatmap th, .arena-heatmap td {
  padding: .35rem .5rem; border-bottom: 1px solid var(--border-color-primary); text-align: left; white-space: nowrap; }
.arena-heatmap td { text-align: center; color: #111; }
.arena-heatmap caption { caption-side: bottom; text-align: left; font-size: .9rem; padding-top: .3rem; }
.arena-provisional { font-size: .75rem; padding: 0 .35rem; border-radius: .6rem; background: #fff3c4; color: #5c4400; }
.arena-updated, .arena-legend { font-size: .9rem; }
.arena-chart { width: 100%; max-width: 560px; height: auto; }
.arena-chart .arena-grid { stroke: #d4d4d8; stroke-width: 1; }
.arena-chart .arena-tick, .arena-chart .arena-label { font-size: 13px; fill: currentColor; }
.arena-chart .arena-ci { stroke: #2563eb; stroke-width: 3; stroke-linecap: round; }
.arena-chart .arena-dot { fill: #1e3a8a; }
.arena-outputs button[aria-label="Clear"] { display: none !important; }
:focus-visible { outline: 3px solid #2563eb !important; outline-offset: 2px; }
@media (max-width: 480px) {
  .arena-votes > button, .arena-actions > button { flex: 1 1 45% !important; min-width: 0 !important; }
}
"""
# Page-level rules go in <head>: Gradio scopes `css` to the app's content, which excludes the outer padding.
HEAD = (
    '<meta name="description" content="Open Arena: compare two anonymous AI models and vote for the better one.">'
    "<style>@media (max-width: 480px) { gradio-app .main.app { padding: 8px 6px !important; } }</style>"
)


def build_ui(arena: Arena) -> gr.Blocks:
    """The whole page; the services do the work, this only arranges and wires components."""
    with gr.Blocks(title="Open Arena", analytics_enabled=False) as page:
        gr.Markdown(INTRO, elem_id="intro")
        panels = []
        with gr.Tabs(elem_id="main-tabs", overflow_behavior="wrap") as main_tabs:
            with gr.Tab("Arena", id="arena", elem_id="tab-arena"):
                with gr.Tabs(elem_id="arena-modalities", overflow_behavior="wrap") as arena_tabs:
                    for label, modality in MODALITIES:
                        with gr.Tab(label, id=f"arena-{modality}", elem_id=f"tab-arena-{modality}"):
                            panels.append(build_panel(arena, modality))
                            build_examples(panels[-1])
                with gr.Accordion("About you (optional)", open=False, elem_id="profile"):
                    profile_fields, load_profile = build_profile_form(arena)
            with gr.Tab("Side-by-side", id="sbs", elem_id="tab-sbs"):
                gr.Markdown(
                    "Pick both models by name and compare them. These votes are stored, but they "
                    "**never count on the main leaderboard**."
                )
                with gr.Tabs(elem_id="sbs-modalities", overflow_behavior="wrap") as sbs_tabs:
                    for label, modality in MODALITIES:
                        with gr.Tab(label, id=f"sbs-{modality}", elem_id=f"tab-sbs-{modality}"):
                            panels.append(build_panel(arena, modality, named=True))
            with gr.Tab("Leaderboard", id="leaderboard", elem_id="tab-leaderboard") as leaderboard_tab:
                board = build_leaderboard_tab(arena)
            build_data_tab(arena)
            build_submit_tab(arena)
            with gr.Tab("About", id="about", elem_id="tab-about"):
                build_about_tab(arena)
        wire_leaderboard(page, main_tabs, leaderboard_tab, board)
        wire_terms(arena, page, [panel.notice for panel in panels if panel.notice])
        wire_restore(arena, page, panels, {"main": main_tabs, "arena": arena_tabs, "sbs": sbs_tabs})
        page.load(load_profile, None, profile_fields, queue=False, show_progress="hidden", api_visibility="private")
    page.queue(default_concurrency_limit=None)
    return page


def mount(app: FastAPI, arena: Arena) -> FastAPI:
    """Serve the page at / beside the API; Gradio may hand out stored artifacts (and nothing else)."""
    app.add_middleware(VoterCookieMiddleware, secure=arena.settings.secure_cookies)
    theme = gr.themes.Soft(font=SYSTEM_FONTS, font_mono=MONO_FONTS)
    return gr.mount_gradio_app(
        app,
        build_ui(arena),
        path="/",
        allowed_paths=[str(arena.settings.artifacts_dir.resolve())],
        footer_links=[],
        run_history=False,
        ssr_mode=False,
        theme=theme,
        css=CSS + PANEL_CSS + LAYOUT_CSS,
        head=HEAD + CONNECTION_HEAD + LAYOUT_HEAD + VISIBLE_HEAD + PROMPT_HEAD + TERMS_HEAD,
        show_error=False,
    )
