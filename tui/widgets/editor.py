"""The corpus editor pane: a TextArea holding the training text, with save, autosave and a status line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static, TextArea

from tui.files import AutosaveStore, atomic_write_text

AUTOSAVE_DELAY = 2.0  # seconds after the last edit
STATS_DELAY = 0.3


@dataclass(frozen=True)
class TextStats:
    words: int  # tokens, as the engine counts them (punctuation included)
    distinct: int  # distinct lowercased words
    lines: int  # non-empty lines
    fingerprint: str  # engine.corpus.fingerprint of the text

    @property
    def vocab_size(self) -> int:
        """The vocabulary a model trained on this text would have: the words plus <unk> and <eos>."""
        return self.distinct + 2


def count_text(text: str) -> TextStats:
    """Words, distinct words and lines of a text. Imports the engine (torch): call it off the UI thread."""
    from engine.corpus import fingerprint
    from engine.tokenizer import EOS, key, split_lines, tokenize

    tokens = [t for t in tokenize(text, eos=False) if t != EOS]
    distinct = len({key(t) for t in tokens})
    lines = sum(1 for line in split_lines(text) if line.strip())
    return TextStats(words=len(tokens), distinct=distinct, lines=lines, fingerprint=fingerprint(text))


class CorpusEditor(Vertical):
    """Edits the corpus. Owns the buffer's file: saving, the unsaved marker and the autosave."""

    path: reactive[str | None] = reactive(None)
    dirty: reactive[bool] = reactive(False)

    class StatsChanged(Message):
        """The text's word counts and fingerprint, recomputed a moment after each edit."""

        def __init__(self, stats: TextStats) -> None:
            super().__init__()
            self.stats = stats

    class AutosaveFailed(Message):
        def __init__(self, reason: str) -> None:
            super().__init__()
            self.reason = reason

    class Saved(Message):
        def __init__(self, path: str) -> None:
            super().__init__()
            self.path = path

    def __init__(self, autosave: AutosaveStore, **kwargs) -> None:
        super().__init__(**kwargs)
        self.autosave = autosave
        self.stats: TextStats | None = None
        self._saved_text = ""  # what the file holds; the buffer is dirty when it differs
        self._stats_timer: Timer | None = None
        self._autosave_timer: Timer | None = None
        self._generation = 0  # so a slow stats count never overwrites a newer one

    def compose(self) -> ComposeResult:
        yield TextArea(id="corpus-text", soft_wrap=True, show_line_numbers=False)
        yield Static("counting…", id="corpus-status")

    @property
    def text_area(self) -> TextArea:
        return self.query_one("#corpus-text", TextArea)

    @property
    def text(self) -> str:
        return self.text_area.text

    def load(self, text: str, path: str | None, saved_text: str | None = None) -> None:
        """Show `text` as the content of `path`. `saved_text` is what the file holds, if not `text`
        (a recovered autosave is unsaved work on top of the file)."""
        self._saved_text = text if saved_text is None else saved_text
        self.path = path
        self.text_area.load_text(text)  # fires TextArea.Changed, which updates dirty and stats
        self.text_area.move_cursor((0, 0))
        self._update_dirty()
        self._stop_timer("_stats_timer")
        self._count()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        event.stop()
        self._update_dirty()
        self._schedule_stats()
        if self.dirty:
            self._restart_timer("_autosave_timer", AUTOSAVE_DELAY, self._write_autosave)
        else:
            # Back to what the file holds. A stale autosave is harmless: recovery compares it
            # with the file, and clearing it here could drop work while a recovery is pending.
            self._stop_timer("_autosave_timer")

    def _update_dirty(self) -> None:
        self.dirty = self.text != self._saved_text

    def watch_dirty(self) -> None:
        self._update_title()

    def watch_path(self) -> None:
        self._update_title()

    def _update_title(self) -> None:
        name = Path(self.path).name if self.path else "untitled"
        marker = " ● unsaved" if self.dirty else ""
        self.border_title = f"Corpus: {name}{marker}"

    # --- saving -------------------------------------------------------------------------------

    def save(self, path: str | None = None) -> bool:
        """Write the buffer to `path` (default: its own file) atomically; False, with a
        notification, if that failed. The old file is then intact and the buffer stays unsaved."""
        target = path or self.path
        if target is None:
            raise ValueError("save() needs a path for a buffer that has none")
        text = self.text
        try:
            atomic_write_text(target, text)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.notify(f"Could not save {target}: {reason}. Your text is still here, unsaved.",
                        title="Save failed", severity="error", timeout=8)
            return False
        self._saved_text = text
        self.path = str(target)
        self._update_dirty()
        self._stop_timer("_autosave_timer")
        self.autosave.clear()
        self.post_message(self.Saved(str(target)))
        return True

    def write_autosave_now(self) -> None:
        """Write the autosave synchronously (used when the app is told to terminate)."""
        if self.dirty:
            self.autosave.write(self.text, self.path)

    def _write_autosave(self) -> None:
        if self.dirty:
            self._autosave_in_thread(self.text, self.path)

    @work(thread=True, exclusive=True, group="autosave", exit_on_error=False)
    def _autosave_in_thread(self, text: str, path: str | None) -> None:
        try:
            self.autosave.write(text, path)
        except OSError as exc:
            self.post_message(self.AutosaveFailed(exc.strerror or str(exc)))

    def on_corpus_editor_autosave_failed(self, event: AutosaveFailed) -> None:
        event.stop()
        self.notify(f"Autosave failed: {event.reason}", severity="warning")

    # --- status line ---------------------------------------------------------------------------

    def _schedule_stats(self) -> None:
        self._restart_timer("_stats_timer", STATS_DELAY, self._count)

    def _count(self) -> None:
        self._generation += 1
        self._count_in_thread(self.text, self._generation)

    @work(thread=True, group="stats", exit_on_error=False)
    def _count_in_thread(self, text: str, generation: int) -> None:
        stats = count_text(text)
        if generation == self._generation:
            self.post_message(self.StatsChanged(stats))

    def on_corpus_editor_stats_changed(self, event: StatsChanged) -> None:
        # Let the message bubble on to the app; just keep the status line current.
        self.stats = event.stats
        s = event.stats
        self.query_one("#corpus-status", Static).update(
            f"{s.words:,} words · vocab {s.distinct:,} · {s.lines:,} lines"
        )

    # --- timers --------------------------------------------------------------------------------

    def _restart_timer(self, name: str, delay: float, callback) -> None:
        self._stop_timer(name)
        setattr(self, name, self.set_timer(delay, callback))

    def _stop_timer(self, name: str) -> None:
        timer: Timer | None = getattr(self, name)
        if timer is not None:
            timer.stop()
            setattr(self, name, None)
