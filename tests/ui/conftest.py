"""Browser fixtures: Debian's Chromium driven by Playwright, against a real arena server.

The browser tests need /usr/bin/chromium (the CI script installs it with apt-get;
Playwright never downloads a browser here). Without it they are skipped with a
message, except on CI (CI=true), where a missing browser is a failure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from arena.settings import Settings
from tests.conftest import ON_CI, LiveServer, ready_arena, write_models_file

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # WebGL on the CPU, so the 3D viewer renders in a headless browser
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]
TOKEN_DELAY_MS = 8  # slow enough to watch text stream in, fast enough for a quick suite


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if ON_CI:
        pytest.fail(f"CI=true but {CHROMIUM} is missing: install Debian's chromium package (see .ci/run)")
    pytest.skip(f"browser tests skipped: {CHROMIUM} is not installed (apt-get install chromium; CI=true requires it)")


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


def start_server(directory: Path, models: list[dict] | None = None, **settings) -> LiveServer:
    """An arena with a temporary SQLite database and the demo models (or `models`), served on a free port."""
    models_file = write_models_file(directory / "models.yaml", fast=False)
    data = yaml.safe_load(models_file.read_text())
    if models is not None:
        data["models"] = models
    for entry in data["models"]:
        if entry["modality"] == "text":
            entry.setdefault("options", {})["token_delay_ms"] = TOKEN_DELAY_MS
    models_file.write_text(yaml.safe_dump(data))
    from arena.server import create_app

    config = Settings(
        data_dir=directory / "data",
        models_file=models_file,
        secret_key="test-secret",
        leaderboard_refresh_s=3600,
        leaderboard_debounce_s=0.1,
        min_dwell_ms=0,
        audit_every_s=3600,  # long-lived servers: no background fraud scan quarantines a test voter
        **settings,
    )
    return LiveServer(create_app(ready_arena(config)))


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[LiveServer]:
    """One server per test module, with the shipped demo models."""
    with start_server(tmp_path_factory.mktemp("ui")) as live:
        yield live


class Page:
    """A browser page on the arena, remembering any request that left the machine."""

    def __init__(self, page, base_url: str):
        self.page = page
        self.base_url = base_url
        self.outside: list[str] = []
        host = urlparse(base_url).hostname
        page.on("request", lambda request: self._check(request.url, host))

    def _check(self, url: str, host: str) -> None:
        parsed = urlparse(url)
        if parsed.scheme in ("http", "https", "ws", "wss") and parsed.hostname != host:
            self.outside.append(url)

    def open(self, accept_terms: bool = True) -> Page:
        """Load the page; a new voter first accepts the terms notice, as everyone must before a battle."""
        self.page.goto(self.base_url + "/")
        self.page.locator("#arena-text-prompt textarea").wait_for()
        if accept_terms:
            agree = self.page.locator("#arena-text-agree")
            agree.click()
            agree.wait_for(state="hidden")
        return self

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_-]', '_', name)}.png"), full_page=True)


@pytest.fixture
def new_page(browser, server):
    """Open arena pages in fresh browser contexts (own cookies); every test checks nothing left the machine."""
    contexts, pages = [], []

    def make(
        width: int = 1280,
        height: int = 900,
        mobile: bool = False,
        live: LiveServer | None = None,
        accept_terms: bool = True,
    ) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height}, is_mobile=mobile, has_touch=mobile)
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = Page(context.new_page(), (live or server).url)
        pages.append(page)
        return page.open(accept_terms)

    yield make
    for context in contexts:
        context.close()
    for page in pages:
        assert not page.outside, f"the page fetched from outside the server (a CDN?): {page.outside}"
