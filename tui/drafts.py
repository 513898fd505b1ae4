"""What is written in the writing pane outlives the app: it is autosaved (atomically, per running
instance, like the corpus buffer: tui/files.py's AutosaveStore in the folder `writing/`) and comes
back at the next start. Unlike the corpus, a draft has no file of its own, so nothing needs asking:
the newest draft left by an instance that has ended is simply restored, the others are kept.

Pure Python (no torch, no Textual).
"""

from __future__ import annotations

from pathlib import Path

from engine import data_dir
from tui.files import AutosaveStore


class DraftKeeper:
    """The writing pane's text on disk."""

    def __init__(self, folder: Path | None = None) -> None:
        self.store = AutosaveStore(folder or data_dir() / "writing")
        self.restored_from: Path | None = None

    def restore(self) -> str:
        """The newest draft an ended instance left (now this instance's own), or "". Older ones
        stay on disk for the next start. Never raises: a draft that cannot be read is left alone."""
        try:
            drafts = self.store.orphans()
        except OSError:
            return ""
        if not drafts:
            return ""
        newest, older = drafts[0], drafts[1:]
        for draft in older:
            self.store.keep(draft)
        try:
            self.store.adopt(newest, newest.text, None)
        except OSError:
            pass  # it stays an orphan on disk; this instance's own autosave will keep trying
        self.restored_from = newest.file
        return newest.text

    def save(self, text: str) -> None:
        """Autosave `text` (OSError if the data folder refuses)."""
        self.store.write(text, None)

    def close(self) -> None:
        """The app ends: the draft stays on disk, for the next start."""
        self.store.close()
