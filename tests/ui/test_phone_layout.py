"""The page's frame: one column width on every tab, a real phone layout at 390x844, labels
that never cover an output, tab bars on the arrow keys, and focus back in the prompt box
after sending and after voting. Screenshots of every tab, desktop and phone."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.arena.simulated import create_voters, write_votes
from tests.ui.test_arena_page import run_battle, select_tab

TABS = ("arena", "sbs", "leaderboard", "data", "submit", "about")
PHONE = {"width": 390, "height": 844, "mobile": True}


@pytest.fixture(scope="module", autouse=True)
def votes(server):
    """Enough text votes for a leaderboard table."""
    names = ["quill-pro", "quill-base", "quill-mini"]
    rows = [(names[i % 3], names[(i + 1) % 3], "model_a" if i % 4 else "model_b", f"voter-{i % 5}") for i in range(60)]
    frame = pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "voter"])
    frame["tstamp"], frame["ip_hash"] = datetime.now(UTC).timestamp(), "x"
    create_voters(server.arena, frame)
    write_votes(server.arena, frame, new_voters=False)


def test_the_column_keeps_one_width_on_every_tab(new_page):
    view = new_page()
    page = view.page
    widths = {}
    for tab in TABS:
        select_tab(page, tab)
        expect(page.locator(f"#tab-{tab}-button")).to_have_attribute("aria-selected", "true")
        widths[tab] = page.locator("#main-tabs").bounding_box()["width"]
        view.screenshot(f"desktop-{tab}")
    assert len(set(widths.values())) == 1, widths


def test_phone_prompt_above_the_fold_answers_stacked_and_nothing_scrolls_sideways(new_page):
    view = new_page(**PHONE)
    page = view.page
    prompt = page.locator("#arena-text-prompt textarea").bounding_box()
    assert prompt["y"] >= 0 and prompt["y"] + prompt["height"] <= 844, f"prompt box at {prompt}"
    buttons = page.locator("#main-tabs [role=tab]")
    for i in range(buttons.count()):  # the tab bar fits the screen
        box = buttons.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, buttons.nth(i).inner_text()

    run_battle(page, "text")
    a, b = (page.locator(f"#arena-text-out-{side}").bounding_box() for side in "ab")
    assert b["y"] >= a["y"] + a["height"], "the answers stack"
    assert a["width"] >= 340 and b["width"] >= 340
    label_bottom, message_top = page.evaluate(
        """() => {
          const side = document.querySelector('#arena-text-out-a');
          const first = side.querySelector('.message');
          for (let node = first; node !== side; node = node.parentElement) node.scrollTop = 0;  // chat at its top
          const label = side.querySelector('label[data-testid=block-label]').getBoundingClientRect();
          return [label.bottom, first.getBoundingClientRect().top];
        }"""
    )
    assert label_bottom <= message_top, "the model's label does not cover its output"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

    select_tab(page, "leaderboard")
    table = page.locator("#lb-table")
    expect(table).to_be_visible(timeout=20_000)
    for column in ("Rank (UB)", "Model", "Rating", "Votes"):
        expect(table.locator("th", has_text=column)).to_be_visible()
    for column in ("Organisation", "License"):
        expect(table.locator("th", has_text=column)).to_be_hidden()
    box = table.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, f"the table fits: {box}"
    for tab in TABS:
        select_tab(page, tab)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the {tab} tab is wider than the phone ({width}px)"
        view.screenshot(f"phone-layout-{tab}")


def test_arrow_keys_move_between_tabs(new_page):
    page = new_page().page
    page.locator("#tab-arena-button").focus()
    page.keyboard.press("ArrowRight")
    expect(page.locator("#tab-sbs-button")).to_be_focused()
    expect(page.locator("#tab-sbs-button")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#tab-arena-button")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("End")
    expect(page.locator("#tab-about-button")).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Home")
    page.locator("#tab-arena-text-button").focus()
    page.keyboard.press("ArrowRight")  # the modality bar too
    expect(page.locator("#tab-arena-image-button")).to_have_attribute("aria-selected", "true")


def test_focus_returns_to_the_prompt_after_sending_and_after_voting(new_page):
    page = new_page().page
    box = page.locator("#arena-text-prompt textarea")
    box.fill("Explain how rain forms, in simple words.")
    box.press("Enter")
    expect(page.locator("#arena-text-vote-model_a")).to_be_enabled(timeout=30_000)
    expect(box).to_be_focused()
    vote = page.locator("#arena-text-vote-tie")
    vote.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#arena-text-reveal")).to_contain_text("Model A was")
    if box.is_disabled():  # a voted battle takes no more prompts: the focus waits on New battle
        expect(page.locator("#arena-text-new")).to_be_focused()
        page.keyboard.press("Enter")
    expect(box).to_be_focused()
