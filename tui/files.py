"""Files the app writes: atomic saves, the autosave of the editor buffer, and the last-opened path.

Nothing here imports the engine (which imports torch), so the first frame stays fast.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "nextword-tui"  # the same folder as engine.store.data_home()
SAMPLE_CORPUS = Path(__file__).parent / "data" / "sample_corpus.txt"
# Shown when the packaged sample is missing, so the editor never starts empty-handed.
FALLBACK_SAMPLE = (
    "Good morning, how are you today?\n"
    "I am fine, thank you. How are you?\n"
    "I am doing well, thanks for asking.\n"
)


def data_dir() -> Path:
    """Where the app keeps its own state, beside the engine's models/ folder.

    Mirrors engine.store.data_home() (NEXTWORD_HOME, else the platform's user data folder)
    without importing the engine, which would load torch before the first frame.
    """
    home = os.environ.get("NEXTWORD_HOME")
    if home:
        return Path(home).expanduser()
    return platformdirs.user_data_path(APP_NAME)


def sample_text() -> str:
    """The sample corpus shown on first start, or a few built-in lines if the file is missing."""
    try:
        return SAMPLE_CORPUS.read_text(encoding="utf-8")
    except OSError:
        return FALLBACK_SAMPLE


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` as UTF-8 so that the file is either the old one or the new one, never half.

    The text is written byte for byte (no newline translation: the editor keeps the file's style),
    to a temporary file in the same folder, fsynced, then renamed over the target.
    """
    target = Path(os.path.realpath(path))  # write through a symlink rather than replacing it
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Autosave:
    text: str
    path: str | None  # the file the buffer belongs to; None for an unsaved buffer
    saved_at: float


class AutosaveStore:
    """One autosave of the editor buffer: a single JSON file, written atomically."""

    def __init__(self, folder: Path | None = None) -> None:
        self.file = (folder or data_dir() / "autosave") / "buffer.json"

    def write(self, text: str, path: str | None) -> None:
        self.file.parent.mkdir(parents=True, exist_ok=True)
        payload = {"path": path, "saved_at": time.time(), "text": text}
        atomic_write_text(self.file, json.dumps(payload, ensure_ascii=False))

    def read(self) -> Autosave | None:
        """The autosave, or None if there is none or it is unreadable (never worth a crash)."""
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
            text, path, saved_at = data["text"], data["path"], float(data["saved_at"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not isinstance(text, str) or not (path is None or isinstance(path, str)):
            return None
        return Autosave(text=text, path=path, saved_at=saved_at)

    def clear(self) -> None:
        try:
            self.file.unlink()
        except FileNotFoundError:
            pass

    def recoverable(self) -> Autosave | None:
        """An autosave holding work that is not in its file: newer than the file and different."""
        autosave = self.read()
        if autosave is None:
            return None
        if autosave.path is not None:
            try:
                file = Path(autosave.path)
                if file.stat().st_mtime > autosave.saved_at:
                    return None  # the file was saved after the autosave: nothing to recover
                if file.read_text(encoding="utf-8-sig") == autosave.text:
                    return None
            except FileNotFoundError:
                pass  # the file is gone: the autosave is all there is
            except (OSError, UnicodeDecodeError):
                pass
        return autosave


class LastFile:
    """Remembers the corpus file of the last session, so `nextword-tui` alone reopens it."""

    def __init__(self, folder: Path | None = None) -> None:
        self.file = (folder or data_dir()) / "last_file.json"

    def get(self) -> str | None:
        try:
            path = json.loads(self.file.read_text(encoding="utf-8"))["path"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return path if isinstance(path, str) and Path(path).is_file() else None

    def set(self, path: str | None) -> None:
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.file, json.dumps({"path": path}))
        except OSError:
            pass  # a convenience only
