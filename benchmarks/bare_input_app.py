"""The floor of bench_keypaint.py: a bare Textual app with one Input and nothing else, whose
key-to-paint is what any Textual app costs on this pty, this host, at this moment."""

from textual.app import App, ComposeResult
from textual.widgets import Input


class BareInput(App):
    def compose(self) -> ComposeResult:
        yield Input(placeholder="Type here")


if __name__ == "__main__":
    BareInput().run()
