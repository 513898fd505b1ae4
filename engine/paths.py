"""Where nextword keeps its files, and how it writes them so that a crash never leaves half a file.

No torch here: the app finds its data folder and saves the editor's text before the engine loads.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import platformdirs

APP_NAME = "nextword-tui"


def data_dir() -> Path:
    """Where the app and the engine keep their files: $NEXTWORD_HOME, else the platform's user
    data folder (models/ holds the saved models; the app keeps its own state beside it)."""
    home = os.environ.get("NEXTWORD_HOME")
    return Path(home).expanduser() if home else platformdirs.user_data_path(APP_NAME)


def models_home() -> Path:
    """The folder of saved models: data_dir() / "models"."""
    return data_dir() / "models"


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make renames and new entries in `folder` durable, where the platform allows it (a no-op
    where folders cannot be opened or synced)."""
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


def atomic_write(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` so that the file is either the old one or the new one, never half.

    The bytes go to a temporary file in the same folder, are fsynced, get the old file's permission
    bits (0o644 for a new file), and the temporary file is renamed over the target; then the folder
    is fsynced. A symlink is written through (its target is replaced), not replaced itself. OSError
    is raised as it comes, with the temporary file removed.
    """
    target = Path(os.path.realpath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
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
    fsync_dir(target.parent)
