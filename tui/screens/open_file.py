"""Choosing a file: a path Input plus a DirectoryTree to browse. Used for open (ctrl+o) and
save-as; save-as asks for a second press before overwriting another file. A PromptScreen (its keys,
buttons and submitting) with a tree instead of a label."""

from __future__ import annotations

import os
from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.widgets import DirectoryTree, Input, Static

from tui.screens.prompt import PromptScreen


class PathScreen(PromptScreen):
    """Dismisses with the chosen path, or None when cancelled."""

    AUTO_FOCUS = "#path"
    INPUT_ID, MESSAGE_ID = "path", "path-message"
    DIALOG_CLASSES = "dialog path-dialog"
    EMPTY = "[red]Type a path first.[/red]"

    def __init__(self, title: str, button: str, initial: str = "", start_dir: str | None = None,
                 confirm_overwrite: bool = False) -> None:
        super().__init__(title, "", initial, button)
        self.start_dir = start_dir or os.getcwd()
        self.confirm_overwrite = confirm_overwrite
        self._armed: str | None = None  # the existing path the user was warned about

    def fields(self) -> ComposeResult:
        yield Input(self.initial, placeholder="path to a text file", id=self.INPUT_ID)
        yield Static("", id=self.MESSAGE_ID)
        yield DirectoryTree(self.start_dir, id="tree")

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        path_input = self.query_one(f"#{self.INPUT_ID}", Input)
        path_input.value = str(event.path)
        path_input.focus()
        if not self.confirm_overwrite:
            self._submit()

    def answer(self, text: str) -> str | None:
        path = str(Path(text).expanduser())
        if Path(path).is_dir():
            self.say("[red]That is a folder: choose or type a file name.[/red]")
            return None
        if self.confirm_overwrite and Path(path).exists() and self._armed != path:
            self._armed = path
            self.say(f"[yellow]{escape(Path(path).name)} exists: press {self.button} again to replace it.[/yellow]")
            return None
        return path
