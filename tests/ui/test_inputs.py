"""Inputs tell the truth: an over-long prompt is refused with a counter and a message, never
clipped; Side-by-side will not send a model against itself; profile errors name fields as
the form does; the gender choices offer one "Prefer not to say"."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from arena.services.catalog import active_models
from arena.vocabulary import Modality
from tests.ui.conftest import start_server
from tests.ui.test_arena_page import select_tab

LIMIT = 200


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with start_server(tmp_path_factory.mktemp("ui-inputs"), max_prompt_chars=LIMIT) as live:
        yield live


def test_an_over_long_prompt_is_counted_refused_and_kept(new_page):
    view = new_page()
    page = view.page
    counter = page.locator("#arena-text-counter")
    expect(counter).to_contain_text(f"0 / {LIMIT} characters")
    long = ("Explain how rain forms. " * 10).strip()  # 239 characters
    box = page.locator("#arena-text-prompt textarea")
    box.fill(long)
    expect(box).to_have_value(long)  # not clipped at the limit
    expect(counter).to_contain_text(f"{len(long)} / {LIMIT} characters: too long")
    box.press("Enter")
    status = page.locator("#arena-text-status")
    expect(status).to_contain_text(f"Your prompt is {len(long)} characters long; the limit is {LIMIT}")
    expect(box).to_have_value(long)  # still there to shorten
    expect(page.locator("#arena-text-vote-model_a")).to_be_disabled()
    view.screenshot("inputs-prompt-too-long")
    box.fill(long[:LIMIT])
    expect(counter).not_to_contain_text("too long")


def test_side_by_side_will_not_send_a_model_against_itself(new_page, server):
    view = new_page()
    page = view.page
    select_tab(page, "sbs", "sbs-text")
    names = sorted(active_models(server.arena.store, Modality.TEXT))
    pick = page.locator("#sbs-text-pick-b input")
    pick.click()
    page.locator("#sbs-text-pick-b").get_by_role("option", name=names[0], exact=True).click()
    expect(page.locator("#sbs-text-send")).to_be_disabled()
    expect(page.locator("#sbs-text-status")).to_contain_text("Choose two different models")
    view.screenshot("inputs-same-model")
    pick.click()
    page.locator("#sbs-text-pick-b").get_by_role("option", name=names[1], exact=True).click()
    expect(page.locator("#sbs-text-send")).to_be_enabled()
    expect(page.locator("#sbs-text-status")).not_to_contain_text("Choose two different models")


def test_profile_errors_use_the_form_labels_and_gender_has_one_prefer_not_to_say(new_page):
    view = new_page()
    page = view.page
    page.locator("#profile").get_by_text("About you (optional)").click()
    page.locator("#profile-gender input").click()
    expect(page.locator("#profile-gender").get_by_role("option", name="Prefer not to say")).to_have_count(1)
    page.keyboard.press("Escape")
    language = page.locator("#profile-first_language textarea, #profile-first_language input").first
    language.fill("English!")
    language.press("Tab")
    page.locator("#profile-save").click()
    message = page.locator("#profile-message")
    expect(message).to_contain_text("First language must be a language code")
    expect(message).not_to_contain_text("first_language")
    view.screenshot("inputs-profile-error")
