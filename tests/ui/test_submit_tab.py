"""The "Submit a model" tab in a browser: a refused URL, a submission with its id and token shown
once (never the key), and the author's status view through "Check a submission"."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from arena.services.submissions import SubmissionView
from arena.ui.submit_tab import status_html
from arena.vocabulary import Modality, ModelStatus
from tests.conftest import free_port
from tests.ui.conftest import start_server
from tests.ui.test_arena_page import select_tab

API_KEY = "sk-page-test-Zq81xY44PlmN"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The demo models, and loopback trusted for submissions (http allowed, nothing outside reached)."""
    with start_server(tmp_path_factory.mktemp("ui-submit"), submission_trusted_hosts="127.0.0.1") as live:
        yield live


def box(page, elem_id: str):
    """A Gradio textbox's field (a textarea, or an input for passwords)."""
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first


def fill_form(page, name: str, base_url: str, api_key: str | None = None) -> None:
    box(page, "submit-name").fill(name)
    box(page, "submit-base_url").fill(base_url)
    box(page, "submit-model").fill("tiny-chat")
    box(page, "submit-contact").fill("author@example.org")
    box(page, "submit-organisation").fill("Page Test Lab")
    box(page, "submit-license").fill("Apache-2.0")
    box(page, "submit-parameters").fill("7B")
    page.locator("#submit-open_weights input").check()
    box(page, "submit-description").fill("A model submitted by the browser test.")
    if api_key is not None:
        box(page, "submit-api_key").fill(api_key)


def check_until(page, expected: str, timeout_s: float = 30) -> None:
    """Press Check until the status view shows `expected` (the probe runs in the background)."""
    deadline = time.monotonic() + timeout_s
    status = page.locator("#check-status")
    while True:
        page.locator("#check-send").click()
        try:
            expect(status).to_contain_text(expected, timeout=1500)
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise


def test_a_bad_url_is_refused_with_a_readable_message(new_page):
    view = new_page()
    page = view.page
    select_tab(page, "submit")
    expect(page.locator("#submit-intro")).to_contain_text("never shown")
    fill_form(page, "page-bad-url", "http://example.com/v1")
    page.locator("#submit-send").click()
    result = page.locator("#submit-result")
    expect(result).to_contain_text("Not submitted: base_url must be an https:// URL")
    expect(result).not_to_contain_text("Traceback")
    expect(page.locator("#submit-id")).to_have_count(0)
    view.screenshot("submit-bad-url")


def test_a_submission_shows_its_id_and_token_once_and_its_status(new_page):
    view = new_page()
    page = view.page
    select_tab(page, "submit")
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: the probe fails
    fill_form(page, "page-submitted-model", url, api_key=API_KEY)
    page.locator("#submit-send").click()

    result = page.locator("#submit-result")
    expect(result).to_contain_text("shown once: keep it")
    submission_id = page.locator("#submit-id").inner_text().strip()
    token = page.locator("#submit-token").inner_text().strip()
    assert len(submission_id) == 36 and len(token) >= 32
    expect(box(page, "submit-api_key")).to_have_value("")  # the key is cleared, never sent back
    assert API_KEY not in page.content()
    view.screenshot("submit-created")

    # "Check a submission", in a fresh page with the id and token typed in
    other = new_page()
    select_tab(other.page, "submit")
    box(other.page, "check-id").fill(submission_id)
    box(other.page, "check-token").fill(token)
    check_until(other.page, "the probe failed")
    status = other.page.locator("#check-status")
    expect(other.page.locator("#submit-status-value")).to_have_text("pending")
    expect(status).to_contain_text("page-submitted-model")
    expect(status).to_contain_text("an API key is stored, encrypted")
    expect(status).to_contain_text("Battles served: 0")
    expect(status).to_contain_text("not ranked yet")
    expect(other.page.locator("#submit-probe")).to_contain_text("failed")
    expect(other.page.locator("#submit-probe")).to_contain_text("Say hello in five words.")
    assert API_KEY not in other.page.content()
    other.screenshot("submit-status")

    # a wrong token: the same not-found answer as an unknown id
    box(other.page, "check-token").fill(token[:-4] + "AAAA")
    other.page.locator("#check-send").click()
    expect(status).to_contain_text("no such submission for this token")
    expect(other.page.locator("#submit-status-value")).to_have_count(0)
    other.screenshot("submit-wrong-token")


def test_the_tab_fits_a_phone(new_page):
    view = new_page(width=390, height=844, mobile=True)
    page = view.page
    select_tab(page, "submit")
    fill_form(page, "page-phone-model", f"http://127.0.0.1:{free_port()}/v1/a/rather/long/path/to/the/endpoint")
    page.locator("#submit-send").click()
    expect(page.locator("#submit-token")).to_be_visible()
    expect(page.locator("#check-status")).to_contain_text("page-phone-model")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, f"the submit tab is wider than the phone ({width}px)"
    expect(page.locator("#tab-about-button")).to_be_visible()
    view.screenshot("phone-submit")


def test_the_status_view_shows_the_rating_with_its_interval_and_recent_errors():
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    view = SubmissionView(
        id="0" * 36,
        name="ranked<model>",
        modality=Modality.TEXT,
        status=ModelStatus.ACTIVE,
        reason="approved",
        base_url="https://api.example.org/v1",
        model="m",
        has_api_key=False,
        contact="a@example.org",
        organisation="Lab",
        license=None,
        open_weights=None,
        parameters=None,
        description=None,
        probe={"ok": True, "results": [{"prompt": "p", "ok": True, "latency_ms": 1234, "format": "streamed text"}]},
        probed_at=now,
        errors=[{"at": now.isoformat(), "error": "HTTP 500 <b>boom</b>"}],
        created_at=now,
        updated_at=now,
        battles=40,
        failed_battles=1,
        votes=35,
        board={"rating": 1012.4, "ci_low": 980.2, "ci_high": 1040.9, "rank": 2, "votes": 35, "provisional": True},
    )
    html = status_html(view)
    assert "1012" in html and "980–1041" in html and "provisional" in html
    assert "1,234 ms" in html and "Battles served: <strong>40</strong>" in html
    assert "&lt;b&gt;boom&lt;/b&gt;" in html and "ranked&lt;model&gt;" in html  # escaped, never markup
