"""The main screen's file actions: open, save, save as, the recovery of orphaned autosaves, and
quitting (which asks about unsaved changes). A mixin of MainScreen, kept apart so that each file
holds one idea; it reads the screen's panes and its AutosaveStore / LastFile.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from engine import CorpusError, load_text
from textual import work

from tui.files import UTF8, Autosave, disk_state, read_format, sample_text
from tui.messages import FileLoaded
from tui.screens.confirm_quit import ConfirmQuitScreen
from tui.screens.open_file import PathScreen
from tui.screens.overwrite import ConfirmOverwriteScreen
from tui.screens.recover import RecoverScreen

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.files import AutosaveStore, LastFile
    from tui.widgets.editor import CorpusEditor

    Base = Screen[None]
else:
    Base = object

Then = Callable[[bool], object]  # what to do once a save ended: then(saved)


def read_saved_text(path: str) -> str:
    """What a corpus file holds, as the editor would load it; "" if it cannot be read as text."""
    try:
        return load_text(path)
    except CorpusError:
        return ""


class FileActions(Base):
    autosave: AutosaveStore
    last_file: LastFile
    quitting: bool = False
    _autosave_found: list[Autosave]
    _recovery_asked: int

    if TYPE_CHECKING:
        @property
        def editor_pane(self) -> CorpusEditor: ...

        def files_shown(self) -> None: ...

        def save_before_leaving(self, keep_autosave: bool = True) -> None: ...

    # --- opening --------------------------------------------------------------------------------

    def open_at_start(self, path: str | None) -> None:
        """The file given on the command line (or opened last time), else the sample corpus."""
        self._autosave_found = self.autosave.orphans()
        self._recovery_asked = 0
        if path:
            self.open_path(path, startup=True)
        else:
            self.editor_pane.load(sample_text(), None)
            self._offer_recovery()
            self.files_shown()

    def action_open(self) -> None:
        """Ask for a file to open; first, if the buffer has unsaved changes, whether to save them
        (opening replaces the buffer: its changes must not go silently)."""
        if not self.editor_pane.dirty:
            self._choose_file()
        else:
            self._ask_to_save("opening another file", lambda saved: saved and self._choose_file())

    def _choose_file(self) -> None:
        start = str(Path(self.editor_pane.path).parent) if self.editor_pane.path else None
        self.app.push_screen(PathScreen("Open a corpus (plain text, UTF-8)", "Open", start_dir=start),
                             lambda path: path and self.open_path(path))

    @work(thread=True, group="open", exclusive=True, exit_on_error=False)
    def open_path(self, path: str, startup: bool = False) -> None:
        """Read a corpus file off the UI thread (files can be big); FileLoaded says how it went."""
        if startup and not os.path.lexists(path):
            self.post_message(FileLoaded(path, "", error=None))  # a new file: start it empty
            return
        disk = disk_state(path)  # before reading: a change while reading counts as a change
        try:
            text = load_text(path)  # refuses folders, pipes and devices without opening them
        except CorpusError as exc:
            self.post_message(FileLoaded(path, None, error=str(exc)))
            return
        self.post_message(FileLoaded(path, text, fmt=read_format(path), disk=disk))

    def on_file_loaded(self, message: FileLoaded) -> None:
        editor = self.editor_pane
        if message.error:
            self.notify(message.error, title="Could not open the file", severity="error", timeout=8)
            if not editor.text and editor.path is None:
                editor.load(sample_text(), None)  # a failed start still gets something to train on
        else:
            path = str(Path(message.path).resolve())
            text = message.text or ""
            editor.load(text, path, fmt=message.fmt, disk=message.disk)
            self.last_file.set(path)
            if not text.strip() and message.disk is not None:
                self.notify(f"{Path(path).name} is empty: write or paste some text (a few sentences at least) "
                            "before training.", title="Empty corpus", severity="warning", timeout=6)
        self._offer_recovery()
        self.files_shown()

    # --- recovering -----------------------------------------------------------------------------

    def _offer_recovery(self) -> None:
        """Ask about each orphaned autosave, newest first, until one is recovered."""
        if not self._autosave_found:
            return
        autosave = self._autosave_found.pop(0)
        self._recovery_asked += 1
        position = (self._recovery_asked, self._recovery_asked + len(self._autosave_found))
        preview = "\n".join(autosave.text.splitlines()[:3])[:200]

        def decided(choice: str | None) -> None:
            if choice == "recover":
                self._recover(autosave)
                left, self._autosave_found = self._autosave_found, []
                for other in left:
                    self.autosave.keep(other)
                if left:
                    self.notify(f"{len(left)} more autosave(s) with unsaved work are kept: they are offered at "
                                "the next start.", timeout=8)
                return
            if choice == "discard":
                self.autosave.discard(autosave)
            else:
                self.autosave.keep(autosave)
            self._offer_recovery()

        self.app.push_screen(RecoverScreen(autosave.path, autosave.saved_at, preview, position), decided)

    def _recover(self, autosave: Autosave) -> None:
        saved, fmt, disk = "", UTF8, None
        if autosave.path:
            disk = disk_state(autosave.path)
            saved = read_saved_text(autosave.path)
            fmt = read_format(autosave.path) if saved else UTF8
        self.editor_pane.load(autosave.text, autosave.path, saved_text=saved, fmt=fmt, disk=disk)
        try:
            # Now this instance's autosave: the orphan is deleted once that is written.
            self.autosave.adopt(autosave, self.editor_pane.text, self.editor_pane.path)
        except OSError:
            pass  # the orphan stays on disk; the editor's autosave will keep trying
        self.notify("Recovered your unsaved changes. ctrl+s saves them.", timeout=4)

    # --- saving ---------------------------------------------------------------------------------

    def action_save(self) -> None:
        if self.editor_pane.path is None:
            self.action_save_as()
        else:
            self._save_checked()

    def _save_checked(self, then: Then | None = None) -> None:
        """Save to the buffer's own file, first asking if another program changed it meanwhile."""
        editor = self.editor_pane

        def save(overwrite: bool | None = True) -> None:
            saved = bool(overwrite) and editor.save()
            if then is not None:
                then(saved)

        if editor.changed_on_disk():
            self.app.push_screen(ConfirmOverwriteScreen(Path(editor.path).name), save)
        else:
            save()

    def action_save_as(self, then: Then | None = None) -> None:
        """Ask for a path and save there."""
        def chosen(path: str | None) -> None:
            saved = bool(path) and self.editor_pane.save(path)
            if then is not None:
                then(saved)

        self.app.push_screen(PathScreen("Save the corpus as", "Save", initial=self.editor_pane.path or "corpus.txt",
                                        confirm_overwrite=True), chosen)

    def _ask_to_save(self, before: str, then: Then) -> None:
        """The buffer has unsaved changes: Save (then `then(saved)`), Discard (`then(True)`) or Cancel."""
        def chosen(choice: str | None) -> None:
            if choice == "discard":
                then(True)
            elif choice == "save" and self.editor_pane.path is None:
                self.action_save_as(then=then)
            elif choice == "save":
                self._save_checked(then)

        name = Path(self.editor_pane.path).name if self.editor_pane.path else "The corpus"
        self.app.push_screen(ConfirmQuitScreen(name, before=before), chosen)

    # --- quitting -------------------------------------------------------------------------------

    def action_quit(self) -> None:
        if self.quitting:
            return
        if not self.editor_pane.dirty:
            self.exit_cleanly(keep_autosave=False)
        else:
            self._ask_to_save("quitting", lambda saved: saved and self.exit_cleanly(keep_autosave=False))

    def exit_cleanly(self, keep_autosave: bool) -> None:
        """Leave: write the draft (and, for a signal, the autosave) now, remember the file, drop
        this instance's autosave unless asked to keep it (a signal), and stop training (the
        thread sees it at its next batch)."""
        self.quitting = True
        self.save_before_leaving(keep_autosave)  # the draft's 1 s timer may not have fired yet
        if self.editor_pane.path:
            self.last_file.set(self.editor_pane.path)  # `nextword-tui` alone reopens it next time
        if not keep_autosave:
            try:
                self.autosave.clear()  # only this instance's: other instances' stay
            except OSError:
                pass
        self.workers.cancel_group(self, "training")
        self.app.exit()
