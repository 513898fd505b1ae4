"""The corpus editor pane: a TextArea holding the training text, with save, autosave and a status line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from engine import fingerprint, key, split_lines, tokenize
from rich.segment import Segment
from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Static, TextArea
from textual.widgets.text_area import Document

from tui.files import UTF8, AutosaveStore, DiskState, FileFormat, disk_state
from tui.saving import save_text
from tui.safe import has_control, plain, printable

AUTOSAVE_DELAY = 2.0  # seconds after the last edit
STATS_DELAY = 0.3
# Soft wrapping costs Textual time in proportion to the text on every load and resize, and in
# proportion to a line's length on every keystroke in it: a 5 MB line froze the editor for 20 s
# a key. Texts with a line this long, or this big in all, are shown unwrapped.
WRAP_MAX_LINE = 5_000
WRAP_MAX_CHARS = 1_000_000
COUNT_PIECE = 65_536  # count_text tokenizes long lines in pieces, so the UI thread gets the GIL


@dataclass(frozen=True)
class TextStats:
    words: int  # tokens, as the engine counts them (punctuation included)
    distinct: int  # distinct lowercased words
    lines: int  # non-empty lines
    fingerprint: str  # engine.fingerprint of the text

    @property
    def vocab_size(self) -> int:
        """The vocabulary a model trained on this text would have: the words plus <unk> and <eos>."""
        return self.distinct + 2


def count_text(text: str) -> TextStats:
    """Words, distinct words and lines of a text (a few seconds for 100 MB: call it off the UI thread)."""
    words, distinct, lines = 0, set(), 0
    for line in split_lines(text):
        if not line.strip():
            continue
        lines += 1
        # One regex call over a 5 MB line would hold the GIL (and freeze the UI) for half a
        # second: cut long lines at spaces, which no token crosses.
        for piece in _pieces(line):
            tokens = tokenize(piece, eos=False)
            words += len(tokens)
            distinct.update(key(t) for t in tokens)
    return TextStats(words=words, distinct=len(distinct), lines=lines, fingerprint=fingerprint(text))


def _pieces(line: str, size: int = COUNT_PIECE):
    start = 0
    while len(line) - start > size:
        cut = max(line.rfind(" ", start, start + size), line.rfind("\t", start, start + size))
        end = cut + 1 if cut > start else start + size  # no space at all: not words anyway
        yield line[start:end]
        start = end
    yield line[start:]


def soft_wrap_suits(text: str) -> bool:
    """Whether the editor can wrap `text` without making typing slow (see WRAP_MAX_LINE)."""
    return len(text) <= WRAP_MAX_CHARS and max(map(len, text.splitlines()), default=0) <= WRAP_MAX_LINE


def line_break_changes(text: str, normalized: str) -> str | None:
    """Why the editor's copy of `text` differs from it (Textual's TextArea keeps one line-break
    style and treats form feeds and Unicode line separators as line breaks), or None."""
    if normalized == text:
        return None
    styles = [name for name, pattern in (("CRLF", "\r\n"), ("LF", r"(?<!\r)\n"), ("CR", r"\r(?!\n)"))
              if re.search(pattern, text)]
    others = sorted({f"U+{ord(c):04X}" for c in re.findall("[\v\f\x1c-\x1e\x85\u2028\u2029]", text)})
    parts = []
    if len(styles) > 1:
        parts.append(f"mixes {' and '.join(styles)} line breaks")
    if others:
        parts.append(f"has other line separators ({', '.join(others[:4])})")
    why = " and ".join(parts) or "has line breaks the editor changes"
    return why


class CorpusTextArea(TextArea):
    """A TextArea that never sends a control character of the text to the terminal: an ESC in a
    file is drawn as ␛, not obeyed (see tui.safe)."""

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if not any(has_control(segment.text) for segment in strip):
            return strip
        # Control characters are zero cells wide to Textual, their stand-ins one: keep the
        # line's width (the line may lose as many cells at its end).
        segments = [Segment(printable(s.text), s.style, s.control) for s in strip]
        return Strip(segments).adjust_cell_length(strip.cell_length)


class CorpusEditor(Vertical):
    """Edits the corpus. Owns the buffer's file: saving, the unsaved marker and the autosave."""

    path: reactive[str | None] = reactive(None)
    dirty: reactive[bool] = reactive(False)

    @dataclass
    class StatsChanged(Message):
        """The text's word counts and fingerprint, recomputed a moment after each edit."""

        stats: TextStats

    @dataclass
    class AutosaveWritten(Message):
        """An autosave attempt ended: `error` is None when it worked."""

        error: str | None

    @dataclass
    class Saved(Message):
        path: str

    def __init__(self, autosave: AutosaveStore, **kwargs) -> None:
        super().__init__(**kwargs)
        self.autosave = autosave
        self.stats: TextStats | None = None
        self.format: FileFormat = UTF8  # how the file is encoded; saving keeps it
        self._saved_text = ""  # what the file holds; the buffer is dirty when it differs
        self._disk: DiskState | None = None  # the file as this buffer last read or wrote it
        self._stats_timer: Timer | None = None
        self._autosave_timer: Timer | None = None
        self._generation = 0  # so a slow stats count never overwrites a newer one
        self._autosave_failing = False  # said once, until an autosave works again

    def compose(self) -> ComposeResult:
        yield CorpusTextArea(id="corpus-text", soft_wrap=True, show_line_numbers=False)
        yield Static("counting…", id="corpus-status", markup=False)

    @property
    def text_area(self) -> TextArea:
        return self.query_one("#corpus-text", TextArea)

    @property
    def text(self) -> str:
        return self.text_area.text

    def load(self, text: str, path: str | None, saved_text: str | None = None,
             fmt: FileFormat = UTF8, disk: DiskState | None = None) -> None:
        """Show `text` as the content of `path`. `saved_text` is what the file holds, if not `text`
        (a recovered autosave is unsaved work on top of the file). `fmt`: the file's encoding;
        `disk`: its disk_state() from before it was read, to notice later changes by others."""
        area = self.text_area
        wrap = soft_wrap_suits(text)
        area.soft_wrap = False  # wrapping the old text again before replacing it would be waste
        area.load_text(text)  # fires TextArea.Changed, which updates dirty and stats
        area.soft_wrap = wrap
        area.move_cursor((0, 0))
        # The TextArea keeps one line-break style: a file that mixes them (or has form feeds)
        # reads back different. That is not an edit; say what saving will do instead.
        normalized = area.text
        changes = line_break_changes(text, normalized)
        if saved_text is None:
            saved_text = normalized
        else:  # what the file holds, as the editor would show it: compare like with like
            saved_text = area.document.newline.join(Document(saved_text).lines)
        self._saved_text = saved_text
        self.format = fmt
        self._disk = disk
        self.path = path
        self._update_dirty()
        self._stop_timer("_stats_timer")
        self._count()
        if changes and path is not None:
            newline = {"\r\n": "CRLF", "\n": "LF", "\r": "CR"}.get(area.document.newline, "LF")
            self.notify(f"{Path(path).name} {changes}: the editor shows them as line breaks, and saving "
                        f"writes every line break as {newline}. Nothing changes until you save.",
                        title="Line breaks", severity="warning", timeout=10)
        if not wrap:
            self.notify("This text has very long lines (or is very big): it is shown without wrapping, "
                        "so that typing stays fast.", timeout=5)

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
        self.border_title = plain(f"Corpus: {name}{marker}")  # a file may be named "[/]"

    # --- saving -------------------------------------------------------------------------------

    def changed_on_disk(self) -> bool:
        """Whether another program changed (or created) the buffer's file since this buffer last
        read or wrote it: saving now would overwrite that."""
        if self.path is None:
            return False
        now = disk_state(self.path)
        return now is not None and now != self._disk

    def save(self, path: str | None = None) -> bool:
        """Write the buffer to `path` (default: its own file) atomically; False, with a
        notification, if that failed. The old file is then intact and the buffer stays unsaved.
        Saving to the buffer's own file keeps its encoding (UTF-16, a BOM); another is UTF-8."""
        target = path or self.path
        if target is None:
            raise ValueError("save() needs a path for a buffer that has none")
        text = self.text
        same_file = self.path is not None and Path(target) == Path(self.path)
        fmt = self.format if same_file else UTF8
        try:
            save_text(target, text, fmt)  # like an editor: in place after a backup where a rename is unsafe
        except (OSError, UnicodeEncodeError) as exc:
            if isinstance(exc, OSError):
                reason = exc.strerror or str(exc)
            else:
                reason = f"the text has a character {fmt.label} cannot store at position {exc.start}"
            self.notify(f"Could not save {target}: {reason}. Your text is still here, unsaved.",
                        title="Save failed", severity="error", timeout=10)
            return False
        self._saved_text = text
        self.format = fmt
        self._disk = disk_state(target)
        self.path = str(target)
        self._update_dirty()
        self._stop_timer("_autosave_timer")
        try:
            self.autosave.clear()
        except OSError:
            pass  # a stale autosave is harmless: recovery compares it with the file
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
            self.post_message(self.AutosaveWritten(exc.strerror or str(exc)))
        else:
            self.post_message(self.AutosaveWritten(None))

    def on_corpus_editor_autosave_written(self, event: AutosaveWritten) -> None:
        event.stop()
        if event.error is None:
            self._autosave_failing = False
        elif not self._autosave_failing:  # once, not every two seconds while it keeps failing
            self._autosave_failing = True
            self.notify(f"Autosave failed: {event.error}. Your text is safe while the app runs; "
                        "save it (ctrl+s) to keep it.", title="Autosave", severity="warning", timeout=10)

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
        wrap = "" if self.text_area.soft_wrap else " · no wrap (long lines)"
        self.query_one("#corpus-status", Static).update(
            f"{s.words:,} words · vocab {s.distinct:,} · {s.lines:,} lines{wrap}"
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
