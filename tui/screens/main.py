"""MainScreen: the four panes, the keys, and the coordination between the panes, the engine
workers and the model registry.

Panes never reach into each other: they post messages (and expose a few methods); this screen
listens and decides. Which model each cell uses is the registry's (tui/models.py); work that must
not run on the UI thread is tui/worker.py's; the file actions are tui/screens/main_files.py's.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

from engine import KINDS, NGRAM, Notice, Progress, format_perplexity
from textual.actions import SkipAction
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import Worker, get_current_worker

from tui import worker as jobs
from tui.files import AutosaveStore, LastFile
from tui.messages import (
    EngineEvent,
    EngineFailed,
    EngineReady,
    ModelFailed,
    ModelLoaded,
    ModelsListed,
    TrainingDone,
    TrainingEpoch,
    TrainingFailed,
)
from tui.models import ActiveModel, LiveKey, ModelRegistry, NgramKey, SavedKey
from tui.screens import keys
from tui.screens.compare import CompareScreen
from tui.screens.confirm_quit import ConfirmQuitScreen
from tui.screens.help import HelpScreen
from tui.screens.main_files import FileActions
from tui.screens.main_daily import DailyActions
from tui.widgets.writing import WritingPane
from tui.widgets.editor import CorpusEditor
from tui.widgets.footer import KeysFooter
from tui.widgets.picker import CELL_NAMES, ModelPicker, format_metrics
from tui.widgets.training_log import TrainingLog

MIN_SIZE = (64, 20)  # below this the panes cannot be used; say so instead of drawing them
SHORT_HEIGHT = 28  # below this the picker folds its settings away until it has focus
COMPARE_MAX_TIME = 60.0  # seconds of training per network in a comparison, at most
TOO_SMALL = "Terminal too small.\nnextword-tui needs at least {}x{}; this one is {}x{}.\nEnlarge it, or press ctrl+q to quit."
START_FALLBACK = 1.0  # seconds: start anyway if the footer never draws its keys (no focus events)
ENGINE_DELAY = 0.1  # seconds after the corpus is drawn: the frame goes out before torch takes the GIL
ENDED_ON_ITS_OWN = ("completed", "early stopping", "time budget")  # a full bar; a stop keeps it where it was


@dataclass(frozen=True)
class TrainingRun:
    cell: str
    worker: Worker


class MainScreen(FileActions, DailyActions, Screen[None]):
    BINDINGS = keys.BINDINGS
    AUTO_FOCUS = "#typing"

    training: reactive[TrainingRun | None] = reactive(None, bindings=True)

    def __init__(self, path: str | None, autosave: AutosaveStore) -> None:
        super().__init__()
        self.requested_path = path
        self.autosave = autosave
        self.last_file = LastFile()
        self.cells = KINDS
        self.models = ModelRegistry(self.cells)
        self.engine_ready = False  # the engine's model code (and torch) is loaded
        self._engine_started = False
        self._start_timer: Timer | None = None  # until the corpus is opened

    @property
    def is_training(self) -> bool:
        return self.training is not None

    @property
    def fingerprint(self) -> str | None:
        """Of the editor's text, once counted."""
        return self.models.fingerprint

    # --- layout --------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield CorpusEditor(self.autosave, id="editor")
                yield WritingPane(id="autocomplete")
            with Vertical(id="right"):
                yield ModelPicker(self.cells, id="picker")
                yield TrainingLog(id="training")
        yield Static("", id="too-small")
        yield KeysFooter(compact=True, show_command_palette=False)  # ctrl+p is in F1; room for the pane keys

    def on_mount(self) -> None:
        self.query_one("#editor").border_subtitle = "F6"
        self.query_one("#picker").border_title = "Model"
        self.query_one("#picker").border_subtitle = "F7 · F2-F5 switch"
        self.query_one("#training").border_title = "Training"
        self.query_one("#training").border_subtitle = "F8 · ctrl+t train/stop"
        self.query_one("#autocomplete").border_title = "Write"
        self.query_one("#autocomplete").border_subtitle = "F9 · tab / → accept · alt+m models"
        self.use_browser_keys()
        self._check_size(self.app.size)
        self._show_active_model()
        # Everything else waits for the first complete frame (the footer's keys): even wrapping
        # the 1,500 lines of the sample takes a noticeable 0.1 s.
        self._start_timer = self.set_timer(START_FALLBACK, self._begin)

    def on_keys_footer_keys_shown(self, message: KeysFooter.KeysShown) -> None:
        self.call_after_refresh(self._begin)

    async def _begin(self) -> None:
        if self._start_timer is not None:
            self._start_timer.stop()
            self._start_timer = None
            await self.picker_pane.mount_settings()
            self.load_settings()  # the picker's fields exist now: restore what was typed last time
            self.restore_draft()
            self.open_at_start(self.requested_path)

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
    def typing_pane(self) -> WritingPane:
        return self.query_one(WritingPane)

    @property
    def writing_pane(self) -> WritingPane:
        return self.query_one(WritingPane)

    def on_resize(self, event) -> None:
        self._check_size(event.size)

    def on_screen_resume(self) -> None:
        self._check_size(self.app.size)  # the terminal may have changed behind another screen

    def _check_size(self, size) -> None:
        width, height = size
        small = width < MIN_SIZE[0] or height < MIN_SIZE[1]
        self.set_class(small, "-too-small")
        self.set_class(height < SHORT_HEIGHT, "-short")
        if small:
            self.query_one("#too-small", Static).update(TOO_SMALL.format(*MIN_SIZE, width, height))

    # --- keys and commands ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.app.screen is not self:
            # Under a dialog these keys are not dispatched here at all (a modal screen ends the
            # binding chain); this only keeps the footer behind it honest: it shows ctrl+q alone,
            # which still works there (the app's own binding), except under the quit question.
            return action == "quit" and not isinstance(self.app.screen, ConfirmQuitScreen)
        if action == "stop_training":
            return self.is_training
        if action == "compare":
            # Not while training (it would share the processor); its place in the footer goes to
            # "esc Stop" meanwhile, so that the footer still fits in 80 columns.
            return not self.is_training
        if action == "select_cell" and parameters and parameters[0] not in self.cells:
            return False
        return True

    def help_rows(self) -> list[tuple[str, str]]:
        return keys.help_rows(self)

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen(self.help_rows()))

    def action_focus_pane(self, pane: str) -> None:
        self.query_one(keys.PANES[pane][0]).focus()

    def accept_suggestion(self, index: int) -> None:
        try:
            self.typing_pane.action_accept(index)
        except SkipAction:
            self.notify("There is no such suggestion to accept.", timeout=3)

    def action_select_cell(self, cell: str) -> None:
        if cell in self.cells:
            self.picker_pane.cell = cell

    # --- the engine and the models -------------------------------------------------------------

    def files_shown(self) -> None:
        """The corpus is in the editor: once it (or the recovery question) is drawn, load the
        engine's model code (torch), once. Importing torch holds the GIL for long stretches."""
        if not self._engine_started:
            self._engine_started = True
            self.app.call_after_refresh(self.set_timer, ENGINE_DELAY, self._load_engine)

    def _load_engine(self) -> None:
        self.run_worker(lambda: jobs.load_engine(self.post_message), thread=True, group="engine",
                        exit_on_error=False)

    def on_engine_ready(self, message: EngineReady) -> None:
        if self.app.freeze_gc_when_ready:
            # torch, Textual and the engine leave ~240,000 long-lived objects; a full garbage
            # collection walks them all (measured 65-80 ms in the running app: four frames) at
            # moments nobody chooses, such as mid-word. Frozen, they are never scanned again
            # (a full collection then took 2-5 ms).
            gc.freeze()
        self.engine_ready = True
        if message.damaged:  # once per start (issue 12): the CLI names them, so does the app
            count = len(message.damaged)
            name, _, why = message.damaged[0]
            more = f" (and {count - 1} more)" if count > 1 else ""
            self.notify(f"{name}: {why}{more} alt+m lists {'it' if count == 1 else 'them'}.",
                        title=f"{count} saved model{'s' if count > 1 else ''} damaged", severity="warning",
                        timeout=12)
        self.models.set_saved(message.models)
        self._refresh_models()

    def on_engine_failed(self, message: EngineFailed) -> None:
        self.notify(f"The engine could not be loaded ({message.error}): training and suggestions are off. "
                    "Your text can still be edited and saved; reinstall nextword-tui to fix this.",
                    title="Engine not available", severity="error", timeout=15)

    def on_models_listed(self, message: ModelsListed) -> None:
        self.models.set_saved(message.models)
        self._refresh_models()

    def _refresh_models(self) -> None:
        """Update the picker's view of the models and load the selected cell's model if needed."""
        if not self.engine_ready:
            return
        self.picker_pane.set_models(self.models.views())
        self._ensure_loaded(self.picker_pane.cell)
        if self.picker_pane.cell != NGRAM:
            self._ensure_loaded(NGRAM)  # it serves suggestions until the cell has a model of its own
        self._show_active_model()

    def _ensure_loaded(self, cell: str) -> None:
        key = self.models.to_load(cell, self.picker_pane.ngram_order() if cell == NGRAM else None)
        if key is None:
            return
        self.models.loading(cell, key)
        if isinstance(key, NgramKey):
            text = self.editor_pane.text
            self.run_worker(lambda: jobs.build_ngram(text, key, self.post_message), thread=True,
                            group="ngram", exclusive=True, exit_on_error=False)
        elif isinstance(key, SavedKey):
            self.run_worker(lambda: jobs.load_saved_model(cell, key, self.post_message), thread=True,
                            group=f"load-{cell}", exit_on_error=False)

    def on_model_loaded(self, message: ModelLoaded) -> None:
        if self.models.offer(message.cell, message.model):
            self._refresh_models()

    def on_model_failed(self, message: ModelFailed) -> None:
        self.models.fail(message.cell, message.key, message.error)
        if message.cell == NGRAM:
            if self.picker_pane.cell == NGRAM:  # built only as the others' stand-in: no need to say
                self.notify(message.error, title="Could not build the n-gram model", severity="error")
            self._show_active_model()
            return
        # A damaged model folder: say so once, skip it from now on, and fall back to the model in
        # use or the next one saved for this cell.
        self.notify(f"{message.error} This model is skipped: delete its folder, or train the model again.",
                    title=f"Could not load the {CELL_NAMES[message.cell]} model", severity="error", timeout=10)
        self._refresh_models()

    def _show_active_model(self) -> None:
        """Point the typing pane at the selected cell's predictor (or explain how to get one)."""
        cell = self.picker_pane.cell
        name = CELL_NAMES[cell]
        active = self.models.active(cell)
        ngram = self.models.active(NGRAM)
        if active is None and ngram is not None and cell != NGRAM:
            # From the first second, before any training: the n-gram built from the corpus serves
            # the typing box until the selected network has a model (then it takes over).
            why = f"loading the {name} model" if self.models.is_loading(cell) else f"ctrl+t trains the {name}"
            self.typing_pane.set_predictor(ngram.predictor, f"{name}: no model yet ({why}) · suggesting with "
                                           "the n-gram built from the editor text")
            return
        if active is None:
            if cell == NGRAM:
                hint = "Building the n-gram model from the editor text…"
            elif not self.engine_ready:
                hint = "Loading the engine…"
            elif self.models.is_loading(cell):
                hint = f"Loading the {name} model…"
            else:
                hint = f"No {name} model yet: press ctrl+t to train one on the editor text."
            self.typing_pane.set_predictor(None, f"{name}: no model", hint)
            return
        ppl = active.metrics.get("valid_ppl")
        detail = f" · ppl {format_perplexity(ppl, ',.1f')}" if isinstance(ppl, (int, float)) else ""
        why = self.models.why(cell)
        self.typing_pane.set_predictor(active.predictor, f"{name} · {self._source(active)}{detail}"
                                       + (f" · {why}" if why and active.source == "saved" else ""))

    def _source(self, active: ActiveModel) -> str:
        key = active.key
        if isinstance(key, LiveKey):
            run = self.models.run
            return run.label if run is not None and run.cell == key.cell else "just trained"
        if isinstance(key, NgramKey):
            return "built from the editor text"
        return key.path.name

    def on_model_picker_cell_selected(self, message: ModelPicker.CellSelected) -> None:
        self._show_active_model()  # at once, even before the engine is loaded
        self._refresh_models()
        self.remember_now()

    def on_model_picker_settings_changed(self, message: ModelPicker.SettingsChanged) -> None:
        self.remember_now()
        if self.picker_pane.cell == NGRAM:
            self._refresh_models()  # a new order means a new n-gram model

    def on_corpus_editor_stats_changed(self, message: CorpusEditor.StatsChanged) -> None:
        self.picker_pane.vocab_size = message.stats.vocab_size
        if self.models.set_fingerprint(message.stats.fingerprint):
            self._refresh_models()

    def on_corpus_editor_saved(self, message: CorpusEditor.Saved) -> None:
        self.last_file.set(message.path)
        self.notify(f"Saved {Path(message.path).name}.", timeout=2)

    # --- training ------------------------------------------------------------------------------

    def action_toggle_training(self) -> None:
        if self.training is not None:
            self.action_stop_training()
            return
        settings = self.picker_pane.settings()
        if settings is None:
            self.notify("Fix the highlighted setting first.", title="Cannot train", severity="error")
            return
        if settings.model is None or settings.train is None:
            self.notify("The n-gram model needs no training: it is built from the editor text.", timeout=4)
            return
        job = jobs.TrainingJob(text=self.editor_pane.text, model=settings.model, train=settings.train,
                               incumbent=self.models.saved_path(settings.model.cell))
        self.log_pane.start(job.cell, job_summary(job))
        self.models.start_training(job.cell)
        self.training = TrainingRun(job.cell, self._train(job))
        self._refresh_models()

    def _train(self, job: jobs.TrainingJob) -> Worker:
        pane = self.writing_pane

        def run() -> None:
            worker = get_current_worker()
            jobs.run_training(job, self.post_message, lambda: worker.is_cancelled, lambda: pane.asked_text)

        return self.run_worker(run, thread=True, exit_on_error=False, group="training")

    def action_stop_training(self) -> None:
        if self.training is not None and not self.training.worker.is_cancelled:
            self.training.worker.cancel()
            self.log_pane.write("Stopping… (keeping the best weights so far)")

    def action_compare(self) -> None:
        """Open the comparison screen on the editor text, with the picker's sizes and time budget
        (capped at COMPARE_MAX_TIME per network)."""
        if self.is_training:
            self.notify("Stop training first (ctrl+t): a comparison trains three networks and needs the "
                        "processor to itself.", title="Cannot compare yet", severity="warning")
            return
        if not self.engine_ready:
            self.notify("The engine is still loading: try again in a moment.", timeout=3)
            return
        settings = self.picker_pane.settings()
        model_config, budget = None, COMPARE_MAX_TIME
        if settings is not None and settings.model is not None and settings.train is not None:
            model_config = settings.model
            budget = min(settings.train.max_time or COMPARE_MAX_TIME, COMPARE_MAX_TIME)
        self.app.push_screen(CompareScreen(self.editor_pane.text, budget, model_config))

    def on_engine_event(self, message: EngineEvent) -> None:
        """A training run's progress and notices (its epochs come as TrainingEpoch)."""
        if isinstance(message.event, Progress):
            self.log_pane.show_progress(message.event)
        elif isinstance(message.event, Notice):
            self.log_pane.show_notice(message.event.message)

    def on_training_epoch(self, message: TrainingEpoch) -> None:
        event = message.event
        self.log_pane.show_epoch(event, message.samples)
        live = ActiveModel(LiveKey(message.cell), message.predictor, {"valid_ppl": event.valid_ppl})
        self.models.epoch_ended(message.cell, event.epoch, live)
        self._refresh_models()

    def on_training_done(self, message: TrainingDone) -> None:
        self.training = None
        self.log_pane.finish(message.note, complete=message.stopped in ENDED_ON_ITS_OWN)
        name = CELL_NAMES[message.cell]
        if message.predictor is None:
            self.models.end_training(message.cell, None)
            self.notify(message.note, timeout=5)
        else:
            key = SavedKey(message.path) if message.path else LiveKey(message.cell)
            model = ActiveModel(key, message.predictor, message.metrics, message.fingerprint)
            verdict = message.judgement  # against the model in use when the run started
            switch = (verdict is None or verdict.better) and not message.diverged
            reason = "newly trained" if verdict is None else verdict.reason
            if message.diverged:
                reason = "kept the model in use: the new one diverged (not used and not saved)"
            elif not switch:
                reason = f"kept the model in use: the new one is {reason} (the new one is saved; alt+m lists both)"
            self.models.end_training(message.cell, model, switch=switch, reason=reason)
            self.log_pane.write(f"{name}: {format_metrics(message.metrics)}")
            self.log_pane.write(f"{name}: {'switched to the new model: ' if switch else ''}{reason}")
            if message.diverged:
                self.notify(message.note, title=f"{name} diverged", severity="warning", timeout=15)
            elif message.save_error:
                self.notify(message.note, title=f"{name} trained but not saved", severity="warning", timeout=15)
            else:
                self.notify(f"{message.note} {reason[:1].upper()}{reason[1:]}.", title=f"{name} trained", timeout=8)
        self._refresh_models()
        self.run_worker(lambda: jobs.list_saved_models(self.post_message), thread=True,
                        group="list", exit_on_error=False)

    def on_training_failed(self, message: TrainingFailed) -> None:
        self.training = None
        self.log_pane.fail(message.message)
        self.notify(message.message, title="Training failed", severity="error", timeout=10)
        self.models.end_training(message.cell, None)
        self._refresh_models()


def job_summary(job: jobs.TrainingJob) -> str:
    """The settings of a run, for the first line of its log."""
    m, t = job.model, job.train
    budget = f", at most {t.max_time:g} s" if t.max_time else ""
    return (f"emb {m.emb}, hidden {m.hidden}, {m.layers} layer(s), dropout {m.dropout}; "
            f"{t.epochs} epochs{budget}, lr {t.lr:g}, batch {t.batch_size}, bptt {t.bptt}")
