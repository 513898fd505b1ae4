"""Fixtures for the app's tests: a private data folder and working directory for every test, and a
tiny corpus file.

(No tests/tui/__init__.py: tests/ is not a package, so a package here would be named `tui` and
shadow the app's own `tui` package.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_CORPUS = "the cat sat on the mat\nthe dog sat on the log\nthe cat ate the fish\n"


@pytest.fixture(autouse=True)
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own NEXTWORD_HOME and working directory: nothing touches the real ones."""
    home = tmp_path / "home"
    monkeypatch.setenv("NEXTWORD_HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


@pytest.fixture
def corpus_file(tmp_path: Path) -> Path:
    """A three-line corpus: small enough that a whole training run takes about a second."""
    path = tmp_path / "work" / "corpus.txt"
    path.write_text(TINY_CORPUS, encoding="utf-8")
    return path
