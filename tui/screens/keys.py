"""The main screen's keys: its bindings (shown in the footer), what the help screen says about each,
and the command palette's entries (every action by name).

One table per fact: a key is bound once here; its help text and its palette entry sit beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from textual.app import SystemCommand
from textual.binding import Binding

from tui.widgets.picker import CELL_KEYS, CELL_NAMES

if TYPE_CHECKING:
    from tui.screens.main import MainScreen

# The footer shows these as one item each ("f2f3f4f5 Model"), so that it fits in 80 columns. The
# pane keys F6-F9 are not in it (each pane's border shows its key; F1 lists them all), which leaves
# room for ctrl+r Compare, or, while training, escape Stop.
MODELS = Binding.Group("Model", compact=True)
FILES = Binding.Group("File", compact=True)
PANES_GROUP = Binding.Group("Pane", compact=True)

# Priority: the editor's TextArea has its own meaning for some keys (F6, F7); the screen's win.
# In the footer's order (quit first, where Textual's own ctrl+q stands); the help lists them in
# HELP's order.
BINDINGS = [
    Binding("ctrl+q", "quit", "Quit", priority=True),
    Binding("f1", "help", "Help", priority=True),
    Binding("f2", "select_cell('rnn')", "RNN", priority=True, group=MODELS),
    Binding("f3", "select_cell('lstm')", "LSTM", priority=True, group=MODELS),
    Binding("f4", "select_cell('gru')", "GRU", priority=True, group=MODELS),
    Binding("f5", "select_cell('ngram')", "n-gram", priority=True, group=MODELS),
    Binding("ctrl+t", "toggle_training", "Train", priority=True),
    Binding("escape", "stop_training", "Stop"),
    Binding("ctrl+r", "compare", "Compare", priority=True),
    Binding("ctrl+o", "open", "Open", priority=True, group=FILES),
    Binding("ctrl+s", "save", "Save", priority=True, group=FILES),
    Binding("f6", "focus_pane('editor')", "Editor", priority=True, group=PANES_GROUP),
    Binding("f7", "focus_pane('picker')", "Model", priority=True, group=PANES_GROUP),
    Binding("f8", "focus_pane('log')", "Log", priority=True, group=PANES_GROUP),
    Binding("f9", "focus_pane('typing')", "Type", priority=True, group=PANES_GROUP),
    Binding("alt+m", "models", "Models", priority=True, show=False),  # a key browsers leave alone
    Binding("alt+l", "toggle_learning", "Learning", priority=True, show=False),  # likewise
]
HELP = {
    "help": "Show this help",
    "select_cell('rnn')": "Use the RNN model",
    "select_cell('lstm')": "Use the LSTM model",
    "select_cell('gru')": "Use the GRU model",
    "select_cell('ngram')": "Use the n-gram baseline (built from the editor text, no training)",
    "toggle_training": "Train the selected model on the editor text / stop training",
    "stop_training": "Stop training (keeps the best weights so far)",
    "compare": "Compare RNN, LSTM and GRU (and the n-gram) on the editor text, each trained for the same time",
    "open": "Open a corpus file",
    "save": "Save the corpus (asks for a name the first time)",
    "focus_pane('editor')": "Focus the corpus editor",
    "focus_pane('picker')": "Focus the model picker",
    "focus_pane('log')": "Focus the training log",
    "focus_pane('typing')": "Focus the typing box",
    "quit": "Quit (asks about unsaved changes)",
    "models": "Models: every saved model (use, rename, delete, export, import)",
    "toggle_learning": "Pause / resume learning from what you type in the writing pane (incognito)",
}
PANE_KEYS = [
    ("tab", "Typing box: accept the top suggestion (elsewhere: next field)"),
    ("→", "Typing box: accept the ghost text"),
    ("alt+1 … alt+5", "Typing box: accept suggestion 1 to 5 (so ¡ ™ £ ¢ ∞, which many terminals send for them, cannot be typed there)"),
    ("↑ ↓ enter", "Model picker: choose a model"),
    ("ctrl+z / ctrl+y", "Editor: undo / redo"),
    ("ctrl+p", "Command palette: every action by name"),
]
PANES = {"editor": ("#corpus-text", "editor (F6)"), "picker": ("#cells", "model picker (F7)"),
         "log": ("#train-log", "training log (F8)"), "typing": ("#typing", "typing box (F9)")}


def help_rows(screen: MainScreen) -> list[tuple[str, str]]:
    """(key, what it does) for the help screen: the screen's bindings, then the panes' own keys."""
    bound = {b.action: b for b in BINDINGS}
    rows = [(screen.app.get_key_display(bound[action]), text) for action, text in HELP.items()
            if not (action == "select_cell('ngram')" and "ngram" not in screen.cells)]
    return rows + PANE_KEYS


def commands(screen: MainScreen) -> Iterable[SystemCommand]:
    """The command palette's entries for the main screen's actions."""
    yield SystemCommand("Train / stop training", "ctrl+t: train the selected model on the editor text, or stop",
                        screen.action_toggle_training)
    if screen.is_training:
        yield SystemCommand("Stop training", "escape: stop now and keep the best weights so far",
                            screen.action_stop_training)
    for cell in screen.cells:
        yield SystemCommand(f"Use {CELL_NAMES[cell]}", f"{CELL_KEYS[cell]}: switch the model to {CELL_NAMES[cell]}",
                            lambda cell=cell: screen.action_select_cell(cell))
    yield SystemCommand("Compare models…", "ctrl+r: train RNN, LSTM and GRU for the same time on the editor "
                        "text and compare them with the n-gram", screen.action_compare)
    yield SystemCommand("Open corpus…", "ctrl+o: open a text file in the editor", screen.action_open)
    yield SystemCommand("Save corpus", "ctrl+s: save the editor text", screen.action_save)
    yield SystemCommand("Save corpus as…", "save the editor text under a new name", screen.action_save_as)
    for pane, (_, label) in PANES.items():
        yield SystemCommand(f"Focus {label}", f"move the keyboard focus to the {label}",
                            lambda pane=pane: screen.action_focus_pane(pane))
    for n in range(1, 6):
        yield SystemCommand(f"Accept suggestion {n}", f"alt+{n}: add suggestion {n} to the typed text",
                            lambda n=n: screen.accept_suggestion(n - 1), discover=False)
    yield from screen.daily_commands()
    yield SystemCommand("Help: keys", "F1: show every key", screen.action_help)
