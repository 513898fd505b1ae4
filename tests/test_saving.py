"""tui.saving.save_text: the rename way where it is safe; a backup, then an in-place write, where a
rename would change the file (issue 12 item 3). Runs as any user; the owner and folder cases need
root (to make another user's file, and to become that user)."""

from __future__ import annotations

import os
import pwd
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tui import saving
from tui.files import FileFormat
from tui.saving import save_text

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="making another user's file needs root")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def backups(home: Path) -> list[Path]:
    return sorted((home / "backups").glob("*")) if (home / "backups").exists() else []


def test_a_plain_file_is_replaced_by_rename_keeping_its_mode(tmp_path, home) -> None:
    target = tmp_path / "corpus.txt"
    target.write_text("old\n")
    os.chmod(target, 0o640)
    inode = target.stat().st_ino
    assert save_text(target, "new\n") == "rename"
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.stat().st_ino != inode and backups(home) == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_a_new_file_is_created_with_the_usual_mode(tmp_path) -> None:
    target = tmp_path / "new.txt"
    assert save_text(target, "first\n") == "rename"
    assert target.read_text() == "first\n" and stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_hard_linked_file_is_written_in_place_so_every_link_sees_it(tmp_path, home) -> None:
    target, link = tmp_path / "corpus.txt", tmp_path / "link.txt"
    target.write_text("old text\n")
    os.link(target, link)
    assert save_text(target, "new\n") == "in place"
    assert link.read_text() == "new\n" and target.stat().st_nlink == 2
    assert backups(home) == []  # deleted once the new text is in


def test_a_symlink_stays_a_link_to_the_new_text(tmp_path) -> None:
    real, link = tmp_path / "real.txt", tmp_path / "link.txt"
    real.write_text("old\n")
    link.symlink_to(real)
    save_text(link, "new\n", FileFormat("utf-16-le", b"\xff\xfe"))
    assert link.is_symlink() and real.read_bytes() == b"\xff\xfe" + "new\n".encode("utf-16-le")


def test_a_failed_in_place_write_puts_the_old_text_back(tmp_path, home, monkeypatch) -> None:
    target = tmp_path / "corpus.txt"
    target.write_text("the old text, all of it\n")
    os.link(target, tmp_path / "link.txt")
    real_write, calls = os.write, []

    def half_then_full_disk(fd, data):
        calls.append(len(data))
        if len(calls) == 1:
            real_write(fd, bytes(data[:3]))
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(saving.os, "write", half_then_full_disk)
    with pytest.raises(OSError, match="No space"):
        save_text(target, "a new text that does not fit\n")
    assert target.read_text() == "the old text, all of it\n" and backups(home) == []


@needs_root
def test_another_users_file_keeps_its_owner_and_group(tmp_path, home) -> None:
    target = tmp_path / "corpus.txt"
    target.write_text("old\n")
    os.chown(target, 12345, 23456)
    os.chmod(target, 0o664)
    assert save_text(target, "new\n") == "in place"
    info = target.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (12345, 23456, 0o664)
    assert target.read_text() == "new\n" and backups(home) == []


@needs_root
def test_an_own_file_of_another_group_keeps_the_group_by_rename(tmp_path) -> None:
    target = tmp_path / "corpus.txt"
    target.write_text("old\n")
    os.chown(target, 0, 23456)
    assert save_text(target, "new\n") == "rename"
    assert target.stat().st_gid == 23456 and target.read_text() == "new\n"


# Everything is imported before dropping root: nobody may not be able to read the Python install.
SAVE_AS_NOBODY = """
import os, sys
from tui.saving import save_text
import tui.saving, engine.paths, shutil, tempfile
os.setgid(int(sys.argv[3])); os.setuid(int(sys.argv[2]))
print(save_text(sys.argv[1], "new text\\n"))
"""


@needs_root
def test_a_writable_file_in_a_folder_the_user_cannot_write(tmp_path) -> None:
    """As `nobody` (a subprocess that drops root): the folder is root's, the file is nobody's."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody' on this machine")
    for folder in (tmp_path, *tmp_path.parents):
        if folder.stat().st_mode & 0o001 == 0:
            os.chmod(folder, folder.stat().st_mode | 0o001)  # let nobody walk to the folder
        if folder == Path(tmp_path.anchor) or str(folder) in ("/tmp", "/"):
            break
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o755)
    target = locked / "corpus.txt"
    target.write_text("old text\n")
    os.chown(target, nobody.pw_uid, nobody.pw_gid)
    home = tmp_path / "nobody-home"
    home.mkdir()
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    env = {**os.environ, "NEXTWORD_HOME": str(home), "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(SAVE_AS_NOBODY), str(target),
                           str(nobody.pw_uid), str(nobody.pw_gid)], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "in place" and target.read_text() == "new text\n"
    assert target.stat().st_uid == nobody.pw_uid and list(locked.iterdir()) == [target]
