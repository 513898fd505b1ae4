"""Run the real app in a pseudo-terminal: write bytes as a terminal would, read the screen back.

The app runs as `python -m tui.cli ARGS` in its own session with the pty as its controlling
terminal, exactly as a shell would start it; a reader thread feeds everything it draws into a
`pyte` screen (a VT100 emulator), so a test sees what a user would see.

    from harness import app_in_pty              # the fixture (below); no conftest.py here, whose
                                                # module name would shadow tests/conftest.py's
    def test_something(app_in_pty):
        term = app_in_pty("corpus.txt")          # starts the app, waits for its first frame
        term.write("hello")                      # typed keys: str (UTF-8) or raw bytes
        term.paste("pasted\\ntext")              # a bracketed paste, as terminals send one
        term.wait_for("hello")                   # until the screen shows it (or TimeoutError)
        term.write(CTRL_Q)
        assert term.wait_exit() == 0

Keys: write the bytes a terminal sends (CTRL_Q = "\\x11", TAB = "\\t", F6 = "\\x1b[17~"...). The
fixture gives every test a private NEXTWORD_HOME and working folder (`term.home`, `term.cwd`), and
kills whatever is still running at the end. Keep tests to a few seconds: starting the app takes one
or two (most of it importing torch).
"""

from __future__ import annotations

import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Callable

import pytest

pyte = pytest.importorskip("pyte", reason="pty tests need pyte (pip install -e '.[test]')")

REPO = Path(__file__).resolve().parents[2]
CTRL_C, CTRL_Q, CTRL_T, CTRL_S, TAB, ESC = "\x03", "\x11", "\x14", "\x13", "\t", "\x1b"
F6, F7, F9 = "\x1b[17~", "\x1b[18~", "\x1b[20~"
PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"
READY_TEXT = "Type here"  # the typing box's placeholder: the first frame is drawn


class Terminal:
    """One app process on a pty, and the screen it drew."""

    def __init__(self, args: list[str], home: Path, cwd: Path, size: tuple[int, int] = (100, 30),
                 env: dict[str, str] | None = None, module: str = "tui.cli") -> None:
        self.home, self.cwd, self.size = home, cwd, size
        self.screen = pyte.Screen(*size)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()  # everything the app wrote, for debugging failed tests
        self._lock = threading.Lock()
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[1], size[0], 0, 0))
        environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TERM": "xterm-256color",
            "LANG": "C.UTF-8", "NEXTWORD_HOME": str(home),
            "PYTHONPATH": f"{REPO}{os.pathsep}{Path(__file__).parent}",  # the app, and faulty_app
            **(env or {}),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args], stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
            env=environment, start_new_session=True, preexec_fn=_take_terminal, close_fds=True,
        )
        os.close(slave)
        self.master = master
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.master, 65536)
            except OSError:  # EIO: the app closed its side of the pty
                return
            if not data:
                return
            with self._lock:
                self.raw += data
                self.stream.feed(data)

    # --- input ---------------------------------------------------------------------------------

    def write(self, data: str | bytes) -> None:
        """Send bytes as typed keys (a str is encoded as UTF-8)."""
        os.write(self.master, data.encode("utf-8") if isinstance(data, str) else data)

    def press(self, key: str, settle: float = 0.3) -> None:
        """Send a key that moves the focus (F6...), then give the app a moment: keys that follow
        within a few ms can reach the widget that had the focus before (as no person types)."""
        self.write(key)
        time.sleep(settle)

    def paste(self, text: str | bytes) -> None:
        """Send `text` as one bracketed paste (the app enables bracketed paste mode at start)."""
        body = text.encode("utf-8") if isinstance(text, str) else text
        self.write(PASTE_START.encode() + body + PASTE_END.encode())

    def type(self, text: str, pause: float = 0.02) -> None:
        """Send `text` one key at a time, as a person types (a single write may be read as a paste
        by nothing, but keys a few ms apart are how a terminal really sends them)."""
        for char in text:
            self.write(char)
            time.sleep(pause)

    # --- output --------------------------------------------------------------------------------

    def text(self) -> str:
        """The screen now, one line per row."""
        with self._lock:
            return "\n".join(self.screen.display)

    def wait_for(self, what: str | Callable[[str], bool], timeout: float = 30.0) -> str:
        """Wait until the screen shows `what` (or `what(screen)` is true); the screen."""
        test = what if callable(what) else (lambda screen: what in screen)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.text()
            if test(screen):
                return screen
            if self.process.poll() is not None:
                time.sleep(0.1)  # let the reader take the last output
                raise AssertionError(f"the app exited ({self.process.returncode}) before showing "
                                     f"{what!r}:\n{self.output()}")
            time.sleep(0.05)
        raise TimeoutError(f"the screen never showed {what!r}; it shows:\n{self.text()}")

    def wait_ready(self, timeout: float = 60.0) -> str:
        return self.wait_for(READY_TEXT, timeout)

    def output(self) -> str:
        """Everything the app wrote, decoded leniently, escape sequences included."""
        with self._lock:
            return self.raw.decode("utf-8", "replace")

    # --- ending --------------------------------------------------------------------------------

    def signal(self, sig: int) -> None:
        self.process.send_signal(sig)

    def wait_exit(self, timeout: float = 30.0) -> int:
        """The app's exit status (a negative one: killed by that signal)."""
        code = self.process.wait(timeout)
        self._reader.join(2)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait(5)
        try:
            os.close(self.master)
        except OSError:
            pass


def _take_terminal() -> None:
    """In the child, after setsid: make the pty its controlling terminal, as a login shell has."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def autosave_texts(home: Path, folder: str = "autosave") -> list[str]:
    """The texts of every autosave in a data folder: the editor's, or ("writing") the drafts."""
    import json

    return [json.loads(f.read_text(encoding="utf-8"))["text"] for f in sorted((home / folder).glob("buffer*.json"))]


CORPUS = "the cat sat on the mat\nthe dog sat on the log\nhow are you doing today\nhow are you\n" * 3


@pytest.fixture
def app_in_pty(tmp_path: Path):
    """start(*args, ready=True, **kw) -> Terminal: the app on a pty, with a private data folder.
    With no args it opens `corpus.txt` (a small corpus, written for the test) in tmp_path/work."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    (work / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    started: list[Terminal] = []

    def start(*args: str, ready: bool = True, **kwargs) -> Terminal:
        """kwargs go to Terminal: size=(cols, rows), env={...}, module="faulty_app". `ready`: wait
        until the editor shows the file (its name in the editor's title)."""
        term = Terminal(list(args) or ["corpus.txt"], home=home, cwd=work, **kwargs)
        started.append(term)
        if ready:
            term.wait_ready()
            # The file is read after the first frame; keys typed into the editor before it is
            # shown would be replaced by it.
            term.wait_for(CORPUS.splitlines()[0] if not args else f"Corpus: {Path(args[0]).name}")
        return term

    yield start
    for term in started:
        term.close()
