"""Per-dimension votes beside the main vote: visible without opening anything, recorded when
pressed, before or after the overall vote, and the pressed choices (dimensions and the overall vote)
stay visibly selected."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from arena.store.schema import Vote
from tests.ui.test_arena_page import run_battle, select_tab


def votes(server) -> dict[str, str]:
    with server.arena.store.read() as session:
        return dict(session.execute(select(Vote.dimension, Vote.winner)).all())


def choose(page, dimension: str, label: str):
    option = page.locator(f"#arena-image-dim-{dimension}").get_by_label(label, exact=True)
    option.check()
    return option


def test_dimension_votes_before_and_after_the_overall_vote(new_page, server):
    view = new_page()
    page = view.page
    select_tab(page, "arena", "arena-image")
    for dimension in ("aesthetics", "alignment", "detail"):
        expect(page.locator(f"#arena-image-dim-{dimension}")).to_be_visible()  # no accordion to open
    run_battle(page, "image")
    status = page.locator("#arena-image-status")

    before = choose(page, "aesthetics", "B")  # before the overall vote
    expect(status).to_contain_text("Aesthetics: your choice (B) is recorded")
    expect(before).to_be_checked()
    expect(before).to_be_disabled()  # one vote per dimension

    page.locator("#arena-image-vote-model_a").click()
    expect(page.locator("#arena-image-reveal")).to_contain_text("your vote is recorded")
    expect(page.locator("#arena-image-vote-model_a")).to_have_text("✓ A is better")  # the pressed one
    after = choose(page, "detail", "Tie")  # after it, while the battle is still on screen
    expect(status).to_contain_text("Detail: your choice (Tie) is recorded")
    expect(after).to_be_checked()
    expect(before).to_be_checked()
    expect(page.locator("#arena-image-dim-alignment").get_by_label("A", exact=True)).to_be_enabled()
    view.screenshot("dimensions-after-vote")
    assert votes(server) == {"overall": "model_a", "aesthetics": "model_b", "detail": "tie"}

    page.locator("#arena-image-new").click()  # leaving the battle clears and closes them
    expect(before).not_to_be_checked()
    expect(before).to_be_disabled()
    expect(page.locator("#arena-image-vote-model_a")).to_have_text("A is better")
