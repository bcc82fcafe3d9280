"""Smaller things a voter notices: a gallery of example prompts per modality, and a page
that follows the system's dark mode."""

from __future__ import annotations

from playwright.sync_api import expect

from arena.services.prompts import example_prompts
from arena.vocabulary import Modality
from tests.ui.conftest import ARTIFACTS
from tests.ui.test_arena_page import select_tab


def luminance(css_colour: str) -> float:
    """Relative brightness 0-1 of an 'rgb(r, g, b)' or 'rgba(...)' colour."""
    r, g, b = (float(part) for part in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3])
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_example_gallery_fills_the_prompt_of_its_modality(new_page):
    view = new_page()
    page = view.page
    for modality in ("text", "image", "3d"):
        select_tab(page, f"arena-{modality}")
        gallery = page.locator(f"#arena-{modality}-examples")
        expect(gallery).to_be_visible()
        first = gallery.locator("button, [role=button], td").first
        shown = first.inner_text().strip()
        assert shown in example_prompts(Modality(modality))
        first.click()
        expect(page.locator(f"#arena-{modality}-prompt textarea")).to_have_value(shown)
    view.screenshot("arena-example-prompts")


def test_dark_mode_follows_the_system_setting(browser, server):
    backgrounds = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        page = context.new_page()
        page.goto(server.url + "/")
        expect(page.locator("#arena-text-prompt textarea")).to_be_visible(timeout=20_000)
        backgrounds[scheme] = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        text = page.evaluate("() => getComputedStyle(document.querySelector('#intro')).color")
        if scheme == "dark":
            assert luminance(text) > 0.6, f"light text on the dark page: {text}"
            ARTIFACTS.mkdir(exist_ok=True)
            for tab in ("leaderboard", "arena"):
                select_tab(page, tab)
                page.screenshot(path=str(ARTIFACTS / f"dark-{tab}.png"), full_page=True)
        context.close()
    assert luminance(backgrounds["light"]) > 0.8 and luminance(backgrounds["dark"]) < 0.2, backgrounds
