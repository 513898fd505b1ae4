"""NextwordApp: the CSS, the main screen, the signals, and run_app.

The coordination of the panes is MainScreen's (tui/screens/main.py). What the app itself owns is
what belongs to the process: this instance's autosave (its lock lives as long as the app), the
SIGTERM / SIGHUP handlers, and the exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path
from typing import Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from tui.files import AutosaveStore
from tui.safe import printable
from tui.screens.confirm_quit import ConfirmQuitScreen
from tui.screens.keys import commands
from tui.screens.main import MainScreen
from tui.widgets.editor import CorpusEditor

EXIT_GRACE = 3.0  # seconds a terminate signal waits for a clean exit


class NextwordApp(App[None]):
    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute, so that subclasses (tests) find it
    TITLE = "nextword-tui"

    def __init__(self, path: str | None = None) -> None:
        super().__init__()
        self.requested_path = path
        self.autosave = AutosaveStore()
        self.hard_exit_after_signal = False  # run_app sets it: only a real process may os._exit
        # run_app sets it: a process running one app for its whole life can freeze what it has
        # loaded; a test process making many apps would keep every one of them.
        self.freeze_gc_when_ready = False

    def get_default_screen(self) -> MainScreen:
        return MainScreen(self.requested_path, self.autosave)

    @property
    def main(self) -> MainScreen:
        """The main screen (under any dialog or the comparison)."""
        return self.screen_stack[0]

    @property
    def editor_pane(self) -> CorpusEditor:
        return self.main.editor_pane

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notification is plain text: messages quote file names and the user's text, which
        must neither be read as markup (a file named "[/]" would crash the app) nor send control
        characters to the terminal."""
        super().notify(printable(str(message), newlines=True), title=printable(str(title)), severity=severity,
                       timeout=timeout, markup=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, MainScreen):
            yield from commands(screen)

    async def action_quit(self) -> None:
        """ctrl+q, from anywhere but the question it would ask again (the main screen's rules)."""
        if not isinstance(self.screen, ConfirmQuitScreen):
            self.main.action_quit()

    def action_help_quit(self) -> None:
        """ctrl+c: say how to quit. (Textual's own hint is markup, and notify() shows text as it is.)"""
        self.notify("Press ctrl+q to quit the app.", title="Do you want to quit?")

    # --- signals --------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self._install_signal_handlers()

    def _install_signal_handlers(self) -> None:
        """SIGTERM / SIGHUP (terminal closed): keep the unsaved text in the autosave, then exit."""
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self._on_terminate, sig)
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            pass  # not the main thread, or a platform without these signals

    def _on_terminate(self, sig: int = signal.SIGTERM) -> None:
        self.exit_signal = sig  # run_app exits 128 + sig (143 for SIGTERM, 129 for SIGHUP)
        self.main.exit_cleanly(keep_autosave=True)  # writes the autosave and the draft first
        if self.hard_exit_after_signal:
            # After SIGHUP the terminal is gone, and Textual's shutdown can block for ever writing
            # to it (seen with tmux kill-server). The text is in the autosave by now: if a clean
            # exit has not happened within a few seconds, leave without one.
            watchdog = threading.Timer(EXIT_GRACE, os._exit, args=(128 + sig,))
            watchdog.daemon = True
            watchdog.start()

    async def _on_exit_app(self) -> None:
        """Every way out that is not the app's own (a browser tab closed under `--serve`, which
        ends the app with no question and no signal) keeps the unsaved text first: the autosave
        and draft timers may not have fired yet. (The app's own ways out did it already.)"""
        main = self.screen_stack[0] if self.screen_stack else None
        if isinstance(main, MainScreen) and not main.quitting:
            main.save_before_leaving()
        await super()._on_exit_app()

    def on_unmount(self) -> None:
        self.autosave.close()  # an autosave left behind is now an orphan, offered next start
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            pass


def run_app(path: str | None) -> int:
    """Run the app on `path` (None: the last corpus, or the sample on first start); its exit status."""
    from tui.terminal import guard_app

    app = NextwordApp(path)
    app.hard_exit_after_signal = True
    app.freeze_gc_when_ready = True
    guard = guard_app(app, save=lambda: app.main.save_before_leaving())  # safe input, save on crash
    app.run()
    return guard.exit_status()
