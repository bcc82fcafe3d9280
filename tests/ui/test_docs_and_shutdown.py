"""The API docs page works with nothing but the arena's own server, and Ctrl-C stops a real
`arena serve` promptly even while browser tabs hold connections open."""

from __future__ import annotations

import signal
import subprocess
from urllib.parse import urlparse

from playwright.sync_api import expect

from tests.ui.conftest import Page
from tests.ui.test_connection import ServerProcess

SHUTDOWN_S = 15  # uvicorn waits up to 3 s for open connections, then the arena stops its jobs


def test_the_api_docs_page_renders_offline(browser, server):
    context = browser.new_context()
    blocked: list[str] = []

    def offline(route) -> None:  # as behind a firewall: only the arena's own host answers
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    page.goto(f"{server.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("Open Arena API", timeout=20_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/leaderboard").first).to_be_visible()
    assert not blocked, f"the docs page asked for outside assets: {blocked}"
    context.close()


def test_ctrl_c_stops_the_server_with_browser_tabs_open(browser, tmp_path):
    process = ServerProcess(tmp_path)
    process.start()
    context = browser.new_context()
    try:
        for tab in range(2):  # two open tabs: each holds Gradio's heartbeat stream open
            Page(context.new_page(), process.url).open(accept_terms=tab == 0)  # one voter: accepts once
        assert process.process is not None
        process.process.send_signal(signal.SIGINT)
        try:
            code = process.process.wait(timeout=SHUTDOWN_S)
        except subprocess.TimeoutExpired:
            process.kill()
            raise AssertionError(f"arena serve still running {SHUTDOWN_S} s after Ctrl-C") from None
        assert code == 0
    finally:
        context.close()
        if process.process is not None and process.process.poll() is None:
            process.kill()
