"""Two speeds of the public page, measured in a real browser (Debian's Chromium, headless).

1. First tokens: with the shipped demo models (they pace text like a real model),
   the time from pressing Enter in the prompt box until both chat panes show text.
2. Leaderboard tab: with a million text votes in the database (written by
   `arena simulate --votes N --bulk --modality text`), the time from clicking the
   Leaderboard tab until its table is on screen. The page reads the cached board;
   the refit runs in the background (and is timed separately, for reference).

Both are timed inside the page with performance.now(), from the key press or click to
the first animation frame that shows the result, and repeated; the medians are printed.

    python benchmarks/ui.py                      # 1M votes in a temporary data dir
    python benchmarks/ui.py --votes 200000 --data-dir /tmp/bench-ui   # reuse a dir
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from arena.runtime import Arena, prepare  # noqa: E402
from arena.server import create_app  # noqa: E402
from arena.services.leaderboards import board_key  # noqa: E402
from arena.settings import DEMO_MODELS_FILE, Settings  # noqa: E402
from tests.conftest import LiveServer  # noqa: E402
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

# Runs in the page before Enter is pressed: note the time of the (real) keydown, then watch
# every frame until both panes hold assistant text.
WATCH_FIRST_TOKENS = """() => {
  const bots = side => document.querySelectorAll(`#arena-text-out-${side} .bot, #arena-text-out-${side} [data-testid="bot"]`);
  const shown = side => [...bots(side)].some(b => b.innerText.trim().length > 0);
  window.__t0 = window.__t1 = null;
  document.addEventListener('keydown', e => { if (e.key === 'Enter') window.__t0 = performance.now(); },
                            {capture: true, once: true});
  const watch = () => {
    if (window.__t0 !== null && shown('a') && shown('b')) window.__t1 = performance.now();
    else requestAnimationFrame(watch);
  };
  requestAnimationFrame(watch);
}"""

CLEARED = """() => document.querySelector('#arena-text-vote-model_a').disabled
  && !document.querySelector('#arena-text-out-a .bot, #arena-text-out-a [data-testid="bot"]')"""

# Runs in the page: click a tab, then watch every frame until the leaderboard table shows.
LEADERBOARD = """async () => {
  const start = performance.now();
  document.querySelector('#tab-leaderboard-button').click();
  while (!document.querySelector('#lb-board table.arena-board')) {
    await new Promise(requestAnimationFrame);
    if (performance.now() - start > 30000) throw new Error('no leaderboard within 30 s');
  }
  return performance.now() - start;
}"""


def simulate(data_dir: Path, votes: int) -> None:
    """Fill the database with `votes` text votes, unless an earlier run already did."""
    if (data_dir / "arena.db").exists():
        print(f"reusing {data_dir}/arena.db")
        return
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "arena",
            "simulate",
            "--votes",
            str(votes),
            "--bulk",
            "--modality",
            "text",
            "--data-dir",
            str(data_dir),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    print(f"simulated {votes:,} text votes in {time.perf_counter() - started:.0f} s")


def serve(data_dir: Path) -> LiveServer:
    settings = Settings(data_dir=data_dir, models_file=DEMO_MODELS_FILE, secret_key="bench")
    return LiveServer(create_app(Arena(settings, entries=prepare(settings))))


def first_tokens(browser, url: str, repeat: int) -> list[float]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(url)
    box = page.locator("#arena-text-prompt textarea")
    box.wait_for()
    times = []
    for i in range(repeat + 1):  # the first run warms up the page and the server
        if i:
            page.locator("#arena-text-new").click()
            page.wait_for_function(CLEARED, timeout=10_000)
        box.fill(f"Explain how rain forms, in simple words. ({i})")
        page.evaluate(WATCH_FIRST_TOKENS)
        box.press("Enter")
        page.wait_for_function("() => window.__t1 !== null", timeout=30_000)
        if i:
            times.append(page.evaluate("() => window.__t1 - window.__t0"))
        page.wait_for_function("() => !document.querySelector('#arena-text-vote-model_a').disabled", timeout=30_000)
    page.close()
    return times


def leaderboard(browser, url: str, repeat: int) -> list[float]:
    times = []
    for i in range(repeat + 1):  # a fresh page each time: the tab's first render, not a cached DOM
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        page.locator("#arena-text-prompt textarea").wait_for()
        elapsed = page.evaluate(LEADERBOARD)
        if i:
            times.append(elapsed)
        page.close()
    return times


def describe(name: str, times: list[float], budget_ms: float) -> str:
    median = statistics.median(times)
    verdict = "within" if median <= budget_ms else "OVER"
    return (
        f"{name}: median {median:.0f} ms, min {min(times):.0f} ms, max {max(times):.0f} ms "
        f"over {len(times)} runs ({verdict} the {budget_ms:.0f} ms target)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--data-dir", type=Path, default=None, help="reuse a data dir across runs")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        with serve(Path(scratch) / "fresh") as live:
            print(
                describe(
                    "first tokens of both text sides after Enter (demo models, 20 ms/token)",
                    first_tokens(browser, live.url, args.repeat),
                    300,
                )
            )

        data_dir = args.data_dir or Path(scratch) / "million"
        simulate(data_dir, args.votes)
        with serve(data_dir) as live:
            key = board_key("text")
            while live.arena.leaderboards.get(key).status == "pending":
                time.sleep(0.1)  # the first fit runs in the background after start
            started = time.perf_counter()
            board = live.arena.leaderboards.refit(key)  # one more, timed
            print(
                f"database: {board.votes:,} counted text votes; one refit of the board took "
                f"{time.perf_counter() - started:.2f} s (background work, never on a page view)"
            )
            print(
                describe(
                    f"leaderboard tab with {board.votes:,} votes", leaderboard(browser, live.url, args.repeat), 500
                )
            )
        browser.close()


if __name__ == "__main__":
    main()
