"""Files the app writes: atomic saves, the autosave of the editor buffer, and the last-opened path.

Only the engine's torch-free paths (atomic_write, data_dir) are used here, so the first frame stays fast.
"""

from __future__ import annotations

import codecs
import json
import os
import secrets
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from engine import atomic_write, data_dir, move_to_trash, purge

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

SAMPLE_CORPUS = Path(__file__).parent / "data" / "sample_corpus.txt"
# Shown when the packaged sample is missing, so the editor never starts empty-handed.
FALLBACK_SAMPLE = (
    "Good morning, how are you today?\n"
    "I am fine, thank you. How are you?\n"
    "I am doing well, thanks for asking.\n"
)


def sample_text() -> str:
    """The sample corpus shown on first start, or a few built-in lines if the file is missing."""
    try:
        return SAMPLE_CORPUS.read_text(encoding="utf-8")
    except OSError:
        return FALLBACK_SAMPLE


@dataclass(frozen=True)
class FileFormat:
    """How a corpus file is encoded, so that saving writes it back the same way."""

    codec: str = "utf-8"
    bom: bytes = b""

    @property
    def label(self) -> str:
        return {"utf-8": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}.get(self.codec, self.codec) + (
            " with BOM" if self.bom and self.codec == "utf-8" else "")


UTF8 = FileFormat()
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))


def detect_format(head: bytes) -> FileFormat:
    """The format of a file that engine.corpus.load_text accepted, from its first bytes: UTF-8,
    with or without a BOM, or UTF-16 with a BOM."""
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return FileFormat(codec, bom)
    return UTF8


def read_format(path: str | os.PathLike) -> FileFormat:
    """detect_format of a file's first bytes. Opens without blocking: the path may have been
    replaced by a pipe since it was checked."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return UTF8
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return UTF8
        return detect_format(os.read(fd, 4))
    except OSError:
        return UTF8
    finally:
        os.close(fd)


DiskState = tuple  # (st_mtime_ns, st_size) of a file, to notice when another program changes it


def disk_state(path: str | os.PathLike | None) -> DiskState | None:
    """What a file looks like on disk now (None: there is no such file)."""
    if path is None:
        return None
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size)


def atomic_write_text(path: str | os.PathLike, text: str, fmt: FileFormat = UTF8) -> None:
    """Write `text` so that the file is either the old one or the new one, never half.

    The text is written byte for byte (no newline translation: the editor keeps the file's style)
    in `fmt` (default UTF-8 without a BOM), to a temporary file in the same folder, fsynced, then
    renamed over the target. UnicodeEncodeError (a lone surrogate) is raised before anything is
    written.
    """
    atomic_write(path, fmt.bom + text.encode(fmt.codec))  # engine.paths: one home for the rename dance

@dataclass(frozen=True)
class Autosave:
    text: str
    path: str | None  # the file the buffer belongs to; None for an unsaved buffer
    saved_at: float
    file: Path | None = None  # the autosave file itself


TRASH_KIND = "autosave"  # data_dir()/trash/autosave: discarded autosaves, kept 7 days
AUTOSAVE_GLOB = "buffer*.json"  # buffer-<instance>.json; buffer.json from before instances


class AutosaveStore:
    """The autosave of one running app's editor buffer, and the autosaves other instances left.

    Each instance writes its own file, `buffer-<pid>-<random>.json` (atomically), so two apps on the
    same data folder never overwrite each other's. While it runs, an instance holds an exclusive
    lock on `buffer-<instance>.lock`: an autosave whose lock nobody holds belongs to an instance
    that is gone (quit by a signal, crashed, its terminal closed) and is an orphan, which the next
    start offers to recover. Whoever is asking about an orphan holds its lock, so two starting
    instances never both offer it.
    """

    def __init__(self, folder: Path | None = None, instance: str | None = None) -> None:
        self.folder = folder or data_dir() / "autosave"
        self.instance = instance or f"{os.getpid()}-{secrets.token_hex(4)}"
        self.file = self.folder / f"buffer-{self.instance}.json"
        self._lock: int | None = None  # fd of this instance's lock file
        self._held: dict[Path, int | None] = {}  # orphan file -> fd of its lock, while it is offered

    # --- this instance's autosave ---------------------------------------------------------------

    def write(self, text: str, path: str | None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            # Before the file exists, so that no other instance ever takes it for an orphan.
            self._lock = _lock(_lock_file(self.file), create=True)
        payload = {"path": path, "saved_at": time.time(), "pid": os.getpid(), "text": text}
        try:
            data = json.dumps(payload, ensure_ascii=False)
            data.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate: JSON can still carry it, escaped
            data = json.dumps(payload)
        atomic_write_text(self.file, data)

    def clear(self) -> None:
        """Delete this instance's autosave (OSError if the folder refuses)."""
        try:
            self.file.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass  # there is none

    def close(self) -> None:
        """The app is ending: release its lock (its autosave, if any, becomes an orphan) and
        the orphans it was asking about (they stay for the next start)."""
        for orphan in list(self._held):
            self._release(orphan)
        if self._lock is not None:
            _unlock(_lock_file(self.file), self._lock)
            self._lock = None

    # --- other instances' autosaves ---------------------------------------------------------------

    def orphans(self) -> list[Autosave]:
        """Autosaves of instances that are no longer running and that hold work their file does
        not, newest first. Holds their locks until keep(), discard() or adopt()."""
        found = []
        try:
            candidates = sorted(self.folder.glob(AUTOSAVE_GLOB))
        except OSError:
            return []
        for file in candidates:
            if file == self.file:
                continue
            if file in self._held:
                fd = self._held.pop(file)  # asked about before: still this instance's to offer
            else:
                # An instance creates its lock file before its first autosave and removes it only
                # when it ends: an autosave without one is an orphan, and this instance locks it.
                fd = _lock(_lock_file(file), create=True)
                if fd is False:
                    continue  # its instance is running (or another one is offering it right now)
            autosave = read_autosave(file)
            if autosave is None or not holds_unsaved_work(autosave):
                _unlock(None, fd)  # nothing to recover: left as it is
                continue
            self._held[file] = fd
            found.append(autosave)
        self._sweep_locks()
        return sorted(found, key=lambda a: a.saved_at, reverse=True)

    def keep(self, autosave: Autosave) -> None:
        """Leave an orphan for the next start."""
        self._release(autosave.file)

    def discard(self, autosave: Autosave) -> Path | None:
        """The user chose to discard an orphan: it goes to the trash folder, where it is kept for
        7 days (a slip can still be undone), and leaves the autosaves. Returns where it went
        (None: it could not be moved, and was deleted)."""
        where = None
        if autosave.file is not None:
            purge(TRASH_KIND)
            try:
                where = move_to_trash(autosave.file, TRASH_KIND)
            except FileNotFoundError:
                pass
            except OSError:
                self._delete(autosave)
        self._release(autosave.file, remove_lock=True)
        return where

    def _delete(self, autosave: Autosave) -> None:
        if autosave.file is not None:
            try:
                autosave.file.unlink()
            except FileNotFoundError:
                pass
        self._release(autosave.file, remove_lock=True)

    def adopt(self, autosave: Autosave, text: str, path: str | None) -> None:
        """The orphan's text is now this instance's buffer: write it as this instance's autosave,
        then delete the orphan. If the write fails, the orphan stays (and OSError is raised)."""
        try:
            self.write(text, path)
        except OSError:
            self.keep(autosave)
            raise
        self._delete(autosave)  # its text lives on in this instance's autosave

    def __del__(self) -> None:
        try:
            self.close()  # a store nobody holds any more: its owner is gone
        except Exception:
            pass

    def _release(self, file: Path | None, remove_lock: bool = False) -> None:
        if file is None or file not in self._held:
            return
        fd = self._held.pop(file)
        _unlock(_lock_file(file) if remove_lock else None, fd)

    def _sweep_locks(self) -> None:
        """Remove the lock files that instances killed before writing an autosave left behind."""
        try:
            locks = list(self.folder.glob("buffer*.lock"))
        except OSError:
            return
        for lock in locks:
            if lock.with_suffix(".json").exists() or lock == _lock_file(self.file):
                continue
            fd = _lock(lock, create=False)
            if fd not in (False, None):
                _unlock(lock, fd)


def read_autosaves(folder: Path | None = None) -> list[Autosave]:
    """Every readable autosave in the folder, whoever owns it, newest first."""
    folder = folder or data_dir() / "autosave"
    try:
        files = list(folder.glob(AUTOSAVE_GLOB))
    except OSError:
        return []
    found = [a for a in map(read_autosave, files) if a is not None]
    return sorted(found, key=lambda a: a.saved_at, reverse=True)


def read_autosave(file: Path) -> Autosave | None:
    """An autosave file, or None if there is none or it is unreadable (never worth a crash)."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        text, path, saved_at = data["text"], data["path"], float(data["saved_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(text, str) or not (path is None or isinstance(path, str)):
        return None
    return Autosave(text=text, path=path, saved_at=saved_at, file=file)


def holds_unsaved_work(autosave: Autosave) -> bool:
    """Whether an autosave holds work that is not in its file: newer than the file and different."""
    if autosave.path is None:
        return True
    try:
        info = os.stat(autosave.path)
    except FileNotFoundError:
        return True  # the file is gone: the autosave is all there is
    except OSError:
        return True
    if info.st_mtime > autosave.saved_at:
        return False  # the file was saved after the autosave: nothing to recover
    if not stat.S_ISREG(info.st_mode):
        return True  # never open a pipe or a device to compare: it could block
    try:
        with open(autosave.path, "rb") as handle:
            return handle.read().decode("utf-8-sig") != autosave.text
    except (OSError, UnicodeDecodeError):
        return True


def _lock_file(file: Path) -> Path:
    return file.with_suffix(".lock")


def _lock(lock: Path, create: bool) -> int | None | bool:
    """Take an exclusive lock on `lock`: its fd; False if another process holds it; None if
    there is no lock file (and `create` is false) or locking is impossible here."""
    flags = os.O_RDWR | (os.O_CREAT if create else 0)
    try:
        fd = os.open(lock, flags, 0o600)
    except OSError:
        return None
    if fcntl is None:  # no file locks on this platform: trust that a pid is not reused meanwhile
        if not create and _pid_running(lock):
            os.close(fd)
            return False
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    return fd


def _unlock(lock: Path | None, fd: int | None) -> None:
    """Release a lock taken by _lock; delete the lock file first if `lock` is given."""
    if lock is not None:
        try:
            lock.unlink()
        except OSError:
            pass
    if fd is not None:
        try:
            os.close(fd)  # closing releases the flock
        except OSError:
            pass


def _pid_running(lock: Path) -> bool:
    try:
        pid = int(lock.stem.split("-")[1])
        os.kill(pid, 0)
    except (IndexError, ValueError, OSError):
        return False
    return True


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
