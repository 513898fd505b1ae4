"""The app's side of the terminal: reading input safely, and leaving safely.

Two faults of Textual 8.2.8's Linux input path (the newest release; upstream issue #6456 for the
second is open) are fixed here, in one place, by a driver subclass that run_app installs:

* **Pastes that contain ESC.** `XTermParser` ends a bracketed paste at the first ESC inside it; the
  rest arrives as key presses, so a pasted log line with colour codes could run ctrl+t or ctrl+q.
  `PasteSafeParser` takes everything between ESC[200~ and ESC[201~ as paste text before the
  parser sees it.
* **Bytes that are not UTF-8.** A Latin-1 terminal typing "é" sends 0xE9, and Textual's strict
  decoder kills the input thread. `SafeLinuxDriver` decodes with replacement (U+FFFD).

And every way out writes the autosave first (`guard_app`): an unhandled exception on the event loop
or in any thread, the input thread dying. The exit status says how the app ended (`exit_status`).
SIGTERM / SIGHUP are the app's own handlers (tui/app.py), which report the signal here.
"""

from __future__ import annotations

import os
import selectors
import sys
import threading
import time
from codecs import getincrementaldecoder
from typing import Callable, Iterable

from textual import constants, events
from textual._loop import loop_last
from textual._parser import ParseError
from textual._xterm_parser import BRACKETED_PASTE_END, BRACKETED_PASTE_START, XTermParser
from textual.drivers.linux_driver import LinuxDriver

PASTE_STALL = 1.0  # seconds without input that end a paste whose end marker never came
EXIT_CRASH = 1


def _held_prefix(data: str, marker: str, shortest: int) -> int:
    """Length of the longest end of `data` that is a proper start of `marker` (at least
    `shortest` characters): it may be a marker split between two reads."""
    for size in range(min(len(marker) - 1, len(data)), shortest - 1, -1):
        if marker.startswith(data[-size:]):
            return size
    return 0


class PasteSafeParser(XTermParser):
    """XTermParser, except that a bracketed paste is everything up to ESC[201~, ESC included.

    Outside a paste, input goes to Textual's parser unchanged. The start of a paste marker at the
    very end of a read (a lone ESC included) is held back until the next read, so that a marker
    split between reads is still seen. If no read follows within ESCDELAY, it goes to Textual's
    parser at the next tick, which decides at once what it is: the escape key comes as soon as it
    did before.
    """

    def __init__(self, debug: bool = False) -> None:
        super().__init__(debug)
        self._paste: list[str] | None = None  # the paste being received, or None
        self._held = ""  # a possible start of a marker, waiting for the next read
        self._last_input = time.monotonic()

    def feed(self, data: str) -> Iterable[events.Message]:
        if not data:  # end of input: whatever was held or pasted is still input
            yield from self._flush()
            yield from super().feed(data)
            return
        self._last_input = time.monotonic()
        data, self._held = self._held + data, ""
        while data:
            if self._paste is None:
                start = data.find(BRACKETED_PASTE_START)
                if start < 0:
                    keep = _held_prefix(data, BRACKETED_PASTE_START, shortest=1)
                    data, self._held = data[:len(data) - keep], data[len(data) - keep:]
                    yield from self._parse(data)
                    return
                yield from self._parse(data[:start])
                self._paste, data = [], data[start + len(BRACKETED_PASTE_START):]
            else:
                end = data.find(BRACKETED_PASTE_END)
                if end < 0:
                    keep = _held_prefix(data, BRACKETED_PASTE_END, shortest=1)
                    self._paste.append(data[:len(data) - keep])
                    self._held = data[len(data) - keep:]
                    return
                self._paste.append(data[:end])
                yield self._end_paste()
                data = data[end + len(BRACKETED_PASTE_END):]

    def tick(self) -> Iterable[events.Message]:
        stalled = time.monotonic() - self._last_input
        if self._paste is not None and stalled >= PASTE_STALL:
            yield from self._flush()  # a paste marker typed or pasted by itself: never swallow all input
        elif self._held and self._paste is None and stalled >= constants.ESCAPE_DELAY:
            held, self._held = self._held, ""
            yield from self._parse(held)
            if self._timeout_time is not None:
                self._timeout_time = 0.0  # it already waited ESCDELAY here: no second wait
        yield from super().tick()

    def _flush(self) -> Iterable[events.Message]:
        held, self._held = self._held, ""
        if self._paste is not None:
            self._paste.append(held)
            yield self._end_paste()
        else:
            yield from self._parse(held)

    def _parse(self, data: str) -> Iterable[events.Message]:
        """Textual's parser on `data` (never on "", which to it means the end of input)."""
        if data:
            yield from super().feed(data)

    def _end_paste(self) -> events.Paste:
        text = "".join(self._paste or [])
        self._paste = None
        # As Textual does: NUL never reaches a widget (textual issue #1661).
        return events.Paste(text.replace("\x00", ""))


class SafeLinuxDriver(LinuxDriver):
    """LinuxDriver with the paste-safe parser and a decoder that never raises; if its input
    thread dies all the same, the app's crash handler runs before Textual's panic."""

    on_crash: Callable[[], None] | None = None  # set by guard_app

    def _run_input_thread(self) -> None:
        try:
            self.run_input_thread()
        except BaseException:
            import rich.traceback

            if self.on_crash is not None:
                self.on_crash()
            self._app.call_later(self._app.panic, rich.traceback.Traceback())

    def run_input_thread(self) -> None:
        """LinuxDriver.run_input_thread (Textual 8.2.8) with two changes: PasteSafeParser, and
        `errors="replace"` in the decoder."""
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        fileno = self.fileno
        parser = PasteSafeParser(self._debug)
        decode = getincrementaldecoder("utf-8")(errors="replace").decode

        def process(selector_events: list, final: bool = False) -> None:
            for last, (_key, mask) in loop_last(selector_events):
                if mask & selectors.EVENT_READ:
                    unicode_data = decode(os.read(fileno, 1024 * 4), final=final and last)
                    if not unicode_data:
                        break  # stdin is a pipe at its end
                    for event in parser.feed(unicode_data):
                        self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(0.1))
            selector.unregister(self.fileno)
            process(selector.select(0.1), final=True)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except (EOFError, ParseError):
                pass


class AppGuard:
    """What guard_app installed: the crash handler, and how the app ended."""

    def __init__(self, app, save: Callable[[], None]) -> None:
        self.app = app
        self.save = save
        self.crashed = False
        self._saved = threading.Lock()

    def on_crash(self) -> None:
        """Write the autosave (once; never raises): the app is about to end unplanned."""
        self.crashed = True
        if not self._saved.acquire(blocking=False):
            return
        try:
            self.save()
        except Exception:  # noqa: BLE001 - the crash report matters more than a failed save
            pass

    def exit_status(self) -> int:
        """128 + the signal after SIGTERM / SIGHUP (143 / 129: the app sets `exit_signal`), 1 after
        a crash, else the app's own return code."""
        signum = getattr(self.app, "exit_signal", None)
        if signum is not None:
            return 128 + signum
        if self.crashed or self.app.return_code:
            return self.app.return_code or EXIT_CRASH
        return 0


def guard_app(app, save: Callable[[], None]) -> AppGuard:
    """Make `app` (before app.run) read the terminal safely and save before any crash exit.

    * the driver becomes SafeLinuxDriver where Textual would use LinuxDriver;
    * Textual's one entry point for unhandled exceptions in handlers and workers
      (App._handle_exception, which ends the app) saves first;
    * sys.excepthook and threading.excepthook save first; an exception that kills a plain thread
      also ends the app (with status 1 and Textual's traceback), as one on the event loop does.
    """
    guard = AppGuard(app, save)
    if isinstance(app.driver_class, type) and issubclass(app.driver_class, LinuxDriver):
        app.driver_class = type("GuardedDriver", (SafeLinuxDriver,), {"on_crash": staticmethod(guard.on_crash)})
    handle_exception = app._handle_exception

    def on_exception(error: Exception) -> None:
        guard.on_crash()
        handle_exception(error)

    app._handle_exception = on_exception
    previous_hook, previous_thread_hook = sys.excepthook, threading.excepthook

    def excepthook(kind, value, traceback) -> None:
        guard.on_crash()
        previous_hook(kind, value, traceback)

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        guard.on_crash()
        if isinstance(args.exc_value, Exception) and app.is_running:
            from rich.traceback import Traceback

            report = Traceback.from_exception(args.exc_type, args.exc_value, args.exc_traceback)
            app.call_later(app.panic, report)  # ends the app, as Textual does when its input thread dies
        else:
            previous_thread_hook(args)

    sys.excepthook, threading.excepthook = excepthook, thread_excepthook
    return guard
