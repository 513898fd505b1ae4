"""The real app (`python -m faulty_app ARGS` is `nextword-tui ARGS`) with three faults to inject,
for the crash-path tests. Nothing else differs.

    F10: the terminal input thread raises (as it did on an undecodable byte);
    F11: a plain background thread raises;
    F12: a key handler on the event loop raises.
"""

from __future__ import annotations

import sys
import threading

from textual import events
from textual.binding import Binding

import tui.app
import tui.terminal
from tui.cli import main

F10, F11, F12 = "\x1b[21~", "\x1b[23~", "\x1b[24~"


class Injected(RuntimeError):
    pass


class FaultyApp(tui.app.NextwordApp):
    BINDINGS = [Binding("f11", "thread_fault", priority=True), Binding("f12", "loop_fault", priority=True)]

    def action_thread_fault(self) -> None:
        threading.Thread(target=self._raise, name="faulty").start()

    def action_loop_fault(self) -> None:
        self._raise()

    @staticmethod
    def _raise() -> None:
        raise Injected("injected fault")


def _process_message(self, message) -> None:
    if isinstance(message, events.Key) and message.key == "f10":
        raise Injected("the input thread dies")
    original(self, message)


original = tui.terminal.SafeLinuxDriver.process_message
tui.terminal.SafeLinuxDriver.process_message = _process_message
tui.app.NextwordApp = FaultyApp

if __name__ == "__main__":
    sys.exit(main())
