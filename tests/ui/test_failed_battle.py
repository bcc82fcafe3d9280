"""A battle where one side fails: the voter gets a clear message and no vote buttons."""

from __future__ import annotations

import pytest
import yaml
from playwright.sync_api import expect

from arena.settings import DEMO_MODELS_FILE
from tests.conftest import FAILING_TEXT
from tests.ui.conftest import start_server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Only two text models, one configured to fail: every text battle meets the broken one."""
    demo = yaml.safe_load(DEMO_MODELS_FILE.read_text())["models"]
    good = next(entry for entry in demo if entry["modality"] == "text")
    with start_server(tmp_path_factory.mktemp("ui-failing"), models=[good, FAILING_TEXT]) as live:
        yield live


def test_failed_side_shows_a_message_and_no_vote_buttons(new_page, server):
    view = new_page()
    page = view.page
    box = page.locator("#arena-text-prompt textarea")
    box.fill("Why does the sea change colour during the day?")
    box.press("Enter")
    status = page.locator("#arena-text-status")
    expect(status).to_contain_text("This battle failed", timeout=30_000)
    expect(status).to_contain_text("cannot take a vote")
    expect(status).not_to_contain_text(FAILING_TEXT["name"])  # the message never names the model
    for winner in ("model_a", "model_b", "tie", "both_bad"):
        expect(page.locator(f"#arena-text-vote-{winner}")).to_be_hidden()
    failed = "#arena-text-out-a" if "⚠" in page.locator("#arena-text-out-a").inner_text() else "#arena-text-out-b"
    expect(page.locator(failed)).to_contain_text("failed")
    view.screenshot("arena-text-failed")

    page.locator("#arena-text-new").click()  # a new battle brings the buttons back, disabled
    expect(page.locator("#arena-text-vote-model_a")).to_be_visible()
    expect(page.locator("#arena-text-vote-model_a")).to_be_disabled()
