"""Train a WordRNN as a real language model: every position predicts the next token, with
truncated backpropagation through time over batched token streams.

The loop reads like PyTorch's word_language_model: for each epoch, train over the BPTT chunks,
measure the validation loss, keep the best weights, halve the learning rate when it did not improve,
stop after `patience` such epochs. Front ends watch through plain event dataclasses (`on_event`)
and stop it through `should_stop`, polled every batch; neither needs to know about threads or UIs.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import replace
from typing import Callable, Iterator

import torch
import torch.nn.functional as F

from engine import distributed
from engine.batches import StreamBatches, shard
from engine.config import ModelConfig, TrainConfig, check_fits
from engine.corpus import Corpus
from engine.device import configure, describe_device, pick_device
from engine.errors import ConfigError, CorpusError, TrainingError
from engine.evaluation import evaluate, final_eval_text
from engine.events import PARTIAL, EpochEnd, Event, Notice, Progress, StopReason
from engine.fused_loss import fast_dtype
from engine.lm import NeuralLM
from engine.model import Hidden, WordRNN
from engine.trained import TrainedModel

EVENTS_PER_SECOND = 4
VALID_BATCH = 10
MAX_DIVERGENCES = 3
PARTIAL_VALID_TOKENS = 20_000  # a stopped epoch is validated on this much, so stopping stays quick
MIN_BATCHES = 4  # a corpus shorter than this many full batches is repeated (fit_stream)


# -- batches -----------------------------------------------------------------------------------


def batchify(ids: torch.Tensor, batch_size: int) -> torch.Tensor:
    """Cut a token stream into `batch_size` parallel streams: [length, batch]."""
    length = ids.numel() // batch_size
    return ids[: length * batch_size].view(batch_size, length).t().contiguous()


def fit_stream(ids: torch.Tensor, batch_size: int, bptt: int, min_batches: int = MIN_BATCHES) -> tuple[torch.Tensor, int]:
    """Repeat a stream too short for `min_batches` full batches, so a tiny corpus still trains.

    Returns the (possibly repeated) stream and how many times it was repeated.
    """
    need = batch_size * (bptt * min_batches + 1)
    if ids.numel() >= need:
        return ids, 1
    if ids.numel() < 2:
        raise CorpusError("The corpus needs at least two tokens to learn anything.")
    repeats = -(-need // ids.numel())
    return ids.repeat(repeats), repeats


def training_streams(ids: torch.Tensor, config: TrainConfig, device: torch.device,
                     ctx: distributed.DistContext | None = None) -> tuple[StreamBatches, int]:
    """The BPTT streams one epoch reads (this rank's columns of them: engine/batches.shard), read a
    chunk at a time onto `device`, and how many times the training text was repeated to fill them."""
    stream, repeats = fit_stream(ids, config.batch_size, config.bptt)
    lo, hi = shard(config.batch_size, ctx.rank, ctx.world) if ctx else (0, config.batch_size)
    return StreamBatches(stream, config.batch_size, lo, hi, device), repeats


def bptt_chunks(data: torch.Tensor, bptt: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(inputs, targets) chunks of at most `bptt` time steps; targets are the inputs shifted by one."""
    for i in range(0, data.size(0) - 1, bptt):
        seq = min(bptt, data.size(0) - 1 - i)
        yield data[i : i + seq], data[i + 1 : i + 1 + seq]


# -- small pieces ------------------------------------------------------------------------------


def default_threads() -> int:
    """All cores but one: a core left free keeps the UI and the machine responsive, and PyTorch's
    thread pool slows down many times over (measured 5-10x here) when one of its cores is busy."""
    return max(1, (os.cpu_count() or 2) - 1)


def detach(hidden: Hidden) -> Hidden:
    """Cut the graph between BPTT chunks while carrying the state forward."""
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)
    return hidden.detach()


def cpu_state(model: WordRNN) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def make_optimizer(model: WordRNN, config: TrainConfig, lr: float) -> torch.optim.Optimizer:
    kind = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    try:
        # One fused pass over the parameters: several times faster than the default update on CPU.
        return kind(model.parameters(), lr=lr, weight_decay=config.weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return kind(model.parameters(), lr=lr, weight_decay=config.weight_decay)


@torch.inference_mode()
def validation_loss(model: WordRNN, ids: torch.Tensor, bptt: int, max_tokens: int | None = None) -> float:
    """Mean cross-entropy per token over a validation stream."""
    if max_tokens is not None:
        ids = ids[: max_tokens + 1]
    batch = max(1, min(VALID_BATCH, (ids.numel() - 1) // 2))
    data = batchify(ids, batch).to(model.embedding().device)
    was_training = model.training
    model.eval()
    hidden = model.init_hidden(batch)
    total, count = 0.0, 0
    for x, y in bptt_chunks(data, bptt):
        logits, hidden = model(x, hidden)
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1).long(), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1)


# -- the loop ----------------------------------------------------------------------------------


def train(
    corpus: Corpus,
    model_config: ModelConfig,
    train_config: TrainConfig | None = None,
    on_event: Callable[[Event], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: TrainedModel | None = None,
) -> TrainedModel:
    """Train a model on `corpus` and return the weights with the best validation loss.

    `on_event` gets Progress (a few times a second), EpochEnd and Notice events; `should_stop` is
    polled every batch. `resume` continues a saved model (same vocabulary and settings), optimizer
    state included when it has one. Raises TrainingError when nothing was learned (diverged, or
    cancelled before the first epoch ended), ConfigError for settings that do not fit.
    """
    config = train_config or TrainConfig()
    config.validate()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads or distributed.rank_threads() or default_threads())  # OpenMP, per thread
    try:
        with distributed.peers_guard():  # a rank that died: a TrainingError here, not a hang
            return _Run(corpus, model_config, config, on_event, should_stop, resume).run()
    finally:
        torch.set_num_threads(previous_threads)


class _Run:
    """One training run: the model, its optimizer and the bookkeeping that the loop reads."""

    def __init__(self, corpus: Corpus, model_config: ModelConfig, config: TrainConfig,
                 on_event: Callable[[Event], None] | None, should_stop: Callable[[], bool] | None,
                 resume: TrainedModel | None):
        self.corpus, self.config = corpus, config
        self.model_config = replace(model_config, vocab_size=len(corpus.vocab))
        self.model_config.validate()
        self.ctx = distributed.context()
        self.emit = (on_event if self.ctx.is_main else None) or (lambda event: None)  # rank 0 reports
        self.should_stop = should_stop or (lambda: False)
        check_fits(self.model_config, config.batch_size, config.bptt)
        torch.manual_seed(config.seed)
        self.device = device = configure(self.ctx.device if self.ctx.active else pick_device(config.device))
        self.data, repeats = training_streams(corpus.train_ids, config, device, self.ctx)
        if repeats > 1:
            self.emit(Notice(f"Small corpus: each epoch reads the training text {repeats} times."))
        self.model = WordRNN(self.model_config).to(device)
        self.dtype = fast_dtype(device)
        self.lr = config.lr
        self.optimizer = make_optimizer(self.model, config, self.lr)
        self.history: list[dict] = []
        if resume is not None:
            self._resume(resume)
        self.net = distributed.wrap(self.model, self.ctx)  # DDP: its backward all-reduces the gradients
        self.steps_per_epoch = math.ceil((self.data.size(0) - 1) / config.bptt)
        self.best_loss, self.best_state = math.inf, cpu_state(self.model)
        self.last_good = self.best_state  # state dicts here are CPU copies that nothing modifies
        self.bad_epochs = self.divergences = self.steps_done = self.tokens_seen = 0
        self.warned_worse_than_guessing = False
        self.stopped: StopReason = "completed"
        self.started = self.last_event = time.perf_counter()

    def run(self) -> TrainedModel:
        for epoch in range(1, self.config.epochs + 1):
            train_loss, seen = self.train_epoch(epoch)
            partial = self.stopped in PARTIAL
            if self.stopped == "diverged" or (partial and (seen == 0 or self.history)):
                break  # nothing new worth validating, or an earlier epoch already measured
            improved = self.end_epoch(train_loss, partial)
            if partial:
                break
            if self.bad_epochs >= self.config.patience:
                self.stopped = "early stopping"
                break
            if not improved:
                self.set_lr(self.lr / 2)
        return self.result()

    def train_epoch(self, epoch: int) -> tuple[float, int]:
        """One pass over the streams (or until a stop); the mean training loss and the targets seen."""
        self.model.train()
        hidden = self.model.init_hidden(self.data.size(1))  # this rank's streams
        loss_sum, seen = 0.0, 0
        for step, (x, y) in enumerate(bptt_chunks(self.data, self.config.bptt), start=1):
            stop = distributed.agree_stop(self.stop_reason(), self.ctx)
            if stop is not None:
                self.stopped = stop
                break
            loss, hidden = self.net(x, detach(hidden), y, self.dtype)
            mean = distributed.mean_loss(loss, self.ctx)  # of the global batch, on every rank
            if not torch.isfinite(mean):
                if not self.recover(mean.item(), epoch, step):
                    self.stopped = "diverged"
                    break
                hidden = self.model.init_hidden(self.data.size(1))
                continue
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.config.clip)
            self.optimizer.step()
            self.steps_done += 1
            self.tokens_seen += y.numel() * self.ctx.world
            loss_sum += mean.item() * y.numel()
            seen += y.numel()
            self.report(epoch, step, loss_sum / seen)
        return loss_sum / max(seen, 1), seen

    def stop_reason(self) -> StopReason | None:
        """Whether to stop before the next batch: asked to, or out of time (after one step at least)."""
        if self.should_stop():
            return "cancelled"
        budget = self.config.max_time
        if budget is not None and self.steps_done > 0 and time.perf_counter() - self.started >= budget:
            return "time budget"
        return None

    def recover(self, loss: float, epoch: int, step: int) -> bool:
        """After a NaN or infinite loss: back to the last good weights at half the learning rate,
        unless it has happened too often (False: give up)."""
        self.divergences += 1
        if self.divergences > MAX_DIVERGENCES:
            if self.history:
                self.emit(Notice("Training diverged again and was stopped; the best weights so far are kept. "
                                 "Lower the learning rate and train again."))
            return False
        self.lr /= 2
        self.model.load_state_dict(self.last_good)
        self.optimizer = make_optimizer(self.model, self.config, self.lr)
        self.emit(Notice(
            f"The loss became {loss} at epoch {epoch}, step {step}: restored the last good "
            f"weights and halved the learning rate to {self.lr:.2g}. If this repeats, lower the learning rate."
        ))
        return True

    def report(self, epoch: int, step: int, train_loss: float) -> None:
        """A Progress event, at most EVENTS_PER_SECOND times a second and at each epoch's last step."""
        now = time.perf_counter()
        if now - self.last_event >= 1 / EVENTS_PER_SECOND or step == self.steps_per_epoch:
            self.last_event = now
            self.emit(_progress(self.config, epoch, step, self.steps_per_epoch, train_loss,
                                self.tokens_seen, self.lr, now - self.started))

    def end_epoch(self, train_loss: float, partial: bool) -> bool:
        """Validate, checkpoint (the best weights, and the last good ones), record the epoch and
        emit EpochEnd. Whether the validation loss improved."""
        valid_loss = distributed.on_main(lambda: validation_loss(  # rank 0 validates, the others wait
            self.model, self.corpus.valid_ids, self.config.bptt, PARTIAL_VALID_TOKENS if partial else None), self.ctx)
        if not math.isfinite(valid_loss):
            valid_loss = math.inf
        self.warn_if_worse_than_guessing(valid_loss)
        improved = valid_loss < self.best_loss
        state = cpu_state(self.model)
        if improved:
            self.best_loss, self.best_state, self.bad_epochs = valid_loss, state, 0
        else:
            self.bad_epochs += 1
        if math.isfinite(valid_loss):
            self.last_good = state
        elapsed = time.perf_counter() - self.started
        self.history.append({"epoch": len(self.history) + 1, "train_loss": train_loss, "valid_loss": valid_loss,
                             "valid_ppl": _ppl(valid_loss), "lr": self.lr, "elapsed": elapsed})
        self.emit(EpochEnd(len(self.history), train_loss, valid_loss, _ppl(valid_loss), self.lr, improved,
                           elapsed, state))
        return improved

    def warn_if_worse_than_guessing(self, valid_loss: float) -> None:
        guessing = math.log(self.model_config.vocab_size)
        if valid_loss > guessing and not self.warned_worse_than_guessing:
            self.warned_worse_than_guessing = True
            self.emit(Notice(
                f"The model predicts worse than guessing (validation loss {valid_loss:.2f} > "
                f"{guessing:.2f}): the learning rate {self.config.lr} is probably too high."
            ))

    def set_lr(self, lr: float) -> None:
        self.lr = lr
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _resume(self, resume: TrainedModel) -> None:
        _check_resumable(resume, self.corpus, self.model_config)
        self.model.load_state_dict(resume.state_dict)
        if resume.optimizer_state is not None:
            # A copy: the model resumed from keeps its own state, so resuming twice repeats a run.
            state = copy.deepcopy(resume.optimizer_state)
            check_optimizer_state(state, [tuple(p.shape) for p in self.model.parameters()])
            self.optimizer.load_state_dict(state)
            self.lr = self.optimizer.param_groups[0]["lr"]
        self.history = list(resume.history)

    def result(self) -> TrainedModel:
        """The best weights with their final metrics; TrainingError if nothing was learned."""
        if self.best_loss == math.inf and self.stopped == "diverged":
            raise TrainingError(
                f"Training diverged (the loss became NaN or infinite) with learning rate {self.config.lr}: "
                "lower it (for example to a tenth) and try again."
            )
        if self.best_loss == math.inf and self.stopped == "cancelled":
            raise TrainingError("Training was stopped before the model learned anything.")
        train_time = time.perf_counter() - self.started
        self.model.load_state_dict(self.best_state)
        metrics = {
            **(final_metrics(self.best_state, self.model_config, self.corpus) if self.ctx.is_main else {}),
            "valid_loss": self.best_loss,
            "valid_ppl": _ppl(self.best_loss),
            "epochs": len(self.history),
            "steps": self.steps_done,
            "tokens_seen": self.tokens_seen,
            "train_time": train_time,
            "tokens_per_s": self.tokens_seen / train_time if train_time > 0 else 0.0,
            "stopped": self.stopped,
            "params": self.model.param_count(),
            "device": describe_device(self.device, self.dtype), "processes": self.ctx.world,
        }
        return TrainedModel(
            model_config=self.model_config,
            train_config=self.config,
            data_config=self.corpus.config,
            vocab=self.corpus.vocab,
            state_dict=self.best_state,
            metrics=metrics,
            history=self.history,
            corpus_fingerprint=self.corpus.fingerprint,
            optimizer_state=self.optimizer.state_dict(),
        )


def final_metrics(state: dict[str, torch.Tensor], config: ModelConfig, corpus: Corpus) -> dict:
    """Top-k accuracy and keystroke savings of the best weights on (the start of) the validation text."""
    model = WordRNN(config)
    model.load_state_dict(state)
    result = evaluate(NeuralLM(model, corpus.vocab), final_eval_text(corpus.valid_text))
    return {"top1": result.top1, "top3": result.top3, "top5": result.top5, "ksr": result.ksr}


def _ppl(loss: float) -> float:
    return math.exp(loss) if loss < 700 else math.inf


def _progress(config: TrainConfig, epoch: int, step: int, steps_per_epoch: int, train_loss: float,
              tokens_seen: int, lr: float, elapsed: float) -> Progress:
    fraction = ((epoch - 1) * steps_per_epoch + step) / (steps_per_epoch * config.epochs)
    if config.max_time is not None:
        fraction = max(fraction, elapsed / config.max_time)
    fraction = min(fraction, 1.0)
    eta = elapsed * (1 - fraction) / fraction if fraction > 0 and elapsed > 0.5 else None
    return Progress(
        epoch=epoch,
        epochs=config.epochs,
        step=step,
        steps_per_epoch=steps_per_epoch,
        fraction=fraction,
        train_loss=train_loss,
        tokens_per_s=tokens_seen / elapsed if elapsed > 0 else 0.0,
        lr=lr,
        elapsed=elapsed,
        eta=eta,
    )


def check_optimizer_state(state: dict, shapes: list[tuple[int, ...]]) -> None:
    """Refuse saved optimizer state that does not fit a model with these parameter shapes."""
    try:
        groups = state["param_groups"]
        ok = (
            isinstance(groups, list) and len(groups) == 1 and isinstance(groups[0], dict)
            and groups[0].get("params") == list(range(len(shapes)))
            and isinstance(groups[0].get("lr"), (int, float)) and math.isfinite(groups[0]["lr"]) and groups[0]["lr"] > 0
        )
        for index, entry in state["state"].items():
            for name in ("exp_avg", "exp_avg_sq"):
                moment = entry[name]
                ok = ok and tuple(moment.shape) == shapes[index] and bool(torch.isfinite(moment).all())
    except (KeyError, TypeError, IndexError, AttributeError):
        ok = False
    if not ok:
        raise ConfigError("Cannot resume: the saved optimizer state does not fit this model (damaged?).")


def _check_resumable(resume: TrainedModel, corpus: Corpus, model_config: ModelConfig) -> None:
    if resume.vocab.keys != corpus.vocab.keys:
        raise ConfigError("Cannot resume: this corpus gives a different vocabulary than the saved model's.")
    if resume.model_config != model_config:
        raise ConfigError("Cannot resume: the model settings differ from the saved model's.")
