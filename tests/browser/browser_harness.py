"""Drive `nextword-tui --serve` in a real headless Chromium and read the app's screen back.

The page's WebSocket is wrapped (an init script, before textual-serve's own code runs) so that
every byte the app draws is kept; those bytes are fed to a `pyte` screen of the terminal's size,
so a test reads the same characters the browser's xterm.js paints. Keys go in through the page's
keyboard, as a person types them, and reach the app through xterm.js and the websocket.

Needs Playwright (pip, the test extras) and a Chromium on the machine (Debian's `chromium`;
Playwright's own browser downloads are not used). `browser_or_skip()` says clearly what is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
HOOK = """
(() => {
  const Original = window.WebSocket;
  window.__nextword = {chunks: [], size: null};
  class Recorded extends Original {
    constructor(url, ...rest) {
      super(url, ...rest);
      window.__nextword.socket = this;
      const query = new URL(url, location.href).searchParams;
      window.__nextword.size = [Number(query.get('width')), Number(query.get('height'))];
      this.addEventListener('message', (event) => {
        if (typeof event.data === 'string') return;
        const bytes = (buffer) => Array.from(new Uint8Array(buffer));
        window.__nextword.chunks.push(event.data instanceof ArrayBuffer ? bytes(event.data)
                                      : event.data.arrayBuffer().then(bytes));
      });
    }
    send(data) {
      if (typeof data === 'string' && data.startsWith('["resize"')) {
        const size = JSON.parse(data)[1];
        window.__nextword.size = [size.width, size.height];
      }
      return super.send(data);
    }
  }
  window.WebSocket = Recorded;
})();
"""


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def browser_or_skip() -> str:
    """The Chromium to drive, or pytest.skip with what is missing and how to get it."""
    import pytest

    pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -e '.[test]'")
    pytest.importorskip("pyte", reason="pyte is not installed: pip install pyte")
    pytest.importorskip("textual_serve", reason="textual-serve is not installed: pip install -e .")
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium; .ci/run installs it)")
    return chromium


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args: list[str], home: Path, cwd: Path, port: int, timeout: float = 20.0) -> subprocess.Popen:
    """`nextword-tui ARGS --serve --port PORT`, once it accepts connections."""
    env = {**os.environ, "NEXTWORD_HOME": str(home), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    server = subprocess.Popen([sys.executable, "-m", "tui.cli", *args, "--serve", "--port", str(port)], cwd=cwd,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {server.stdout.read().decode(errors='replace')[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise TimeoutError("the server did not start listening")


class BrowserScreen:
    """The app's screen as the page shows it."""

    def __init__(self, page) -> None:
        self.page = page
        self.screen = None
        self.stream = None
        self.fed = 0  # chunks fed to the screen so far

    def text(self) -> str:
        import pyte

        size = tuple(self.page.evaluate("window.__nextword.size") or (80, 24))
        if self.screen is None or (self.screen.columns, self.screen.lines) != size:
            self.screen, self.fed = pyte.Screen(*size), 0
            self.stream = pyte.ByteStream(self.screen)
        chunks = self.page.evaluate(f"Promise.all(window.__nextword.chunks.slice({self.fed}))")
        self.fed += len(chunks)
        self.stream.feed(bytes(b for chunk in chunks for b in chunk))
        return "\n".join(line.rstrip() for line in self.screen.display)

    def wait_for(self, needle: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if needle in text:
                return text
            if time.monotonic() > deadline:
                raise TimeoutError(f"{needle!r} never appeared; the screen:\n{text}")
            time.sleep(0.05)

    def flush_keys(self, timeout: float = 10.0) -> None:
        """Until the page has sent every key typed so far down its websocket."""
        deadline = time.monotonic() + timeout
        while self.page.evaluate("window.__nextword.socket.bufferedAmount") > 0:
            if time.monotonic() > deadline:
                raise TimeoutError("the page never sent its keys")
            time.sleep(0.01)

    def click_on(self, needle: str) -> None:
        """Click where the screen shows `needle` (as a person would, to put the focus there)."""
        lines = self.text().splitlines()
        y = next(row for row, line in enumerate(lines) if needle in line)
        x = lines[y].index(needle)
        width, height = self.page.evaluate("window.__nextword.size")
        box = self.page.locator("#terminal .xterm-screen").bounding_box()
        self.page.mouse.click(box["x"] + (x + 1.5) * box["width"] / width, box["y"] + (y + 0.5) * box["height"] / height)

    def line_with(self, needle: str) -> str:
        return next((line for line in self.text().splitlines() if needle in line), "")
