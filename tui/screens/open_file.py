"""Choosing a file: a path Input plus a DirectoryTree to browse. Used for open (ctrl+o) and
save-as; save-as asks for a second press before overwriting another file."""

from __future__ import annotations

import os
from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DirectoryTree, Input, Static


class PathScreen(ModalScreen[str | None]):
    """Dismisses with the chosen path, or None when cancelled."""

    AUTO_FOCUS = "#path"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, button: str, initial: str = "", start_dir: str | None = None,
                 confirm_overwrite: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.button_label = button
        self.initial = initial
        self.start_dir = start_dir or os.getcwd()
        self.confirm_overwrite = confirm_overwrite
        self._armed: str | None = None  # the existing path the user was warned about

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog path-dialog"):
            yield Static(f"[b]{escape(self.title_text)}[/b]", classes="dialog-title")
            yield Input(self.initial, placeholder="path to a text file", id="path")
            yield Static("", id="path-message")
            yield DirectoryTree(self.start_dir, id="tree")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.button_label, id="ok", variant="primary")
                yield Button("Cancel", id="cancel")

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        path_input = self.query_one("#path", Input)
        path_input.value = str(event.path)
        path_input.focus()
        if not self.confirm_overwrite:
            self._submit()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def _submit(self) -> None:
        text = self.query_one("#path", Input).value.strip()
        message = self.query_one("#path-message", Static)
        if not text:
            message.update("[red]Type a path first.[/red]")
            return
        path = str(Path(text).expanduser())
        if Path(path).is_dir():
            message.update("[red]That is a folder: choose or type a file name.[/red]")
            return
        if self.confirm_overwrite and Path(path).exists() and self._armed != path:
            self._armed = path
            message.update(f"[yellow]{escape(Path(path).name)} exists: press {self.button_label} again to replace it.[/yellow]")
            return
        self.dismiss(path)
