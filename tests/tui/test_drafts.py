"""tui/drafts.py: the writing pane's text is autosaved and comes back at the next start
(issue 11, item 4), never taken from an instance that is still running."""

from __future__ import annotations

from pathlib import Path

from tui.drafts import DraftKeeper


def test_a_draft_comes_back_at_the_next_start(tmp_path: Path) -> None:
    first = DraftKeeper(tmp_path)
    assert first.restore() == ""
    first.save("Dear Alice,\nthank you for")
    first.close()

    second = DraftKeeper(tmp_path)
    assert second.restore() == "Dear Alice,\nthank you for"
    second.save("Dear Alice,\nthank you for the book.")
    second.close()

    third = DraftKeeper(tmp_path)
    assert third.restore() == "Dear Alice,\nthank you for the book."
    assert len(list(tmp_path.glob("buffer*.json"))) == 1  # adopted, not copied again and again
    third.close()


def test_a_running_instance_keeps_its_draft(tmp_path: Path) -> None:
    running = DraftKeeper(tmp_path)
    running.save("still typing")
    other = DraftKeeper(tmp_path)
    assert other.restore() == ""  # locked by its instance: not taken from under it
    running.close()
    assert DraftKeeper(tmp_path).restore() == "still typing"


def test_the_default_folder_is_in_the_data_folder(private_home: Path) -> None:
    keeper = DraftKeeper()
    keeper.save("x")
    assert list((private_home / "writing").glob("buffer*.json"))
    keeper.close()
