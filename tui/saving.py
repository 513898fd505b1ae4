"""Saving the user's corpus file the way an editor does (vim's `backupcopy=auto` is the model).

Two ways to save, chosen per file:

* **Rename** (the usual, and the safest): the new text goes to a temporary file beside the old
  one, is fsynced, gets the old file's mode (and group), and is renamed over it. At every moment
  the file is either the old one or the new one.
* **In place, after a backup**, wherever a rename would change what the file *is*: the folder is
  not writable (but the file is), the file belongs to another user (a new file would be the
  saver's: root saving another user's file made it root:root), it has other hard links (they would
  keep the old text), or its group cannot be given to a new file. The old file is first copied to
  `<data folder>/backups/` and fsynced; then the file itself is rewritten and fsynced, so it keeps
  its inode, owner, group, mode and links. If the write fails, the old text is written back from
  the backup; the backup is deleted once the file holds either the new or the old text in full.
  During an in-place write (unlike a rename), a power cut can leave the file half-written: the
  backup is then the old text, and is kept.

A symlink is written through in both cases (its target changes, the link stays a link).
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

from engine import data_dir, fsync_dir
from tui.files import UTF8, FileFormat


def save_text(path: str | os.PathLike, text: str, fmt: FileFormat = UTF8) -> str:
    """Save `text` to `path` in `fmt`; "rename" or "in place" (how it was written).

    UnicodeEncodeError (a character `fmt` cannot store) is raised before anything is written;
    OSError as it comes, with the file holding its old text (see the module's note on power cuts).
    """
    data = fmt.bom + text.encode(fmt.codec)
    target = Path(os.path.realpath(path))
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    if (info is None or why_in_place(target, info) is None) and _rename_over(target, data, info):
        return "rename"  # (a new file always is; an old one unless its group cannot be kept)
    _write_in_place(target, data)
    return "in place"


def why_in_place(target: Path, info: os.stat_result) -> str | None:
    """Why renaming a new file over `target` would change it (None: it would not)."""
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_nlink > 1:
        return "other hard links"
    if info.st_uid != os.geteuid():
        return "another user's file"
    if not os.access(target.parent, os.W_OK | os.X_OK):
        return "folder not writable"
    return None


def _rename_over(target: Path, data: bytes, info: os.stat_result | None) -> bool:
    """The rename way. False (nothing changed) if the new file cannot get the old one's group."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if info is not None:
            if os.stat(tmp).st_gid != info.st_gid:
                try:
                    os.chown(tmp, -1, info.st_gid)
                except PermissionError:
                    os.unlink(tmp)
                    return False  # not one of the saver's groups: only an in-place write keeps it
            os.chmod(tmp, info.st_mode & 0o7777)  # after chown, which may clear set-id bits
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(target.parent)
    return True


def _write_in_place(target: Path, data: bytes) -> None:
    """Back the file up, rewrite it in place, fsync; on failure, put the old text back."""
    fd = os.open(target, os.O_WRONLY)  # PermissionError here, before anything is copied or changed
    try:
        backup = backup_path(target)
        backup.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(target, backup)  # contents only: the backup is the saver's own file
        _fsync_file(backup)
        fsync_dir(backup.parent)
        try:
            _overwrite(fd, data)
        except OSError as exc:
            try:
                _overwrite(fd, backup.read_bytes())
            except OSError:
                raise OSError(exc.errno, f"{exc.strerror or exc}; the old text is kept in {backup}") from exc
            backup.unlink()
            raise
        backup.unlink()
    finally:
        os.close(fd)


def _overwrite(fd: int, data: bytes) -> None:
    os.lseek(fd, 0, os.SEEK_SET)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    os.ftruncate(fd, len(data))
    os.fsync(fd)


def backup_path(target: Path) -> Path:
    """Where the copy of `target` goes before an in-place write (the saver's data folder: the
    file's own folder may be the reason for writing in place)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return data_dir() / "backups" / f"{target.name}.{stamp}.{os.getpid()}.bak"


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
