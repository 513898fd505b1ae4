"""NextwordApp: the four panes, the keys, the command palette, and the wiring between panes,
the engine workers and the files.

Panes never reach into each other: they post messages (and expose a few methods); this class
listens and decides. The engine is imported off the UI thread after the first frame.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import threading
from pathlib import Path
from typing import Iterable

from textual import events, work
from textual.actions import SkipAction
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, get_current_worker

from tui import worker as jobs
from tui.files import UTF8, AutosaveStore, DiskState, FileFormat, LastFile, disk_state, read_format, sample_text
from tui.safe import printable
from tui.screens.compare import CompareScreen
from tui.screens.confirm_quit import ConfirmQuitScreen
from tui.screens.help import HelpScreen
from tui.screens.open_file import PathScreen
from tui.screens.overwrite import ConfirmOverwriteScreen
from tui.screens.recover import RecoverScreen
from tui.widgets.autocomplete import Autocomplete
from tui.widgets.editor import CorpusEditor
from tui.widgets.picker import CELL_NAMES, CellModel, ModelPicker, format_metrics
from tui.widgets.training_log import TrainingLog

NEURAL_CELLS = ("rnn", "lstm", "gru")
MIN_SIZE = (64, 20)  # below this the panes cannot be used; say so instead of drawing them
EXIT_GRACE = 3.0  # seconds a terminate signal waits for a clean exit
COMPARE_MAX_TIME = 60.0  # seconds of training per network in a comparison, at most
SHORT_HEIGHT = 28  # below this the picker folds its settings away until it has focus
TOO_SMALL = "Terminal too small.\nnextword-tui needs at least {}x{}; this one is {}x{}.\nEnlarge it, or press ctrl+q to quit."
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
}
PANE_KEYS = [
    ("tab", "Typing box: accept the top suggestion (elsewhere: next field)"),
    ("→", "Typing box: accept the ghost text"),
    ("alt+1 … alt+5", "Typing box: accept suggestion 1 to 5 (so ¡ ™ £ ¢ ∞, which many terminals send for them, cannot be typed there)"),
    ("↑ ↓ enter", "Model picker: choose a model"),
    ("ctrl+z / ctrl+y", "Editor: undo / redo"),
    ("ctrl+p", "Command palette: every action by name"),
]
PANES = {"editor": "#corpus-text", "picker": "#cells", "log": "#train-log", "typing": "#typing"}


def ngram_available() -> bool:
    """Whether the engine ships the n-gram baseline, found without importing the engine."""
    import importlib.util

    spec = importlib.util.find_spec("engine")
    locations = spec.submodule_search_locations if spec else None
    return bool(locations) and any((Path(p) / "ngram.py").is_file() for p in locations)


# The footer shows these as one item each ("f2f3f4f5 Model"), so that it fits in 80 columns. The
# pane keys F6-F9 are not in it (each pane's border shows its key; F1 lists them all), which leaves
# room for ctrl+r Compare, or, while training, escape Stop.
MODELS = Binding.Group("Model", compact=True)
FILES = Binding.Group("File", compact=True)
PANES_GROUP = Binding.Group("Pane", compact=True)


class FileLoaded(Message):
    def __init__(self, path: str, text: str | None, error: str | None = None,
                 fmt: FileFormat = UTF8, disk: DiskState | None = None) -> None:
        super().__init__()
        self.path = path
        self.text = text
        self.error = error
        self.fmt = fmt  # the file's encoding, kept when saving
        self.disk = disk  # the file's disk_state() from before it was read


class NextwordApp(App[None]):
    CSS_PATH = Path(__file__).parent / "app.tcss"  # absolute, so that subclasses (tests) find it
    TITLE = "nextword-tui"
    AUTO_FOCUS = "#typing"

    # Priority: the editor's TextArea has its own meaning for some keys (F6, F7); the app's win.
    BINDINGS = [
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
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(self, path: str | None = None) -> None:
        super().__init__()
        self.requested_path = path
        self.cells = NEURAL_CELLS + (("ngram",) if ngram_available() else ())
        self.autosave = AutosaveStore()
        self.last_file = LastFile()
        self.engine_ready = False
        self.fingerprint: str | None = None
        self._saved_models: list = []  # engine.store.ModelInfo, newest first
        # cell -> (key, predictor, metrics); key is a model path, "live" or an n-gram key
        self._predictors: dict[str, tuple[str, object, dict]] = {}
        self._loading: dict[str, str] = {}  # cell -> key being loaded
        # Model folders that failed to load, as (path, saved_at): skipped until saved again.
        self._broken: set[tuple[str, float]] = set()
        self._training: Worker | None = None
        self._training_cell: str | None = None
        self._training_epoch = 0
        self._autosave_found: list = []  # orphaned autosaves found at start, offered once the file is loaded
        self._recovery_asked = 0  # orphaned autosaves asked about so far
        self._quitting = False
        self.hard_exit_after_signal = False  # run_app sets it: only a real process may os._exit
        # run_app sets it: a process running one app for its whole life can freeze what it has
        # loaded; a test process making many apps would keep every one of them.
        self.freeze_gc_when_ready = False

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """Every notification is plain text: messages quote file names and the user's text, which
        must neither be read as markup (a file named "[/]" would crash the app) nor send control
        characters to the terminal."""
        super().notify(printable(str(message), newlines=True), title=printable(str(title)), severity=severity,
                       timeout=timeout, markup=False)

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield CorpusEditor(self.autosave, id="editor")
                yield Autocomplete(id="autocomplete")
            with Vertical(id="right"):
                yield ModelPicker(self.cells, id="picker")
                yield TrainingLog(id="training")
        yield Static("", id="too-small")
        yield Footer(compact=True, show_command_palette=False)  # ctrl+p is in F1; room for the pane keys

    def on_mount(self) -> None:
        self.query_one("#editor").border_subtitle = "F6"
        self.query_one("#picker").border_title = "Model"
        self.query_one("#picker").border_subtitle = "F7 · F2-F5 switch"
        self.query_one("#training").border_title = "Training"
        self.query_one("#training").border_subtitle = "F8 · ctrl+t train/stop"
        self.query_one("#autocomplete").border_title = "Type"
        self.query_one("#autocomplete").border_subtitle = "F9 · tab accepts"
        self._check_size()
        self._show_active_model()
        self._install_signal_handlers()
        # Everything else waits for the first frame: importing the engine loads torch (~1 s of
        # CPU), and even wrapping the 1,500 lines of the sample takes a noticeable 0.1 s.
        self.call_after_refresh(self._start)

    def _start(self) -> None:
        self._autosave_found = self.autosave.orphans()
        path = self.requested_path or self.last_file.get()
        if path:
            self._open_path(path, startup=True)
        else:
            self.editor_pane.load(sample_text(), None)
            self._offer_recovery()
        self._load_engine()

    @property
    def editor_pane(self) -> CorpusEditor:
        return self.query_one(CorpusEditor)

    @property
    def picker_pane(self) -> ModelPicker:
        return self.query_one(ModelPicker)

    @property
    def log_pane(self) -> TrainingLog:
        return self.query_one(TrainingLog)

    @property
    def typing_pane(self) -> Autocomplete:
        return self.query_one(Autocomplete)

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size)

    def _check_size(self, size=None) -> None:
        width, height = size or self.size
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        main = self._main_screen  # not a dialog that happens to be on top
        main.set_class(small, "-too-small")
        main.set_class(height < SHORT_HEIGHT, "-short")
        if small:
            self.query_one("#too-small", Static).update(TOO_SMALL.format(*MIN_SIZE, width, height))

    # --- keys and commands ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # While a dialog is open, the app's keys belong to it (the palette still runs commands).
        if action in {b.action.split("(")[0] for b in self.BINDINGS} and self.screen is not self._main_screen:
            # Quitting still works from a dialog, except from the one that asks about quitting.
            return action == "quit" and not isinstance(self.screen, ConfirmQuitScreen)
        if action == "stop_training":
            return self._training is not None
        if action == "compare":
            # Not while training (it would share the processor); its place in the footer goes to
            # "esc Stop" meanwhile, so that the footer still fits in 80 columns.
            return self._training is None
        if action == "select_cell" and parameters and parameters[0] not in self.cells:
            return False
        return True

    @property
    def _main_screen(self) -> Screen:
        return self.screen_stack[0]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        training = self._training is not None
        yield SystemCommand("Train / stop training", "ctrl+t: train the selected model on the editor text, or stop",
                            self.action_toggle_training)
        if training:
            yield SystemCommand("Stop training", "escape: stop now and keep the best weights so far",
                                self.action_stop_training)
        for cell in self.cells:
            key = {"rnn": "F2", "lstm": "F3", "gru": "F4", "ngram": "F5"}[cell]
            yield SystemCommand(f"Use {CELL_NAMES[cell]}", f"{key}: switch the model to {CELL_NAMES[cell]}",
                                lambda cell=cell: self.action_select_cell(cell))
        yield SystemCommand("Compare models…", "ctrl+r: train RNN, LSTM and GRU for the same time on the editor "
                            "text and compare them with the n-gram", self.action_compare)
        yield SystemCommand("Open corpus…", "ctrl+o: open a text file in the editor", self.action_open)
        yield SystemCommand("Save corpus", "ctrl+s: save the editor text", self.action_save)
        yield SystemCommand("Save corpus as…", "save the editor text under a new name", self.action_save_as)
        for pane, label in (("editor", "editor (F6)"), ("picker", "model picker (F7)"),
                            ("log", "training log (F8)"), ("typing", "typing box (F9)")):
            yield SystemCommand(f"Focus {label}", f"move the keyboard focus to the {label}",
                                lambda pane=pane: self.action_focus_pane(pane))
        for n in range(1, 6):
            yield SystemCommand(f"Accept suggestion {n}", f"alt+{n}: add suggestion {n} to the typed text",
                                lambda n=n: self._accept_suggestion(n - 1), discover=False)
        yield SystemCommand("Help: keys", "F1: show every key", self.action_help)

    def help_rows(self) -> list[tuple[str, str]]:
        """(key, what it does) for the help screen: the app's bindings, then the panes' own keys."""
        rows = [(self.get_key_display(b), HELP.get(b.action, b.description)) for b in self.BINDINGS
                if not (b.action == "select_cell('ngram')" and "ngram" not in self.cells)]
        return rows + PANE_KEYS

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_rows()))

    def action_help_quit(self) -> None:
        """ctrl+c: say how to quit. (Textual's own hint is markup, and notify() shows text as it is.)"""
        self.notify("Press ctrl+q to quit the app.", title="Do you want to quit?")

    def action_focus_pane(self, pane: str) -> None:
        self.query_one(PANES[pane]).focus()

    def _accept_suggestion(self, index: int) -> None:
        try:
            self.typing_pane.action_accept(index)
        except SkipAction:
            self.notify("There is no such suggestion to accept.", timeout=3)

    # --- the engine and the models -------------------------------------------------------------

    def _load_engine(self) -> None:
        self.run_worker(lambda: jobs.load_engine(self.post_message), thread=True,
                        group="engine", exit_on_error=False)

    def on_engine_ready(self, message: jobs.EngineReady) -> None:
        import torch

        # Inference for keystrokes runs here; with one intra-op thread it never waits for the
        # threads that training keeps busy.
        torch.set_num_threads(1)
        if self.freeze_gc_when_ready:
            # torch, Textual and the engine leave ~240,000 long-lived objects; a full garbage
            # collection walks them all (measured 65-80 ms in the running app: four frames) at
            # moments nobody chooses, such as mid-word. Frozen, they are never scanned again
            # (a full collection then took 2-5 ms).
            gc.freeze()
        self.engine_ready = True
        self._saved_models = message.models
        self.picker_pane.engine_loaded = True
        self._refresh_models()

    def on_engine_failed(self, message: jobs.EngineFailed) -> None:
        self.notify(f"The engine could not be loaded ({message.error}): training and suggestions are off. "
                    "Your text can still be edited and saved; reinstall nextword-tui to fix this.",
                    title="Engine not available", severity="error", timeout=15)

    def on_models_listed(self, message: jobs.ModelsListed) -> None:
        self._saved_models = message.models
        self._refresh_models()

    def _chosen_models(self) -> dict:
        """The model each cell uses: the newest trained on this text; else the one in use (so
        that editing the text does not swap models under the user); else the newest of the cell."""
        chosen: dict = {}
        for cell in self.cells:
            infos = [info for info in self._saved_models  # newest first
                     if info.cell == cell and (str(info.path), info.saved_at) not in self._broken]
            in_use = self._predictors.get(cell, (None,))[0]
            current = [info for info in infos if info.corpus_fingerprint == self.fingerprint]
            kept = [info for info in infos if str(info.path) == in_use]
            if current or kept or infos:
                chosen[cell] = (current or kept or infos)[0]
        return chosen

    def _refresh_models(self) -> None:
        """Update the picker's view of the models and load the selected cell's model if needed."""
        if not self.engine_ready:
            return
        chosen = self._chosen_models()
        shown: dict[str, CellModel] = {}
        for cell in self.cells:
            key, _, metrics = self._predictors.get(cell, (None, None, {}))
            live = ""
            if cell == self._training_cell and self._training is not None:
                live = f"training, epoch {self._training_epoch}" if self._training_epoch else "training…"
            if key == "live":
                shown[cell] = CellModel("training", metrics, True, live)
            elif cell == "ngram" and key:
                shown[cell] = CellModel("n-gram", metrics, key.split(":")[1] == self.fingerprint)
            elif cell in chosen:
                info = chosen[cell]
                shown[cell] = CellModel(info.name, info.metrics, info.corpus_fingerprint == self.fingerprint, live)
            elif live:
                shown[cell] = CellModel("training", {}, True, live)
        self.picker_pane.set_models(shown)
        self._ensure_loaded(self.picker_pane.cell, chosen)
        self._show_active_model()

    def _ensure_loaded(self, cell: str, chosen: dict) -> None:
        key = self._predictors.get(cell, (None,))[0]
        if key == "live":
            return  # the run in progress feeds this cell after every epoch
        if cell == "ngram":
            settings = self.picker_pane.settings()
            if settings is None or self.fingerprint is None:
                return
            order = settings.model["order"]
            want = f"ngram:{self.fingerprint}:{order}"
            if key != want and self._loading.get(cell) != want:
                self._loading[cell] = want
                self._build_ngram(self.editor_pane.text, order)
            return
        info = chosen.get(cell)
        if info is None or key == str(info.path) or self._loading.get(cell) == str(info.path):
            return
        self._loading[cell] = str(info.path)
        self.run_worker(lambda: jobs.load_saved_model(cell, info.path, self.post_message),
                        thread=True, group=f"load-{cell}", exit_on_error=False)

    @work(thread=True, group="ngram", exclusive=True, exit_on_error=False)
    def _build_ngram(self, text: str, order: int) -> None:
        jobs.build_ngram(text, order, self.post_message)

    def on_model_loaded(self, message: jobs.ModelLoaded) -> None:
        expected = self._loading.get(message.cell)
        if expected is not None and message.key != expected and not message.error:
            return  # a stale result (the text or the n-gram order changed meanwhile)
        self._loading.pop(message.cell, None)
        if message.error:
            if message.cell == "ngram":
                self.notify(message.error, title="Could not build the n-gram model", severity="error")
                return
            # A damaged model folder: say so once, skip it from now on, and fall back to the
            # model in use or the next one saved for this cell.
            self._broken.update((str(info.path), info.saved_at) for info in self._saved_models
                                if str(info.path) == message.key)
            self.notify(f"{message.error} This model is skipped: delete its folder, or train the model again.",
                        title=f"Could not load the {CELL_NAMES[message.cell]} model", severity="error", timeout=10)
            self._refresh_models()
            return
        if self._predictors.get(message.cell, (None,))[0] == "live":
            return  # training took over this cell meanwhile
        self._predictors[message.cell] = (message.key, message.predictor, message.metrics)
        self._refresh_models()
        if message.cell == self.picker_pane.cell:
            self._show_active_model()

    def _show_active_model(self) -> None:
        """Point the typing pane at the selected cell's predictor (or explain how to get one)."""
        cell = self.picker_pane.cell
        name = CELL_NAMES[cell]
        key, predictor, metrics = self._predictors.get(cell, (None, None, {}))
        if predictor is None:
            if cell == "ngram":
                hint = "Building the n-gram model from the editor text…"
            elif not self.engine_ready:
                hint = "Loading the engine…"
            elif cell in self._loading:
                hint = f"Loading the {name} model…"
            else:
                hint = f"No {name} model yet: press ctrl+t to train one on the editor text."
            self.typing_pane.set_predictor(None, f"{name}: no model", hint)
            return
        if key == "live":
            source = f"training, epoch {self._training_epoch}" if self._training is not None else "just trained"
        elif cell == "ngram":
            source = "built from the editor text"
        else:
            source = Path(key).name
        ppl = metrics.get("valid_ppl")
        detail = f" · ppl {ppl:,.1f}" if isinstance(ppl, (int, float)) else ""
        self.typing_pane.set_predictor(predictor, f"{name} · {source}{detail}")

    def action_select_cell(self, cell: str) -> None:
        if cell in self.cells:
            self.picker_pane.cell = cell

    def on_model_picker_cell_selected(self, message: ModelPicker.CellSelected) -> None:
        self._show_active_model()  # at once, even before the engine is loaded
        self._refresh_models()

    def on_model_picker_settings_changed(self, message: ModelPicker.SettingsChanged) -> None:
        if self.picker_pane.cell == "ngram":
            self._refresh_models()  # a new order means a new n-gram model

    # --- the corpus file -----------------------------------------------------------------------

    def on_corpus_editor_stats_changed(self, message: CorpusEditor.StatsChanged) -> None:
        self.picker_pane.vocab_size = message.stats.vocab_size
        if message.stats.fingerprint != self.fingerprint:
            self.fingerprint = message.stats.fingerprint
            self._refresh_models()

    def on_corpus_editor_saved(self, message: CorpusEditor.Saved) -> None:
        self.last_file.set(message.path)
        self.notify(f"Saved {Path(message.path).name}.", timeout=2)

    def action_open(self) -> None:
        """Ask for a file to open; first, if the buffer has unsaved changes, whether to save them
        (opening replaces the buffer: its changes must not go silently)."""
        if not self.editor_pane.dirty:
            self._choose_file()
            return

        def chosen(choice: str | None) -> None:
            then = lambda saved: saved and self._choose_file()  # noqa: E731
            if choice == "discard":
                self._choose_file()
            elif choice == "save" and self.editor_pane.path is None:
                self.action_save_as(then=then)
            elif choice == "save":
                self._save_checked(then)

        self.push_screen(ConfirmQuitScreen(self._buffer_name(), before="opening another file"), chosen)

    def _buffer_name(self) -> str:
        return Path(self.editor_pane.path).name if self.editor_pane.path else "The corpus"

    def _choose_file(self) -> None:
        start = str(Path(self.editor_pane.path).parent) if self.editor_pane.path else None
        self.push_screen(PathScreen("Open a corpus (plain text, UTF-8)", "Open", start_dir=start),
                         self._open_chosen)

    def _open_chosen(self, path: str | None) -> None:
        if path:
            self._open_path(path)

    @work(thread=True, group="open", exclusive=True, exit_on_error=False)
    def _open_path(self, path: str, startup: bool = False) -> None:
        """Read a corpus file off the UI thread (load_text needs the engine, and files can be big)."""
        if startup and not os.path.lexists(path):
            self.post_message(FileLoaded(path, "", error=None))  # a new file: start it empty
            return
        jobs.import_engine()
        from engine.corpus import load_text
        from engine.errors import CorpusError

        disk = disk_state(path)  # before reading: a change while reading counts as a change
        try:
            text = load_text(path)  # refuses folders, pipes and devices without opening them
        except CorpusError as exc:
            self.post_message(FileLoaded(path, None, error=str(exc)))
            return
        self.post_message(FileLoaded(path, text, fmt=read_format(path), disk=disk))

    def on_file_loaded(self, message: FileLoaded) -> None:
        if message.error:
            self.notify(message.error, title="Could not open the file", severity="error", timeout=8)
            if not self.editor_pane.text and self.editor_pane.path is None:
                self.editor_pane.load(sample_text(), None)  # a failed start still gets something to train on
        else:
            path = str(Path(message.path).resolve())
            text = message.text or ""
            self.editor_pane.load(text, path, fmt=message.fmt, disk=message.disk)
            self.last_file.set(path)
            if not text.strip() and message.disk is not None:
                self.notify(f"{Path(path).name} is empty: write or paste some text (a few sentences at least) "
                            "before training.", title="Empty corpus", severity="warning", timeout=6)
        self._offer_recovery()

    def _offer_recovery(self) -> None:
        """Ask about each orphaned autosave, newest first, until one is recovered."""
        if not self._autosave_found:
            return
        autosave = self._autosave_found.pop(0)
        position = (self._recovery_asked + 1, self._recovery_asked + 1 + len(self._autosave_found))
        self._recovery_asked += 1
        preview = "\n".join(autosave.text.splitlines()[:3])[:200]

        def decided(choice: str | None) -> None:
            if choice == "recover":
                self._recover(autosave)
                left, self._autosave_found = self._autosave_found, []
                for other in left:
                    self.autosave.keep(other)
                if left:
                    self.notify(f"{len(left)} more autosave(s) with unsaved work are kept: they are offered at "
                                "the next start.", timeout=8)
                return
            if choice == "discard":
                self.autosave.discard(autosave)
            else:
                self.autosave.keep(autosave)
            self._offer_recovery()

        self.push_screen(RecoverScreen(autosave.path, autosave.saved_at, preview, position), decided)

    def _recover(self, autosave) -> None:
        saved, fmt, disk = "", UTF8, None
        if autosave.path:
            disk = disk_state(autosave.path)
            saved = read_saved_text(autosave.path)
            fmt = read_format(autosave.path) if saved else UTF8
        self.editor_pane.load(autosave.text, autosave.path, saved_text=saved, fmt=fmt, disk=disk)
        try:
            # Now this instance's autosave: the orphan is deleted once that is written.
            self.autosave.adopt(autosave, self.editor_pane.text, self.editor_pane.path)
        except OSError:
            pass  # the orphan stays on disk; the editor's autosave will keep trying
        self.notify("Recovered your unsaved changes. ctrl+s saves them.", timeout=4)

    def action_save(self) -> None:
        if self.editor_pane.path is None:
            self.action_save_as()
        else:
            self._save_checked()

    def _save_checked(self, then=None) -> None:
        """Save to the buffer's own file, first asking if another program changed it meanwhile;
        `then(saved: bool)` runs afterwards."""
        editor = self.editor_pane

        def save(overwrite: bool | None = True) -> None:
            saved = bool(overwrite) and editor.save()
            if then is not None:
                then(saved)

        if editor.changed_on_disk():
            self.push_screen(ConfirmOverwriteScreen(Path(editor.path).name), save)
        else:
            save()

    def action_save_as(self, then=None) -> None:
        """Ask for a path and save there; `then(saved: bool)` runs afterwards."""
        def chosen(path: str | None) -> None:
            saved = bool(path) and self.editor_pane.save(path)
            if then is not None:
                then(saved)

        self.push_screen(PathScreen("Save the corpus as", "Save", initial=self.editor_pane.path or "corpus.txt",
                                    confirm_overwrite=True), chosen)

    # --- training ------------------------------------------------------------------------------

    def action_toggle_training(self) -> None:
        if self._training is not None:
            self.action_stop_training()
            return
        settings = self.picker_pane.settings()
        if settings is None:
            self.notify("Fix the highlighted setting first.", title="Cannot train", severity="error")
            return
        if settings.cell == "ngram":
            self.notify("The n-gram model needs no training: it is built from the editor text.", timeout=4)
            return
        job = jobs.TrainingJob(text=self.editor_pane.text, cell=settings.cell, model=settings.model, train=settings.train)
        self._training_cell = settings.cell
        self._training_epoch = 0
        self.log_pane.start(settings.cell, self._job_summary(job))
        self._training = self._train(job)
        self.refresh_bindings()
        self._refresh_models()

    def action_compare(self) -> None:
        """Open the comparison screen on the editor text, with the picker's sizes and time budget
        (capped at COMPARE_MAX_TIME per network)."""
        if self._training is not None:
            self.notify("Stop training first (ctrl+t): a comparison trains three networks and needs the "
                        "processor to itself.", title="Cannot compare yet", severity="warning")
            return
        if not self.engine_ready:
            self.notify("The engine is still loading: try again in a moment.", timeout=3)
            return
        from engine.model import ModelConfig

        settings = self.picker_pane.settings()
        model_config, budget = None, COMPARE_MAX_TIME
        if settings is not None and settings.cell != "ngram":
            model_config = ModelConfig(cell=settings.cell, **settings.model)
            budget = min(settings.train.get("max_time") or COMPARE_MAX_TIME, COMPARE_MAX_TIME)
        self.push_screen(CompareScreen(self.editor_pane.text, budget, model_config))

    @staticmethod
    def _job_summary(job: jobs.TrainingJob) -> str:
        m, t = job.model, job.train
        budget = f", at most {t['max_time']:g} s" if t.get("max_time") else ""
        return (f"emb {m['emb']}, hidden {m['hidden']}, {m['layers']} layer(s), dropout {m['dropout']}; "
                f"{t['epochs']} epochs{budget}, lr {t['lr']:g}, batch {t['batch_size']}, bptt {t['bptt']}")

    @work(thread=True, exit_on_error=False, group="training")
    def _train(self, job: jobs.TrainingJob) -> None:
        worker = get_current_worker()
        jobs.run_training(job, self.post_message, lambda: worker.is_cancelled)

    def action_stop_training(self) -> None:
        if self._training is not None and not self._training.is_cancelled:
            self._training.cancel()
            self.log_pane.write("Stopping… (keeping the best weights so far)")

    def on_training_progress(self, message: jobs.TrainingProgress) -> None:
        self.log_pane.show_progress(message.progress)

    def on_training_notice(self, message: jobs.TrainingNotice) -> None:
        self.log_pane.show_notice(message.message)

    def on_training_epoch(self, message: jobs.TrainingEpoch) -> None:
        event = message.event
        self._training_epoch = event.epoch
        self.log_pane.show_epoch(event, message.samples)
        self._predictors[message.cell] = ("live", message.predictor, {"valid_ppl": event.valid_ppl})
        self._refresh_models()
        if message.cell == self.picker_pane.cell:
            self._show_active_model()

    def on_training_done(self, message: jobs.TrainingDone) -> None:
        self._training_finished()
        # A run that ends on its own (its epochs, its time budget, or early stopping) is complete;
        # one the user stopped, or that diverged, keeps its bar where it ended.
        self.log_pane.finish(message.note, complete=message.stopped in ("completed", "early stopping", "time budget"))
        if message.predictor is not None:
            key = str(message.path) if message.path else "live"
            self._predictors[message.cell] = (key, message.predictor, message.metrics)
            self._broken = {broken for broken in self._broken if broken[0] != key}  # saved anew
            detail = format_metrics(message.metrics)
            self.log_pane.write(f"{CELL_NAMES[message.cell]}: {detail}")
            if message.save_error:
                self.notify(message.note, title=f"{CELL_NAMES[message.cell]} trained but not saved",
                            severity="warning", timeout=15)
            else:
                self.notify(message.note, title=f"{CELL_NAMES[message.cell]} trained", timeout=5)
        else:
            self._drop_live_predictor(message.cell)
            self.notify(message.note, timeout=5)
        self._refresh_models()
        self.run_worker(lambda: jobs.list_saved_models(self.post_message), thread=True,
                        group="list", exit_on_error=False)

    def on_training_failed(self, message: jobs.TrainingFailed) -> None:
        self._training_finished()
        self.log_pane.fail(message.message)
        self.notify(message.message, title="Training failed", severity="error", timeout=10)
        self._drop_live_predictor(message.cell)
        self._refresh_models()

    def _drop_live_predictor(self, cell: str) -> None:
        """A run that ended without a model: the cell goes back to its saved model, if any."""
        if self._predictors.get(cell, ("",))[0] == "live":
            del self._predictors[cell]

    def _training_finished(self) -> None:
        self._training = None
        self._training_cell = None
        self.refresh_bindings()

    # --- quitting ------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        if self._quitting:
            return
        if not self.editor_pane.dirty:
            self._exit_cleanly(keep_autosave=False)
            return
        self.push_screen(ConfirmQuitScreen(self._buffer_name()), self._quit_choice)

    def _quit_choice(self, choice: str | None) -> None:
        if choice == "discard":
            self._exit_cleanly(keep_autosave=False)
        elif choice == "save":
            then = lambda saved: saved and self._exit_cleanly(keep_autosave=False)  # noqa: E731
            if self.editor_pane.path is None:
                self.action_save_as(then=then)
            else:
                self._save_checked(then)

    def _exit_cleanly(self, keep_autosave: bool) -> None:
        self._quitting = True
        if self.editor_pane.path:
            self.last_file.set(self.editor_pane.path)  # `nextword-tui` alone reopens it next time
        if not keep_autosave:
            try:
                self.autosave.clear()  # only this instance's: other instances' stay
            except OSError:
                pass
        if self._training is not None:
            self._training.cancel()  # the thread sees it at its next batch
        self.exit()

    def _install_signal_handlers(self) -> None:
        """SIGTERM / SIGHUP (terminal closed): keep the unsaved text in the autosave, then exit."""
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.add_signal_handler(sig, self._on_terminate, sig)
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            pass  # not the main thread, or a platform without these signals

    def _on_terminate(self, sig: int = signal.SIGTERM) -> None:
        self.exit_signal = sig  # run_app exits 128 + sig (143 for SIGTERM, 129 for SIGHUP)
        try:
            self.editor_pane.write_autosave_now()
        except OSError:
            pass
        self._exit_cleanly(keep_autosave=True)
        if self.hard_exit_after_signal:
            # After SIGHUP the terminal is gone, and Textual's shutdown can block for ever writing
            # to it (seen with tmux kill-server). The text is in the autosave by now: if a clean
            # exit has not happened within a few seconds, leave without one.
            watchdog = threading.Timer(EXIT_GRACE, os._exit, args=(128 + sig,))
            watchdog.daemon = True
            watchdog.start()

    def on_unmount(self) -> None:
        self.autosave.close()  # an autosave left behind is now an orphan, offered next start
        try:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGHUP):
                loop.remove_signal_handler(sig)
        except (NotImplementedError, RuntimeError, ValueError, AttributeError):
            pass


def read_saved_text(path: str) -> str:
    """What a corpus file holds, as the editor would load it; "" if it cannot be read as text."""
    jobs.import_engine()
    from engine.corpus import load_text
    from engine.errors import CorpusError

    try:
        return load_text(path)
    except CorpusError:
        return ""


def run_app(path: str | None) -> int:
    """Run the app on `path` (None: the last corpus, or the sample on first start); its exit status."""
    from tui.terminal import guard_app

    app = NextwordApp(path)
    app.hard_exit_after_signal = True
    app.freeze_gc_when_ready = True
    guard = guard_app(app, save=lambda: app.editor_pane.write_autosave_now())  # safe input, save on crash
    app.run()
    return guard.exit_status()
