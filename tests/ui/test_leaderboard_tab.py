"""The Leaderboard tab as a reader explores it: sortable columns, model cards, filters fed
from the data that update by themselves, a toggle for disabled models, a shareable URL,
and the provisional marker at the arena's real threshold."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml
from playwright.sync_api import expect

from tests.arena.simulated import write_votes
from tests.conftest import DEMO_MODELS_FILE
from tests.ui.conftest import start_server

OLD = "quill-old"  # disabled, with fewer votes than the provisional threshold
CARD_URL = "https://example.org/quill-pro"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Demo models plus a disabled text model; three voters in FR (published at k=2), one in DE (not)."""
    models = yaml.safe_load(DEMO_MODELS_FILE.read_text())["models"]
    for entry in models:
        if entry["name"] == "quill-pro":
            entry["display"]["url"] = CARD_URL
    models.append({"name": OLD, "modality": "text", "backend": "demo", "status": "disabled"})
    with start_server(tmp_path_factory.mktemp("board"), models=models, k_anonymity=2) as live:
        seed(live.arena)
        yield live


def seed(arena) -> None:
    """Votes where quill-pro beats quill-base beats quill-mini, and a few for the disabled model."""
    now = datetime.now(UTC)
    voters = {
        country: [f"v-{country}-{uuid.uuid4().hex[:8]}" for _ in range(n)] for country, n in (("FR", 3), ("DE", 1))
    }
    arena.voters.create_many(
        [
            {"id": voter, "created_at": now, "ip_hash": f"ip-{voter}", "country": country}
            for country, ids in voters.items()
            for voter in ids
        ]
    )
    rng = np.random.default_rng(7)
    order = ["quill-pro", "quill-base", "quill-mini"]
    rows = []
    for i in range(150):
        a, b = rng.choice(3, size=2, replace=False)
        winner = "model_a" if (a < b) == (rng.random() < 0.8) else "model_b"
        rows.append((order[a], order[b], winner, voters["FR"][i % 3]))
    rows += [(OLD, "quill-base", "model_b" if i % 3 else "model_a", voters["FR"][i % 3]) for i in range(12)]
    rows += [("quill-pro", "quill-mini", "model_a", voters["DE"][0])] * 5
    frame = pd.DataFrame(rows, columns=["model_a", "model_b", "winner", "voter"])
    frame["tstamp"], frame["ip_hash"] = now.timestamp(), "x"
    write_votes(arena, frame, new_voters=False)


def model_column(page) -> list[str]:
    return [
        name.strip() for name in page.locator("#lb-table tbody tr td:nth-child(2) .arena-model-name").all_inner_texts()
    ]


def options(page, dropdown: str) -> list[str]:
    """Open a dropdown and read what it offers (it stays open)."""
    page.locator(f"#{dropdown} input").click()
    listed = page.locator(f"#{dropdown}").get_by_role("option")
    expect(listed.first).to_be_visible()
    return [text.replace("✓", "").strip() for text in listed.all_inner_texts()]


def test_sort_cards_disabled_models_and_provisional(new_page):
    view = new_page()
    page = view.page
    page.locator("#tab-leaderboard-button").click()
    expect(page.locator("#lb-table")).to_be_visible()  # the first fit appears without a Refresh
    assert model_column(page) == ["quill-pro", "quill-base", "quill-mini"]  # best first; the disabled one hidden
    expect(page.locator("#lb-board")).to_contain_text("1 deprecated or disabled model is hidden")
    expect(page.locator("#lb-board")).not_to_contain_text("provisional</")

    page.locator("#lb-table th", has_text="Model").get_by_role("button").click()
    assert model_column(page) == ["quill-base", "quill-mini", "quill-pro"]
    expect(page.locator("#lb-table th", has_text="Model")).to_have_attribute("aria-sort", "ascending")
    votes = page.locator("#lb-table th", has_text="Votes").get_by_role("button")
    votes.click()
    counts = [int(c.replace(",", "")) for c in page.locator("#lb-table tbody td:nth-child(5)").all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and len(set(counts)) > 1
    votes.click()
    counts = [int(c.replace(",", "")) for c in page.locator("#lb-table tbody td:nth-child(5)").all_inner_texts()]
    assert counts == sorted(counts)

    page.locator("#lb-table .arena-model-name", has_text="quill-pro").click()
    card = page.get_by_role("dialog", name="quill-pro")
    expect(card).to_be_visible()
    for fact in ("Trigram sentences", "Open Arena demo", "Apache-2.0", "n-gram, order 3"):
        expect(card).to_contain_text(fact)
    expect(card.get_by_role("link")).to_have_attribute("href", CARD_URL)
    view.screenshot("leaderboard-model-card")
    page.keyboard.press("Escape")
    expect(card).to_be_hidden()

    page.locator("#lb-all").get_by_label("Show deprecated and disabled models").check()
    old = page.locator("#lb-table tbody tr", has_text=OLD)
    expect(old).to_contain_text("disabled")
    expect(old).to_contain_text("provisional")  # 12 votes: under the arena's real threshold of 30
    for name in ("quill-pro", "quill-base", "quill-mini"):
        expect(page.locator("#lb-table tbody tr", has_text=name)).not_to_contain_text("provisional")
    view.screenshot("leaderboard-desktop")


def test_filters_offer_what_exists_and_the_board_is_shared_by_url(new_page, server):
    page = new_page().page
    page.locator("#tab-leaderboard-button").click()
    expect(page.locator("#lb-table")).to_be_visible()
    assert options(page, "lb-group") == ["Everyone, all prompts", "Country"]  # only fields with a published value
    page.locator("#lb-group").get_by_role("option", name="Country").click()
    expect(page.locator("#lb-value input")).to_have_value("FR")
    assert options(page, "lb-value") == ["FR"]  # DE has one voter, under k=2: it does not exist
    page.keyboard.press("Escape")
    # the group board's first fit runs in the background and shows up by itself
    expect(page.locator("#lb-board")).to_contain_text("votes counted", timeout=20_000)
    expect(page.locator("#lb-table")).to_be_visible()
    assert "group=country" in page.url and "value=FR" in page.url and "tab=leaderboard" in page.url

    shared = new_page()
    shared.page.goto(page.url)
    expect(shared.page.locator("#lb-value input")).to_have_value("FR", timeout=20_000)
    expect(shared.page.locator("#lb-group input")).to_have_value("Country")
    expect(shared.page.locator("#lb-table")).to_be_visible()

    wrong = new_page()
    wrong.page.goto(f"{server.url}/?tab=leaderboard&modality=video&group=country&value=ZZ")
    board = wrong.page.locator("#lb-note")
    expect(board).to_contain_text("\u201cvideo\u201d is not a modality", timeout=20_000)
    expect(board).to_contain_text("There is no leaderboard for country \u201cZZ\u201d")


def test_the_api_answers_an_unknown_or_unpublished_group_value_with_404(server):
    with httpx.Client(base_url=server.url) as http:
        answers = [
            http.get("/api/v1/leaderboard", params={"group": "country", "value": value}) for value in ("ZZ", "DE")
        ]
        assert [answer.status_code for answer in answers] == [404, 404]
        assert answers[0].json() == answers[1].json()
        assert http.get("/api/v1/leaderboard", params={"group": "planet", "value": "x"}).status_code == 422
        models = {model["name"]: model for model in http.get("/api/v1/models").json()}
        assert models["quill-pro"]["url"] == CARD_URL and models["quill-pro"]["description"]
