"""The settings of a model, of a training run and of the data: defaults, limits, validation.

No torch here: the app builds its settings forms from these dataclasses (their fields and defaults)
and checks what is typed before the engine is loaded. Every config is frozen and saved beside the
weights, so a model can be explained and rebuilt.

The shapes of a model's parameters are known here too (`parameter_shapes`): the one table from
which the parameter count, the memory estimate, the weight-file checks and the model's own count
are derived.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields

from engine.errors import ConfigError
from engine.formatting import format_bytes

CELLS = ("rnn", "lstm", "gru")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks per layer in PyTorch's layout
LIMITS = {"vocab_size": 2_000_000, "emb": 8192, "hidden": 8192, "layers": 8}
MAX_PARAMS = 500_000_000
OPTIMIZERS = ("adam", "adamw")
DEVICES = ("auto", "cpu", "cuda")  # and "cuda:N" for the GPU N (check_device)
NGRAM = "ngram"  # the n-gram baseline, the kind of model beside the three cells
NGRAM_ORDER = 3  # its default order
NGRAM_MAX_ORDER = 9
KINDS = (*CELLS, NGRAM)
LABELS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", NGRAM: f"{NGRAM_ORDER}-gram"}  # for tables and logs


def _whole(owner: object, name: str, low: int, high: int) -> None:
    value = getattr(owner, name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low:,} to {high:,} (got {value!r}).")


def _number(owner: object, name: str, low: float, high: float, low_open: bool = False) -> None:
    value = getattr(owner, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value > high or value < low or (low_open and value == low):
        bound = f"above {low}" if low_open else f"at least {low}"
        raise ConfigError(f"{name} must be a number {bound} and at most {high} (got {value!r}).")


def check_device(name: object) -> str:
    """`name` if it names a device: auto, cpu, cuda or cuda:N (not whether it is present here:
    engine.device.pick_device says that); else a ConfigError."""
    if name in DEVICES or (isinstance(name, str) and name.startswith("cuda:") and name[5:].isdigit()
                           and len(name) <= 8 and name[5:].isascii()):
        return name
    raise ConfigError(f"device must be auto, cpu, cuda or cuda:N (got {name!r}).")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model's shapes. Saved next to its weights."""

    cell: str = "lstm"
    vocab_size: int = 2
    emb: int = 256
    hidden: int = 256
    layers: int = 1
    dropout: float = 0.3
    tied: bool = True

    def validate(self) -> None:
        """Refuse absurd settings before a single tensor is allocated."""
        if self.cell not in CELLS:
            raise ConfigError(f"Unknown cell '{self.cell}': choose one of {', '.join(CELLS)}.")
        for name, top in LIMITS.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
                raise ConfigError(f"{name} must be a whole number from 1 to {top:,} (got {value!r}).")
        if self.vocab_size < 3:
            raise ConfigError("The vocabulary is empty: the corpus needs at least one word.")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be at least 0 and below 1 (got {self.dropout!r}).")
        if not isinstance(self.tied, bool):
            raise ConfigError("tied must be true or false.")
        if self.tied and self.emb != self.hidden:
            raise ConfigError(
                f"Tied weights need emb == hidden (got {self.emb} and {self.hidden}): "
                "make them equal or turn tying off."
            )
        params = self.param_count()
        if params > MAX_PARAMS:
            raise ConfigError(
                f"This model would have {params:,} parameters (about {format_bytes(4 * params)}); "
                f"the limit is {MAX_PARAMS:,}. Make it smaller."
            )

    def param_count(self) -> int:
        """Trainable parameters, from the table of shapes alone (nothing is allocated)."""
        return sum(math.prod(shape) for shape in parameter_shapes(self).values())

    def training_bytes(self, batch_size: int, bptt: int) -> int:
        """Rough peak memory of training: weights, gradients, two Adam moments and activations."""
        weights = 4 * self.param_count() * 4
        per_step = batch_size * bptt
        activations = 4 * per_step * (
            self.emb + self.layers * self.hidden * (GATES[self.cell] + 2) + 3 * self.vocab_size
        )
        return weights + activations

    def to_json(self) -> dict:
        return asdict(self)


def parameter_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """Names and shapes of WordRNN(config)'s parameters in `parameters()` order, without building it.

    With tied weights the decoder's weight *is* the embedding, so it is listed once.
    """
    g = GATES[config.cell]
    shapes = {"embed.weight": (config.vocab_size, config.emb)}
    for layer in range(config.layers):
        inputs = config.emb if layer == 0 else config.hidden
        shapes[f"rnn.weight_ih_l{layer}"] = (g * config.hidden, inputs)
        shapes[f"rnn.weight_hh_l{layer}"] = (g * config.hidden, config.hidden)
        shapes[f"rnn.bias_ih_l{layer}"] = (g * config.hidden,)
        shapes[f"rnn.bias_hh_l{layer}"] = (g * config.hidden,)
    if not config.tied:
        shapes["decoder.weight"] = (config.vocab_size, config.hidden)
    shapes["decoder.bias"] = (config.vocab_size,)
    return shapes


def available_memory() -> int:
    """Physical memory of this machine in bytes (a conservative fallback if unknown)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 4 * 1024**3


def check_fits(config: ModelConfig, batch_size: int, bptt: int) -> None:
    """Refuse to train a model whose estimated memory exceeds half of this machine's RAM
    (ConfigError saying what to lower)."""
    need = config.training_bytes(batch_size, bptt)
    have = available_memory()
    if need > have // 2:
        raise ConfigError(
            f"Training this model needs about {format_bytes(need)} of memory, more than half of "
            f"this machine's {format_bytes(have)}: lower hidden, emb, layers or batch size."
        )


@dataclass(frozen=True)
class TrainConfig:
    """How to train. Saved with the model so a run can be explained and resumed."""

    epochs: int = 40
    max_time: float | None = None  # seconds; whichever of epochs and max_time ends first
    batch_size: int = 20
    bptt: int = 35
    lr: float = 2e-3
    optimizer: str = "adam"
    weight_decay: float = 0.0
    clip: float = 1.0
    patience: int = 3  # epochs without a better validation loss before stopping (lr halves each time)
    seed: int = 0
    device: str = "auto"
    threads: int | None = None  # CPU threads for this training run; None: all cores but one

    def validate(self) -> None:
        """Refuse settings out of range (ConfigError naming the setting and its range)."""
        _whole(self, "epochs", 1, 100_000)
        _whole(self, "batch_size", 1, 4096)
        _whole(self, "bptt", 1, 2048)
        _whole(self, "patience", 1, 1000)
        _whole(self, "seed", 0, 2**63 - 1)
        _number(self, "lr", 0.0, 10.0, low_open=True)
        _number(self, "weight_decay", 0.0, 1.0)
        _number(self, "clip", 0.0, 1e6, low_open=True)
        if self.max_time is not None:
            _number(self, "max_time", 0.0, 7 * 24 * 3600.0, low_open=True)
        if self.threads is not None:
            _whole(self, "threads", 1, 1024)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)} (got {self.optimizer!r}).")
        check_device(self.device)

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DataConfig:
    """How text becomes training data. Saved with the model so its vocabulary can be explained."""

    lowercase: bool = True
    min_freq: int | None = None  # None: 1 for small corpora, 2 from 50,000 tokens on
    max_vocab: int = 20_000
    valid_fraction: float = 0.1

    def validate(self) -> None:
        """Refuse settings out of range (ConfigError naming the setting and its range)."""
        if self.min_freq is not None and (isinstance(self.min_freq, bool) or not isinstance(self.min_freq, int) or self.min_freq < 1):
            raise ConfigError(f"min_freq must be a whole number of at least 1 (got {self.min_freq!r}).")
        if isinstance(self.max_vocab, bool) or not isinstance(self.max_vocab, int) or not 3 <= self.max_vocab <= 2_000_000:
            raise ConfigError(f"max_vocab must be from 3 to 2,000,000 (got {self.max_vocab!r}).")
        if not isinstance(self.valid_fraction, (int, float)) or not 0 <= self.valid_fraction < 1:
            raise ConfigError(f"valid_fraction must be at least 0 and below 1 (got {self.valid_fraction!r}).")

    def to_json(self) -> dict:
        return asdict(self)


MIN_LINES_TO_SPLIT = 10  # fewer non-empty lines than this: validation reuses the training text
MIN_FREQ_2_FROM = 50_000  # training tokens from which a word must be seen twice (default min_freq)


@dataclass(frozen=True)
class Split:
    """Which non-empty lines train and which validate: the first n_train, the last n_valid."""

    n_train: int
    n_valid: int
    valid_is_train: bool  # too few lines to hold some back: every line does both


def plan_split(n_lines: int, config: DataConfig) -> Split:
    """The split of a text of `n_lines` non-empty lines: the last `valid_fraction` of them are held
    out for validation, unless that leaves none or the text is too short."""
    n_valid = round(n_lines * config.valid_fraction)
    if n_lines < MIN_LINES_TO_SPLIT or n_valid == 0:
        return Split(n_lines, n_lines, True)
    return Split(n_lines - n_valid, n_valid, False)


def default_min_freq(config: DataConfig, train_tokens: int) -> int:
    """How often a word must appear in training to join the vocabulary: the setting, else 1 for a
    small corpus and 2 from MIN_FREQ_2_FROM tokens on (a word seen once then rarely generalises)."""
    return config.min_freq or (2 if train_tokens >= MIN_FREQ_2_FROM else 1)


def check_ngram_order(order: object) -> int:
    """The n-gram order if it is a whole number from 1 to NGRAM_MAX_ORDER, else a ConfigError."""
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= NGRAM_MAX_ORDER:
        raise ConfigError(f"The n-gram order must be a whole number from 1 to {NGRAM_MAX_ORDER} (got {order!r}).")
    return order


def parse_setting(config: type, name: str, text: str) -> object:
    """A setting of `config` (ModelConfig, TrainConfig, DataConfig) typed as text, in its field's
    type: the one reading of what a user types, for the CLI's flags and the app's settings form.

    Whole numbers: "1000", "1,000", "1_000" and "1e3" (but not "1.5"); numbers: any float text;
    an optional setting ("int | None") is None for "", "-", "none" or "off". Ranges are checked by
    the config's validate(), not here. ConfigError: "'abc' is not a number." (the caller
    names the setting as its user knows it: a flag, a form label).
    """
    kinds = {f.name: str(f.type).split(" | ") for f in fields(config)}[name]  # "int", "float | None"
    text = text.strip()
    if "None" in kinds and text.lower() in ("", "-", "none", "off"):
        return None
    digits = text.replace(",", "").replace("_", "")
    try:
        if kinds[0] == "int":
            try:
                return int(digits)
            except ValueError:
                value = float(digits)  # "1e3"; ValueError if not a number at all
                if not value.is_integer():  # also refuses nan and inf
                    raise
                return int(value)
        if kinds[0] == "float":
            return float(digits)
    except ValueError:
        try:
            float(digits)
            kind = "a whole number"  # a number, but not a whole one ("1.5" for a count)
        except ValueError:
            kind = "a number"
        raise ConfigError(f"'{text}' is not {kind}.") from None
    return text
