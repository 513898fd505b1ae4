"""The main screen's everyday actions: the models screen, the writing pane's save / copy / add to
the corpus, what is remembered between sessions (tui/settings.py), and the keys of the app served
to a browser. A mixin of MainScreen, kept apart so that each file holds one idea.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from engine import atomic_write, models_home
from textual.app import SystemCommand

from tui import worker as jobs
from tui.drafts import DraftKeeper
from tui.screens.models import ModelsOutcome, ModelsScreen
from tui.screens.open_file import PathScreen
from tui.screens.prompt import PromptScreen
from tui.served_keys import CTRL_W_NOTE, adapt_for_browser
from tui.settings import AppSettings, SettingsStore

if TYPE_CHECKING:
    from textual.screen import Screen

    from tui.models import ModelRegistry
    from tui.widgets.editor import CorpusEditor
    from tui.widgets.picker import ModelPicker
    from tui.widgets.writing import WritingPane

    Base = Screen[None]
else:
    Base = object

SAVE_DELAY = 0.5  # seconds: settings changes come in bursts (typing a number)
DRAFT_DELAY = 1.0  # seconds after the last keystroke in the writing pane
LEARN_SAVE_TOKENS = 20  # the learned state is saved (at the draft's pause) after this many typed tokens


class DailyActions(Base):
    models: ModelRegistry
    settings_store: SettingsStore
    remembered: AppSettings

    if TYPE_CHECKING:
        @property
        def editor_pane(self) -> CorpusEditor: ...

        @property
        def picker_pane(self) -> ModelPicker: ...

        @property
        def writing_pane(self) -> WritingPane: ...

        @property
        def fingerprint(self) -> str | None: ...

        def _refresh_models(self) -> None: ...

    # --- leaving, and the writing pane's draft ----------------------------------------------------

    def save_before_leaving(self, keep_autosave: bool = True) -> None:
        """Every way out calls this (ctrl+q, the quit question, SIGTERM / SIGHUP, a crash, a
        browser tab closed): the draft, the learned state and, unless a clean quit drops it
        (`keep_autosave` false), the corpus buffer's autosave are written now, not when their
        timers would have fired. Never raises: leaving must not fail, and one write that fails
        must not stop the next one."""
        steps = [lambda: self.editor_pane.write_autosave_now()] if keep_autosave else []
        for step in (*steps, self._write_draft, self.save_learning):
            try:
                step()
            except Exception:  # noqa: BLE001 - the last autosave (or draft) is still on disk
                pass

    def restore_draft(self) -> None:
        self.drafts = DraftKeeper()
        text = self.drafts.restore()
        if text:
            self.writing_pane.load(text)

    def on_writing_pane_written(self, message) -> None:
        timer = getattr(self, "_draft_timer", None)
        if timer is not None:
            timer.stop()
        self._draft_timer = self.set_timer(DRAFT_DELAY, self._save_draft)

    def _save_draft(self) -> None:
        """The draft's timer: the typing paused."""
        self._write_draft()
        self._save_learning_if_due()

    def _write_draft(self) -> None:
        drafts = getattr(self, "drafts", None)
        if drafts is None:
            return  # before _begin: the draft store is not open yet
        try:
            drafts.save(self.writing_pane.text)
        except OSError:
            pass  # the next keystroke tries again; the text is still on screen

    def on_unmount(self) -> None:
        if getattr(self, "_settings_timer", None) is not None and hasattr(self, "settings_store"):
            self._save_settings()  # a change made just before quitting is kept too
        drafts = getattr(self, "drafts", None)
        if drafts is not None:
            drafts.close()  # the draft stays on disk for the next start
        self.save_learning(close=True)

    def relist_models(self) -> None:
        self.run_worker(lambda: jobs.list_saved_models(self.post_message), thread=True,
                        group="list", exit_on_error=False)

    # --- the browser ------------------------------------------------------------------------------

    def use_browser_keys(self) -> None:
        """Served to a browser: the keys the browser keeps get stand-ins (tui/served_keys.py)."""
        if self.app.is_web:
            adapt_for_browser(self._bindings)

    def action_browser_ctrl_w(self) -> None:
        self.notify(CTRL_W_NOTE, timeout=5)

    # --- the models screen ------------------------------------------------------------------------

    def action_models(self) -> None:
        in_use = {cell: path for cell in self.models.cells if (path := self.models.saved_path(cell)) is not None}
        self.app.push_screen(ModelsScreen(self.fingerprint, in_use), self._models_closed)

    def _models_closed(self, outcome: ModelsOutcome | None) -> None:
        if outcome is None:
            return
        if outcome.use is not None:
            cell, path = outcome.use
            self.models.choose_for(cell, path)
            self.remember(self.remembered.with_model(cell, path.name))
            self.picker_pane.cell = cell
            self.notify(f"The {cell.upper()} now uses {path.name}, as you chose.", timeout=4)
        if outcome.changed or outcome.use is not None:
            self.relist_models()
        self._refresh_models()

    # --- learning from what is typed (issue 10) ---------------------------------------------------

    def _learning_predictors(self) -> list:
        """The adaptive predictors in use (saved network models opened for typing), each once."""
        try:
            found = [self.writing_pane.predictor]
        except Exception:  # unmounting: the pane is gone; the registry still holds its predictor
            found = []
        models = getattr(self, "models", None)
        if models is not None:
            found += [a.predictor for cell in models.cells if (a := models.active(cell)) is not None]
        unique = {id(p): p for p in found if getattr(p, "learner", None) is not None
                  and getattr(p, "model_folder", None) is not None}
        return list(unique.values())

    def _learner(self):
        """The writing pane's learner, or None (with a notice) when its model does not learn."""
        learner = getattr(self.writing_pane.predictor, "learner", None)
        if learner is None:
            self.notify("The model in use does not learn from typing (only saved RNN/LSTM/GRU models do).",
                        timeout=4)
        return learner

    def save_learning(self, close: bool = False) -> None:
        """Save what typing taught each model in use into its folder (atomic; on the UI thread)."""
        import engine

        for predictor in self._learning_predictors():
            if close:  # first: the online updates still waiting for a pause are stepped, then saved
                predictor.close()
            try:
                engine.save_typing(predictor, predictor.model_folder)
                predictor.saved_learning = self._learning_mark(predictor)
            except Exception as exc:  # a full disk or a removed folder: say it once, keep typing
                if not getattr(self, "_learning_failed", False):
                    self._learning_failed = True
                    self.notify(f"What was learned could not be saved ({exc}).", severity="warning", timeout=8)

    @staticmethod
    def _learning_mark(predictor) -> tuple[int, int]:
        updater = getattr(predictor, "updater", None)
        return len(predictor.learner.history), getattr(updater, "updates", 0)

    def _save_learning_if_due(self) -> None:
        predictor = self.writing_pane.predictor
        if getattr(predictor, "learner", None) is None or getattr(predictor, "model_folder", None) is None:
            return
        tokens, updates = self._learning_mark(predictor)
        saved_tokens, saved_updates = getattr(predictor, "saved_learning", (0, 0))
        if updates != saved_updates or abs(tokens - saved_tokens) >= LEARN_SAVE_TOKENS:
            self.save_learning()

    def action_toggle_learning(self) -> None:
        learner = self._learner()
        if learner is None:
            return
        learner.paused = not learner.paused
        self.writing_pane.show_learning()
        self.notify("Learning paused: what you type now is never learned (alt+l resumes)." if learner.paused
                    else "Learning again from what you type.", timeout=3)

    def action_forget_word(self) -> None:
        learner = self._learner()
        if learner is None:
            return

        def chosen(word: str | None) -> None:
            if not word:
                return
            if learner.forget(word):
                self.writing_pane.refresh_suggestions()
                self.save_learning()
                self.notify(f"Forgot {word!r}.", timeout=3)
            else:
                self.notify(f"{word!r} was not learned from typing: nothing to forget.", timeout=4)

        self.app.push_screen(PromptScreen("Forget a word", "The word typing taught the model, to forget:",
                                          button="Forget"), chosen)

    def action_view_learned(self) -> None:
        learner = self._learner()
        if learner is None:
            return
        view = learner.view()
        typed = sorted(view["typed"], key=lambda wc: (-wc[1], wc[0]))
        if not typed:
            self.notify("Nothing learned from typing yet.", title="What was learned", timeout=5)
            return
        words = ", ".join(f"{w} ({c})" for w, c in typed[:30]) + (" …" if len(typed) > 30 else "")
        new = ", ".join(view["new"][:15]) or "none"
        self.notify(f"{len(typed):,} typed words: {words}\nNew words: {new}\n"
                    f"{view['history_tokens']:,} tokens of history" + (" · paused" if view["paused"] else ""),
                    title="What was learned", timeout=12, markup=False)

    def action_clear_learned(self) -> None:
        learner = self._learner()
        if learner is None:
            return
        learner.clear()
        self.writing_pane.refresh_suggestions()
        self.save_learning()
        self.notify("Cleared what was learned from typing.", timeout=3)

    # --- the writing pane -------------------------------------------------------------------------

    def action_save_writing(self) -> None:
        text = self.writing_pane.text

        def chosen(path: str | None) -> None:
            if not path:
                return
            try:
                atomic_write(path, text.encode("utf-8"))
            except (OSError, UnicodeEncodeError) as exc:
                self.notify(f"Could not save to {path}: {getattr(exc, 'strerror', None) or exc}.",
                            title="Not saved", severity="error", timeout=8)
                return
            self.notify(f"Saved what you wrote to {Path(path).name}.", timeout=3)

        self.app.push_screen(PathScreen("Save what you wrote as", "Save", initial="writing.txt",
                                        confirm_overwrite=True), chosen)

    def action_copy_writing(self) -> None:
        text = self.writing_pane.text
        self.app.copy_to_clipboard(text)  # OSC 52: the terminal (or the browser) puts it on the clipboard
        self.notify(f"Copied {len(text):,} characters to the clipboard (if your terminal allows OSC 52).",
                    timeout=4)

    def action_add_writing_to_corpus(self) -> None:
        text = self.writing_pane.text.strip("\n")
        if not text.strip():
            self.notify("Write something first: there is nothing to add.", timeout=3)
            return
        area = self.editor_pane.text_area
        corpus = area.text
        glue = "" if not corpus or corpus.endswith("\n") else "\n"
        area.insert(glue + text + "\n", area.document.end)
        self.notify(f"Added {len(text.split()):,} words to the corpus (ctrl+s saves it; ctrl+t trains on it).",
                    timeout=4)

    # --- settings ---------------------------------------------------------------------------------

    def load_settings(self) -> None:
        """Read what was remembered; a damaged file gives the defaults and a notice, never a crash."""
        self.settings_store = SettingsStore()
        loaded = self.settings_store.load()
        self.remembered = loaded.settings
        if loaded.notice:
            self.notify(loaded.notice, title="Settings reset to the defaults", severity="warning", timeout=12)
        self.apply_settings(self.remembered)
        self.app.theme_changed_signal.subscribe(self, lambda theme: self.remember_now())

    def apply_settings(self, settings: AppSettings) -> None:
        fields = {cell: dict(values) for cell, values in settings.fields.items()}
        fields.setdefault("ngram", {})["order"] = str(settings.ngram_order)
        self.picker_pane.restore_values(fields)
        if settings.cell in self.models.cells:
            self.picker_pane.cell = settings.cell
        if settings.theme and settings.theme in self.app.available_themes:
            self.app.theme = settings.theme
        self.models.set_choices({cell: models_home() / name for cell, name in settings.models.items()})

    def remember_now(self) -> None:
        """The picker, the theme and the chosen models as they are now, saved a moment later."""
        values = self.picker_pane.values()
        order = values.get("ngram", {}).get("order", "")
        settings = AppSettings(cell=self.picker_pane.cell, fields=values,
                               ngram_order=int(order) if order.isdigit() and 1 <= int(order) <= 9 else 3,
                               theme=self.app.theme, models=self.remembered.models)
        self.remember(settings)

    def remember(self, settings: AppSettings) -> None:
        self.remembered = settings
        timer = getattr(self, "_settings_timer", None)
        if timer is not None:
            timer.stop()
        self._settings_timer = self.set_timer(SAVE_DELAY, self._save_settings)

    def _save_settings(self) -> None:
        try:
            self.settings_store.save(self.remembered)
        except OSError as exc:
            if not getattr(self, "_settings_failed", False):  # say it once, not at every keystroke
                self._settings_failed = True
                self.notify(f"Settings cannot be saved ({exc.strerror or exc}): they last until you quit.",
                            severity="warning", timeout=8)

    def action_reset_settings(self) -> None:
        self.remembered = self.settings_store.reset()
        self.apply_settings(self.remembered)
        self.app.theme = "textual-dark"
        self._refresh_models()
        self.notify("Settings reset to the defaults (the old ones are kept as settings.reset.json).", timeout=5)

    # --- the command palette ----------------------------------------------------------------------

    def daily_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Models…", "alt+m: every saved model: use, rename, delete, export, import",
                            self.action_models)
        yield SystemCommand("Save what you wrote…", "save the writing pane's text to a file",
                            self.action_save_writing)
        yield SystemCommand("Copy what you wrote", "put the writing pane's text on the clipboard (OSC 52)",
                            self.action_copy_writing)
        yield SystemCommand("Add what you wrote to the corpus", "append the writing pane's text to the editor",
                            self.action_add_writing_to_corpus)
        yield SystemCommand("Pause / resume learning", "alt+l: stop or restart learning from what you type "
                            "(incognito)", self.action_toggle_learning)
        yield SystemCommand("Forget a word…", "remove a word typing taught the model", self.action_forget_word)
        yield SystemCommand("View what was learned", "the words typing taught the model", self.action_view_learned)
        yield SystemCommand("Clear what was learned", "forget everything typing taught the model",
                            self.action_clear_learned)
        yield SystemCommand("Reset settings", "forget the picker settings, the theme and the chosen models",
                            self.action_reset_settings)
