"""`nextword-tui --serve` in a real headless Chromium: the page shows the app, typing reaches it,
a suggestion can be accepted, and closing the tab keeps what was typed (issue 11, item 7).

Skips, saying what is missing, where Playwright or a Chromium cannot be had (see browser_harness).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from browser_harness import HOOK, BrowserScreen, browser_or_skip, free_port, start_server

CORPUS = "the cat sat on the mat\nthe dog sat on the log\nhow are you doing today\nhow are you\n" * 5


@pytest.fixture
def served(tmp_path: Path):
    """open() -> (page, BrowserScreen): a new tab on a server running the app on corpus.txt."""
    chromium = browser_or_skip()
    from playwright.sync_api import sync_playwright

    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    (work / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    port = free_port()
    server = start_server(["corpus.txt"], home, work, port)
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])

    def open_tab():
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.add_init_script(HOOK)
        page.goto(f"http://127.0.0.1:{port}/")
        screen = BrowserScreen(page)
        screen.wait_for("Type here")
        screen.click_on("Type here")  # into the writing pane, as a person would
        return page, screen

    try:
        yield open_tab, home
    finally:
        browser.close()
        playwright.stop()
        server.terminate()
        server.wait(10)


def test_served_app_types_and_accepts_a_suggestion(served) -> None:
    open_tab, _ = served
    page, screen = open_tab()
    screen.wait_for("suggesting with")  # the n-gram built from the corpus serves suggestions at once
    page.keyboard.type("how are y")
    screen.wait_for("alt+1 you")  # the list of five, its top word first
    page.keyboard.press("Tab")
    screen.wait_for("how are you ")
    text = screen.text()
    assert "f10" in text.lower()  # training has a key browsers leave alone, shown in the footer


def test_closing_the_tab_keeps_what_was_typed(served) -> None:
    open_tab, home = served
    page, screen = open_tab()
    page.keyboard.press("F6")  # the corpus editor
    time.sleep(0.5)  # keys a few ms after a focus key can still reach the pane that had the focus
    page.keyboard.type("unsaved words")
    typed = time.monotonic()
    screen.flush_keys()  # the keys have left the page (a tab closed at once may drop them)...
    time.sleep(0.3)  # ...and the app has had a moment for them, as after a person's last key
    page.close()
    # The editor autosaves 2 s after the last key: this test is only a test if the tab closed sooner.
    assert time.monotonic() - typed < 1.5, "too slow to close the tab before the autosave timer"
    deadline = time.monotonic() + 15
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [json.loads(f.read_text(encoding="utf-8")).get("text", "")
                 for f in (home / "autosave").glob("buffer*.json")] if (home / "autosave").is_dir() else []
        if any("unsaved words" in t for t in texts):
            return
        time.sleep(0.2)
    pytest.fail(f"closing the tab lost the edit; autosaves: {texts!r}")
