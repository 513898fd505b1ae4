"""The one error family a user can cause. Its message is a sentence that says what to do."""


class NextwordError(Exception):
    """A problem with the user's input, settings or files, worded for the user."""


class CorpusError(NextwordError):
    """The corpus cannot be read or is unusable for training."""


class ConfigError(NextwordError):
    """A setting is out of range or the settings do not fit the corpus or the machine."""


class ModelFileError(NextwordError):
    """A saved model is missing, damaged, hostile or from an unknown version."""


class TrainingError(NextwordError):
    """Training could not go on (for example the loss diverged)."""


class LoadCancelled(NextwordError):
    """Corpus.from_file was stopped by its should_stop."""

    def __init__(self) -> None:
        super().__init__("Loading the corpus was cancelled.")
