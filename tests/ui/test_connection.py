"""A lost server is never hidden: a real `arena serve` process killed with SIGKILL mid-battle and
started again on the same data and port, while a voter's page stays open.

The voter sees "Connection lost, retrying…" and disabled vote buttons, Send and prompt while the server is
away; when it returns the page reloads by itself and shows the battle again, from the
database: a stream the server lost cannot take a vote, a finished battle can, and a vote
the dead server never received is not shown as recorded.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from playwright.sync_api import expect
from sqlalchemy import select

from arena.settings import Settings
from arena.store.schema import Battle, Vote
from tests.conftest import eventually, free_port, ready_arena, write_models_file
from tests.ui.conftest import Page

PROMPT = "Explain how rain forms, in simple words."
WINNERS = ("model_a", "model_b", "tie", "both_bad")


class ServerProcess:
    """`arena serve` on one port and data dir, which a test may kill and start again."""

    def __init__(self, directory: Path):
        models = write_models_file(directory / "models.yaml", fast=False)
        data = yaml.safe_load(models.read_text())
        for entry in data["models"]:
            if entry["modality"] == "text":  # slow enough that a kill lands mid-stream
                entry.setdefault("options", {})["token_delay_ms"] = 40
        models.write_text(yaml.safe_dump(data))
        self.settings = Settings(data_dir=directory / "data", models_file=models, secret_key="test-secret")
        ready_arena(self.settings)  # schema and models, as `arena serve` prepares them
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "ARENA_DATA_DIR": str(self.settings.data_dir),
            "ARENA_MODELS_FILE": str(self.settings.models_file),
            "ARENA_SECRET_KEY": self.settings.secret_key,
            "ARENA_MIN_DWELL_MS": "0",
            "ARENA_AUDIT_EVERY_S": "3600",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "arena", "serve", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def up() -> bool:
            try:
                return httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200
            except httpx.TransportError:
                return self.process.poll() is not None

        assert eventually(up, timeout=120) and self.process.poll() is None, "arena serve did not start"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def latest_battle(self) -> str:
        arena = ready_arena(self.settings)
        with arena.store.read() as session:
            return session.scalars(select(Battle.id).order_by(Battle.created_at.desc()).limit(1)).one()

    def votes_on(self, battle_id: str) -> list[str]:
        arena = ready_arena(self.settings)
        with arena.store.read() as session:
            return list(session.scalars(select(Vote.winner).where(Vote.battle_id == battle_id)))


@pytest.fixture(scope="module")
def process(tmp_path_factory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("ui-connection"))
    server.start()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()


def expect_lost(page) -> None:
    banner = page.locator("#arena-connection")
    expect(banner).to_have_text("Connection lost, retrying…", timeout=10_000)
    for winner in WINNERS:
        expect(page.locator(f"#arena-text-vote-{winner}")).to_be_disabled()
    for control in ("#arena-text-send", "#arena-text-new", "#arena-text-prompt textarea"):
        expect(page.locator(control)).to_be_disabled()  # nothing can be sent to a server that is away


def test_killed_server_is_shown_then_the_battle_comes_back(browser, process):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(30_000)
    view = Page(context.new_page(), process.url).open()
    page = view.page
    status = page.locator("#arena-text-status")
    box = page.locator("#arena-text-prompt textarea")

    # killed mid-stream: the page says so instead of "answering…" for ever
    box.fill(PROMPT)
    box.press("Enter")
    streaming = re.compile(r"\w+\s+\w+")
    expect(page.locator("#arena-text-out-a .bot").first).to_contain_text(streaming, timeout=30_000)
    process.kill()
    expect_lost(page)
    view.screenshot("connection-lost-mid-stream")
    process.start()
    expect(page.locator("#arena-connection")).to_have_count(0, timeout=30_000)  # reloaded by itself
    expect(status).to_contain_text("interrupted when the connection was lost", timeout=30_000)
    expect(page.locator("#arena-text-out-a")).to_contain_text(PROMPT)
    expect(page.locator("#arena-text-vote-model_a")).to_be_hidden()

    # killed after both answers: votes close while it is away, and the battle is back after
    page.locator("#arena-text-new").click()
    expect(status).not_to_contain_text("interrupted")  # the reset has landed: it would clear a prompt typed before
    box.fill(PROMPT)
    box.press("Enter")
    expect(page.locator("#arena-text-vote-model_a")).to_be_enabled(timeout=60_000)
    answer = page.locator("#arena-text-out-a .bot").last.inner_text().strip()
    battle = process.latest_battle()
    process.kill()
    expect_lost(page)
    page.locator("#arena-text-vote-model_a").click(force=True)  # a voter pressing anyway
    expect(page.locator("#arena-text-reveal")).not_to_contain_text("recorded")
    view.screenshot("connection-lost-before-vote")
    process.start()
    expect(page.locator("#arena-connection")).to_have_count(0, timeout=30_000)
    expect(status).to_contain_text("The connection is back and so is your battle", timeout=30_000)
    expect(page.locator("#arena-text-out-a .bot").last).to_have_text(answer)
    assert process.votes_on(battle) == [], "the vote pressed while the server was away was never stored"
    expect(page.locator("#arena-text-reveal")).not_to_contain_text("recorded")
    view.screenshot("connection-restored")

    page.locator("#arena-text-vote-model_b").click()
    expect(page.locator("#arena-text-reveal")).to_contain_text("your vote is recorded")
    assert process.votes_on(battle) == ["model_b"]
    context.close()
    assert not view.outside, view.outside
