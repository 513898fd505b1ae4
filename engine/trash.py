"""The trash folder: what the user deletes (a model, a discarded autosave) is moved here, not
destroyed, and kept for KEEP_DAYS days; purge() removes what is older.

    data_dir()/trash/<kind>/<UTC time>-<name>     kind: "models", "autosave", ...

No torch: the app uses it for autosaves before the engine loads.
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path

from engine.paths import data_dir, fsync_dir

KEEP_DAYS = 7


def trash_dir(kind: str) -> Path:
    return data_dir() / "trash" / kind


def move_to_trash(path: str | os.PathLike, kind: str, name: str | None = None) -> Path:
    """Move a file or folder into the trash (same file system: a rename, so it is instant and
    atomic; across file systems a copy, then the original goes). Returns where it is now.
    OSError if it cannot be moved; the original is then untouched."""
    source = Path(path)
    folder = trash_dir(kind)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    base = f"{stamp}-{name or source.name}"
    target, n = folder / base, 1
    while target.exists() or target.is_symlink():
        n += 1
        target = folder / f"{base}-{n}"
    try:
        os.rename(source, target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # another file system
            raise
        _copy(source, target)
        _remove(source)
    os.utime(target)  # its age in the trash counts from now (purge reads the mtime)
    fsync_dir(folder)
    fsync_dir(source.parent)
    return target


def trashed(kind: str) -> list[Path]:
    """What the trash holds of one kind, newest first."""
    try:
        items = list(trash_dir(kind).iterdir())
    except OSError:
        return []
    return sorted(items, key=lambda p: p.name, reverse=True)


def purge(kind: str, keep_days: float = KEEP_DAYS, now: float | None = None) -> int:
    """Delete what has been in the trash longer than `keep_days`; returns how many went.
    Never raises: a trash that cannot be tidied is tidied next time."""
    limit = (now if now is not None else time.time()) - keep_days * 86400
    removed = 0
    for item in trashed(kind):
        try:
            if item.lstat().st_mtime < limit:
                _remove(item)
                removed += 1
        except OSError:
            continue
    return removed


def _copy(source: Path, target: Path) -> None:
    if source.is_dir() and not source.is_symlink():
        shutil.copytree(source, target, symlinks=True)
    else:
        shutil.copy2(source, target, follow_symlinks=False)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
