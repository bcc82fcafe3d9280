"""The Data tab in a browser: published dumps with size, votes, dates and a working download link."""

import hashlib

import httpx
from playwright.sync_api import expect

from arena import simulate
from arena.services.exports import export, export_options
from arena.ui.data_tab import dumps_html, human_size
from arena.vocabulary import Modality
from tests.ui.test_arena_page import select_tab


def test_the_data_tab_lists_dumps_with_a_download_link(new_page, server):
    page = new_page().page
    select_tab(page, "data")
    expect(page.locator("#data-table")).to_contain_text("No vote dumps are published yet")

    arena = server.arena
    simulate.bulk(arena, 300, [Modality.TEXT], seed=1)
    manifest = export(arena.store, arena.settings, export_options(), arena.settings.data_dir / "dumps" / "ui.parquet")
    select_tab(page, "about")
    select_tab(page, "data")  # the list is read again when the tab opens
    table = page.locator("#data-dumps")
    expect(table).to_contain_text("ui.parquet")
    expect(table).to_contain_text(f"{manifest['rows']:,}")
    expect(table).to_contain_text(human_size(manifest["size"]))
    expect(table).to_contain_text(manifest["first_vote"][:10])
    link = table.get_by_role("link", name="ui.parquet")
    expect(link).to_have_attribute("href", "/api/v1/dumps/ui.parquet")
    download = httpx.get(server.url + "/api/v1/dumps/ui.parquet", timeout=10)
    assert hashlib.sha256(download.content).hexdigest() == manifest["sha256"]
    expect(page.locator("#tab-about-button")).to_be_visible()


def test_sizes_are_readable_and_an_empty_list_says_so():
    assert human_size(512) == "512 B" and human_size(3 * 1024 * 1024) == "3.0 MB"
    assert "No vote dumps" in dumps_html([])
