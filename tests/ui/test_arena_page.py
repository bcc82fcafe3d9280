"""The public page in a real browser: battles in every modality, votes, reveal, leaderboard,
side-by-side, the voter profile and the phone layout."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from playwright.sync_api import expect

from arena.services.catalog import active_models
from arena.services.leaderboards import board_key, vote_counts
from arena.ui.voter import COOKIE
from arena.vocabulary import Modality

TAB = {"text": "Text", "image": "Image", "3d": "3D"}
PROMPT = {
    "text": "Explain how rain forms, in simple words.",
    "image": "a red house with a green tree",
    "3d": "a red chair",
}
VOTE_LABELS = ("A is better", "B is better", "Tie", "Both are bad")
WINNERS = ("model_a", "model_b", "tie", "both_bad")

# Samples, every few milliseconds, what the voter sees of one panel: whether "A is better"
# is enabled, and how much of each output is on screen (text length, an image, a GLB in the viewer).
RECORDER = """(prefix) => {
  const side = s => document.querySelector(`#${prefix}-out-${s}`);
  const seen = s => {
    const el = side(s);
    const bots = el.querySelectorAll('.bot, [data-testid="bot"]');
    const text = [...bots].map(b => b.innerText).join('').length;
    const model = el.querySelector('a[data-testid="model3d-download-link"][href]');  // the GLB is in the viewer
    return text + (el.querySelector('img[src]') ? 1000000 : 0) + (model ? 1000000 : 0);
  };
  window.__samples = [];
  window.__recorder = setInterval(() => {
    const button = document.querySelector(`#${prefix}-vote-model_a`);
    window.__samples.push([!button.disabled, seen('a'), seen('b')]);
  }, 5);
}"""


T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Await a service call from a test: Playwright's sync API already runs an event loop in this thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=30)


def select_tab(page, *ids: str) -> None:
    for tab in ids:
        page.locator(f"#tab-{tab}-button").click()


def board_text_until(page, expected: str, timeout_s: float = 20) -> None:
    """Wait until the leaderboard shows `expected`: the refit runs in the background and the open tab
    shows it by itself."""
    expect(page.locator("#lb-board")).to_contain_text(expected, timeout=timeout_s * 1000)


def run_battle(page, modality: str, prefix: str = "arena") -> list:
    """Type a prompt, press Enter, wait until the votes open; returns the recorder's samples."""
    panel = f"{prefix}-{modality}"
    for label, winner in zip(VOTE_LABELS, WINNERS):
        button = page.locator(f"#{panel}-vote-{winner}")
        expect(button).to_have_text(label)
        expect(button).to_be_disabled()
    page.evaluate(RECORDER, panel)
    box = page.locator(f"#{panel}-prompt textarea")
    box.fill(PROMPT[modality])
    box.press("Enter")
    expect(page.locator(f"#{panel}-vote-model_a")).to_be_enabled(timeout=30_000)
    time.sleep(0.05)
    samples = page.evaluate("() => { clearInterval(window.__recorder); return window.__samples; }")
    for winner in WINNERS:
        expect(page.locator(f"#{panel}-vote-{winner}")).to_be_enabled()
    return samples


def assert_votes_waited_for_outputs(samples: list) -> None:
    """The vote button was disabled while outputs were still arriving, and enabled only after."""
    opened = next(i for i, (enabled, _, _) in enumerate(samples) if enabled)
    final = samples[-1][1:]
    assert all(a > 0 and b > 0 for a, b in [final]), "both outputs are on screen"
    assert all(sample[1:] == final for sample in samples[opened:]), "nothing changed after the votes opened"
    assert not any(enabled for enabled, _, _ in samples[:opened])


@pytest.mark.parametrize("modality", ["text", "image", "3d"])
def test_battle_vote_reveal_and_leaderboard(new_page, server, modality):
    arena = server.arena
    view = new_page()
    page = view.page
    select_tab(page, "arena", f"arena-{modality}")
    samples = run_battle(page, modality)
    assert_votes_waited_for_outputs(samples)
    if modality == "text":
        streaming = [s for s in samples if not s[0] and 0 < s[1] < samples[-1][1]]
        assert streaming, "text was seen arriving token by token before the votes opened"
        for side in "ab":
            expect(page.locator(f"#arena-text-out-{side}")).to_contain_text(PROMPT["text"])
    elif modality == "image":
        for side in "ab":
            expect(page.locator(f"#arena-image-out-{side} img")).to_be_visible()
        page.locator("#arena-image-dimensions").click()
        page.locator("#arena-image-dim-aesthetics").get_by_label("B", exact=True).check()
    else:
        for side in "ab":
            expect(page.locator(f"#arena-3d-out-{side} canvas")).to_be_visible()
    view.screenshot(f"arena-{modality}-battle")

    page.locator(f"#arena-{modality}-vote-model_a").click()
    reveal = page.locator(f"#arena-{modality}-reveal")
    expect(reveal).to_contain_text("Model A was", timeout=10_000)
    names = set(active_models(arena.store, Modality(modality)))
    shown = [name for name in names if name in reveal.inner_text()]
    assert len(shown) == 2, f"both names revealed: {reveal.inner_text()!r}"
    for side, label in (("a", "Model A · "), ("b", "Model B · ")):
        expect(page.locator(f"#arena-{modality}-out-{side}")).to_contain_text(label)
    for winner in WINNERS:
        expect(page.locator(f"#arena-{modality}-vote-{winner}")).to_be_disabled()  # locked after the vote
    expect(page.locator(f"#arena-{modality}-regenerate")).to_be_disabled()
    view.screenshot(f"arena-{modality}-revealed")

    select_tab(page, "leaderboard")
    page.locator("#lb-modality").get_by_label(TAB[modality], exact=True).check()
    counted = int(vote_counts(arena.store, board_key(modality))["count"].sum())
    assert counted >= 1
    board_text_until(page, f"{counted:,} vote{'' if counted == 1 else 's'} counted")
    if modality == "image":  # the optional dimension vote is its own board
        page.locator("#lb-dimension input").click()
        page.get_by_role("option", name="Aesthetics").click()
        board_text_until(page, "1 vote counted")


def test_follow_up_regenerate_and_new_battle(new_page):
    page = new_page().page
    run_battle(page, "text")
    first = page.locator("#arena-text-out-a").inner_text()
    box = page.locator("#arena-text-prompt textarea")
    box.fill("Shorter, please.")
    box.press("Enter")
    expect(page.locator("#arena-text-vote-model_a")).to_be_enabled(timeout=30_000)
    for side in "ab":  # the same pair answered a second turn
        expect(page.locator(f"#arena-text-out-{side}")).to_contain_text("Shorter, please.")
    assert len(page.locator("#arena-text-out-a").inner_text()) > len(first)

    page.locator("#arena-text-regenerate").click()  # a new battle from the first prompt
    expect(page.locator("#arena-text-out-a")).not_to_contain_text("Shorter, please.")
    expect(page.locator("#arena-text-vote-model_a")).to_be_enabled(timeout=30_000)
    page.locator("#arena-text-new").click()
    expect(page.locator("#arena-text-vote-model_a")).to_be_disabled()
    expect(page.locator("#arena-text-out-a")).not_to_contain_text(PROMPT["text"])

    box.fill(PROMPT["text"])  # New battle in the middle of a stream stops it
    box.press("Enter")
    expect(page.locator("#arena-text-out-a .bot").first).to_be_visible()
    page.locator("#arena-text-new").click()
    page.wait_for_timeout(1500)
    expect(page.locator("#arena-text-out-a")).not_to_contain_text(PROMPT["text"])
    expect(page.locator("#arena-text-vote-model_a")).to_be_disabled()


def test_random_prompt_and_keyboard_only_battle(new_page):
    page = new_page().page
    page.locator("#arena-text-random").focus()
    page.keyboard.press("Enter")
    box = page.locator("#arena-text-prompt textarea")
    expect(box).not_to_have_value("")
    box.focus()
    page.keyboard.press("Enter")
    vote = page.locator("#arena-text-vote-tie")
    expect(vote).to_be_enabled(timeout=30_000)
    vote.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#arena-text-reveal")).to_contain_text("Model A was")


def test_side_by_side_named_battle(new_page, server):
    view = new_page()
    page = view.page
    select_tab(page, "sbs", "sbs-text")
    names = sorted(active_models(server.arena.store, Modality.TEXT))
    expect(page.locator("#sbs-text-pick-a input")).to_have_value(names[0])
    run_battle(page, "text", prefix="sbs")
    expect(page.locator("#sbs-text-out-a")).to_contain_text(f"Model A · {names[0]}")
    page.locator("#sbs-text-vote-model_b").click()
    expect(page.locator("#sbs-text-reveal")).to_contain_text("never count on the main leaderboard")
    view.screenshot("side-by-side")


def test_profile_saves_changes_and_deletes(new_page, server):
    view = new_page()
    page = view.page
    page.locator("#profile").get_by_text("About you (optional)").click()
    expect(page.locator("#profile-consent")).to_contain_text("By pressing Save you agree")
    page.locator("#profile-age_band input").click()
    page.get_by_role("option", name="25-34").click()
    page.locator("#profile-country textarea, #profile-country input").first.fill("fr")
    page.locator("#profile-save").click()
    expect(page.locator("#profile-message")).to_contain_text("Saved")
    voter = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    profile = run_async(server.arena.voters.profile(voter))
    assert profile.age_band == "25-34" and profile.country == "FR" and profile.consent_at

    page.reload()  # the same cookie, the same voter: the form comes back filled in
    page.locator("#profile").get_by_text("About you (optional)").click()
    expect(page.locator("#profile-country textarea, #profile-country input").first).to_have_value("FR")
    expect(page.locator("#profile-age_band input")).to_have_value("25-34")
    country = page.locator("#profile-country textarea, #profile-country input").first
    country.fill("1x")  # not a country code
    country.press("Tab")  # leave the field so the page has taken the new value before Save reads it
    expect(country).to_have_value("1x")
    page.locator("#profile-save").click()
    expect(page.locator("#profile-message")).to_contain_text("two-letter")
    page.locator("#profile-delete").click()
    expect(page.locator("#profile-message")).to_contain_text("Deleted")
    profile = run_async(server.arena.voters.profile(voter))
    assert profile.age_band is None and profile.country is None and profile.consent_at is None
    view.screenshot("profile")


def test_phone_layout_shows_both_outputs(new_page):
    view = new_page(width=390, height=844, mobile=True)
    page = view.page
    run_battle(page, "text")
    for side in "ab":
        box = page.locator(f"#arena-text-out-{side}").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 140
        expect(page.locator(f"#arena-text-out-{side}")).to_contain_text(PROMPT["text"])
    for tab in ("arena", "sbs", "leaderboard", "about"):
        select_tab(page, tab)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the {tab} tab is wider than the phone ({width}px)"
        view.screenshot(f"phone-{tab}")
    font = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('#about-text')).fontSize)")
    assert font >= 14


def test_every_tab_screenshot_and_about(new_page):
    view = new_page()
    page = view.page
    for tab in ("arena", "sbs", "leaderboard", "about"):
        select_tab(page, tab)
        page.wait_for_timeout(300)
        view.screenshot(f"tab-{tab}")
    about = page.locator("#about-text")
    for heading in ("How it works", "The rules", "What is stored, and privacy", "Take part"):
        expect(about).to_contain_text(heading)
    expect(about.get_by_role("link", name="/api/v1/docs")).to_have_attribute("href", "/api/v1/docs")


def test_api_is_not_shadowed_by_the_page(server):
    import httpx

    with httpx.Client(base_url=server.url) as http:
        assert http.get("/api/v1/nothing").json() == {"error": "Not Found"}
        assert http.get("/api/v1/models").status_code == 200
        page = http.get("/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert COOKIE in page.headers.get("set-cookie", "")
