"""The terms and privacy notice: above the prompt box for a new voter, accepted once, stored,
linked to the About tab's full text, and no battle before it is accepted."""

from __future__ import annotations

from playwright.sync_api import expect

from arena.ui.voter import COOKIE
from tests.ui.test_arena_page import PROMPT, run_async, select_tab


def test_terms_are_accepted_once_per_voter_before_the_first_battle(new_page, server):
    view = new_page(accept_terms=False)
    page = view.page
    notice = page.locator("#arena-text-terms")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("do not enter private or personal information")
    expect(notice).to_contain_text("arena_voter")
    prompt = page.locator("#arena-text-prompt textarea")
    assert notice.bounding_box()["y"] < prompt.bounding_box()["y"], "the notice sits above the prompt box"
    view.screenshot("terms-notice")

    prompt.fill(PROMPT["text"])
    prompt.press("Enter")  # no battle before the notice is accepted
    expect(page.locator("#arena-text-status")).to_contain_text("press I agree before your first battle")
    expect(prompt).to_have_value(PROMPT["text"])
    expect(page.locator("#arena-text-out-a .bot")).to_have_count(0)

    notice.get_by_role("link", name="Terms and privacy in full").click()
    expect(page.locator("#about-text")).to_contain_text("Terms of use")
    expect(page.locator("#about-text")).to_contain_text("Its only purpose is to keep your battles")
    select_tab(page, "arena")

    page.locator("#arena-text-agree").click()
    expect(notice).to_be_hidden()
    expect(page.locator("#sbs-text-terms")).to_be_hidden()
    voter = next(c["value"] for c in page.context.cookies() if c["name"] == COOKIE)
    assert run_async(server.arena.voters.accepted_terms(voter))
    prompt.press("Enter")
    expect(page.locator("#arena-text-vote-model_a")).to_be_enabled(timeout=30_000)

    page.reload()  # the same voter: never asked again
    page.locator("#arena-text-prompt textarea").fill(PROMPT["text"])
    page.locator("#arena-text-prompt textarea").press("Enter")
    expect(page.locator("#arena-text-vote-model_a")).to_be_enabled(timeout=30_000)
    expect(page.locator("#arena-text-terms")).to_be_hidden()

    other = new_page(accept_terms=False).page  # another browser, another voter: asked
    expect(other.locator("#arena-text-terms")).to_be_visible()
