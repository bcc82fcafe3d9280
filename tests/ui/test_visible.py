"""Votes open only when the voter can see both outputs, and the two 3D viewers turn together.

The browser's fetches of the outputs (the PNGs, the GLBs) are held back while the server
has already finished the battle: the vote buttons stay disabled until the held files are
let through and drawn.
"""

from __future__ import annotations

import io

from PIL import Image, ImageChops
from playwright.sync_api import expect

from tests.ui.test_arena_page import PROMPT, WINNERS, select_tab

DONE = "Both outputs are complete"


def hold(page, pattern: str) -> list:
    """Hold back the browser's requests matching `pattern`; returns the held routes."""
    held: list = []
    page.route(pattern, lambda route: held.append(route))
    return held


def release(page, pattern: str, held: list) -> None:
    for route in held:
        route.continue_()
    page.unroute(pattern)


def colours(png: bytes) -> int:
    return len(Image.open(io.BytesIO(png)).convert("RGB").getcolors(maxcolors=1 << 20) or [])


def changed(before: bytes, after: bytes) -> float:
    """The share of pixels that changed visibly between two screenshots of one viewer."""
    a, b = (Image.open(io.BytesIO(shot)).convert("L") for shot in (before, after))
    moved = ImageChops.difference(a, b).point(lambda value: 255 if value > 30 else 0)
    return sum(moved.histogram()[255:]) / (a.width * a.height)


def start(page, modality: str) -> None:
    select_tab(page, "arena", f"arena-{modality}")
    box = page.locator(f"#arena-{modality}-prompt textarea")
    box.fill(PROMPT[modality])
    box.press("Enter")
    expect(page.locator(f"#arena-{modality}-status")).to_contain_text(DONE, timeout=30_000)


def expect_votes(page, modality: str, enabled: bool) -> None:
    for winner in WINNERS:
        button = expect(page.locator(f"#arena-{modality}-vote-{winner}"))
        if enabled:
            button.to_be_enabled(timeout=30_000)
        else:
            button.to_be_disabled()


def test_image_votes_wait_for_both_images_to_load(new_page):
    view = new_page()
    page = view.page
    held = hold(page, "**/*.png")
    start(page, "image")
    expect_votes(page, "image", enabled=False)  # the server is done, the pictures are not
    view.screenshot("visible-image-waiting")
    release(page, "**/*.png", held)
    expect_votes(page, "image", enabled=True)
    for side in "ab":
        loaded = page.locator(f"#arena-image-out-{side} img").evaluate("img => img.complete && img.naturalWidth")
        assert loaded > 0


def test_3d_votes_wait_for_both_models_to_be_drawn_and_the_viewers_turn_together(new_page):
    view = new_page()
    page = view.page
    held = hold(page, "**/*.glb")
    start(page, "3d")
    expect_votes(page, "3d", enabled=False)
    release(page, "**/*.glb", held)
    expect_votes(page, "3d", enabled=True)
    canvases = [page.locator(f"#arena-3d-out-{side} canvas") for side in "ab"]
    shots = [canvas.screenshot() for canvas in canvases]
    assert all(colours(shot) > 20 for shot in shots), "both viewers show a model, not a blank scene"
    view.screenshot("visible-3d-drawn")

    box = canvases[0].bounding_box()  # drag across viewer A only
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + 15 * step, y + 2 * step)
    page.mouse.up()
    expect(page.locator("#arena-3d-vote-model_a")).to_be_enabled()
    after = [canvas.screenshot() for canvas in canvases]
    turned = [changed(before, now) for before, now in zip(shots, after)]
    assert turned[0] > 0.02, f"viewer A turned: {turned}"
    assert turned[1] > 0.02, f"viewer B turned with it: {turned}"
    view.screenshot("visible-3d-turned-together")
