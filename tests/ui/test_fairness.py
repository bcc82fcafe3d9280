"""Fair presentation: nothing but quality tells the two sides apart on screen.

The demo image models paint at 256, 384 and 512 px, so every image battle pairs two
pixel sizes; both must be drawn in boxes of the same displayed size. Text answers are
drawn in the same type on both sides.
"""

from __future__ import annotations

from playwright.sync_api import expect

from tests.ui.test_arena_page import PROMPT, run_battle, select_tab

# The picture as drawn, not the <img> box: object-fit decides how the pixels fill the box
# (scale-down keeps a small image small inside a large box).
MEASURE = """(selector) => {
  const img = document.querySelector(selector);
  const box = img.getBoundingClientRect();
  const fit = getComputedStyle(img).objectFit;
  let scale = Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight);
  if (fit === "none") scale = 1;
  if (fit === "scale-down") scale = Math.min(scale, 1);
  const [width, height] = fit === "fill" ? [box.width, box.height]
    : [img.naturalWidth * scale, img.naturalHeight * scale];
  return {natural: img.naturalWidth, width: Math.round(width), height: Math.round(height)};
}"""
TYPE = """(selector) => {
  const style = getComputedStyle(document.querySelector(selector));
  return [style.fontFamily, style.fontSize, style.lineHeight, style.color];
}"""


def pick(page, prefix: str, side: str, name: str) -> None:
    page.locator(f"#{prefix}-pick-{side} input").click()
    page.locator(f"#{prefix}-pick-{side}").get_by_role("option", name=name, exact=True).click()
    expect(page.locator(f"#{prefix}-pick-{side} input")).to_have_value(name)


def test_both_images_are_shown_at_the_same_size_whatever_their_pixels(new_page):
    view = new_page()
    page = view.page
    select_tab(page, "sbs", "sbs-image")
    pick(page, "sbs-image", "a", "easel-sketch")  # 256 px
    pick(page, "sbs-image", "b", "easel-studio")  # 512 px
    run_battle(page, "image", prefix="sbs")
    sides = []
    for side in "ab":
        expect(page.locator(f"#sbs-image-out-{side} img")).to_be_visible()
        sides.append(page.evaluate(MEASURE, f"#sbs-image-out-{side} img"))
    a, b = sides
    assert (a["natural"], b["natural"]) == (256, 512)
    assert (a["width"], a["height"]) == (b["width"], b["height"]), f"displayed sizes differ: {sides}"
    assert a["height"] >= 300, f"the images fill their boxes: {sides}"
    view.screenshot("fair-image-sizes")


def test_text_answers_are_drawn_alike_on_both_sides(new_page):
    view = new_page()
    page = view.page
    run_battle(page, "text")
    for side in "ab":
        expect(page.locator(f"#arena-text-out-{side}")).to_contain_text(PROMPT["text"])
    a, b = (page.evaluate(TYPE, f"#arena-text-out-{side} .bot") for side in "ab")
    assert a == b
