"""The `app_in_pty` fixture: see harness.py. Put pty-level tests in this folder to use it."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pyte", reason="pty tests need pyte (pip install -e '.[test]')")

from harness import Terminal  # noqa: E402

CORPUS = "the cat sat on the mat\nthe dog sat on the log\nhow are you doing today\nhow are you\n" * 3


@pytest.fixture
def app_in_pty(tmp_path: Path):
    """start(*args, ready=True, **kw) -> Terminal: the app on a pty, with a private data folder.
    With no args it opens `corpus.txt` (a small corpus, written for the test) in tmp_path/work."""
    home, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    (work / "corpus.txt").write_text(CORPUS, encoding="utf-8")
    started: list[Terminal] = []

    def start(*args: str, ready: bool = True, **kwargs) -> Terminal:
        """kwargs go to Terminal: size=(cols, rows), env={...}, module="faulty_app". `ready`: wait
        until the editor shows the file (its name in the editor's title)."""
        term = Terminal(list(args) or ["corpus.txt"], home=home, cwd=work, **kwargs)
        started.append(term)
        if ready:
            term.wait_ready()
            # The file is read after the first frame; keys typed into the editor before it is
            # shown would be replaced by it.
            term.wait_for(CORPUS.splitlines()[0] if not args else f"Corpus: {Path(args[0]).name}")
        return term

    yield start
    for term in started:
        term.close()
