"""Train a WordRNN as a real language model: every position predicts the next token, with
truncated backpropagation through time over batched token streams.

Front ends watch training through plain event dataclasses (`on_event`) and stop it through
`should_stop`, polled every batch; neither needs to know anything about threads or UIs.
"""

from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn.functional as F

from engine.config import ModelConfig, TrainConfig, check_fits
from engine.corpus import Corpus, batchify, fit_stream
from engine.errors import ConfigError, TrainingError
from engine.evaluation import evaluate, final_eval_text
from engine.fused_loss import fast_dtype, linear_cross_entropy
from engine.lm import NeuralLM
from engine.model import Hidden, WordRNN
from engine.trained import TrainedModel

EVENTS_PER_SECOND = 4
VALID_BATCH = 10
MAX_DIVERGENCES = 3


@dataclass(frozen=True)
class Progress:
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    fraction: float  # of the whole run, 0..1
    train_loss: float
    tokens_per_s: float
    lr: float
    elapsed: float
    eta: float | None  # seconds left, None until it can be estimated


@dataclass(frozen=True)
class EpochEnd:
    epoch: int
    train_loss: float
    valid_loss: float
    valid_ppl: float
    lr: float
    improved: bool
    elapsed: float
    state_dict: dict[str, torch.Tensor]  # a CPU copy of the newest weights, safe to use elsewhere


@dataclass(frozen=True)
class Notice:
    message: str


Event = Progress | EpochEnd | Notice


def default_threads() -> int:
    """All cores but one: a core left free keeps the UI and the machine responsive, and PyTorch's
    thread pool slows down many times over (measured 5-10x here) when one of its cores is busy."""
    return max(1, (os.cpu_count() or 2) - 1)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for, but no CUDA GPU is available here.")
    return torch.device(name)


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


def forward_loss(model: WordRNN, x: torch.Tensor, y: torch.Tensor, hidden: Hidden,
                 dtype: torch.dtype) -> tuple[torch.Tensor, Hidden]:
    """Training loss of one BPTT chunk, with the output layer fused into the loss (engine/fused_loss.py).

    In bf16 mode the LSTM's recurrence runs in bf16 too (measured 1.2x more, same learning curve);
    for RNN and GRU it gained nothing measurable, so they stay in float32.
    """
    emb = model.drop(model.embed(x))
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=dtype == torch.bfloat16 and model.config.cell == "lstm"):
        output, hidden = model.rnn(emb, hidden)
    output = model.drop(output.float())
    hidden = tuple(h.float() for h in hidden) if isinstance(hidden, tuple) else hidden.float()
    loss = linear_cross_entropy(
        output.reshape(-1, output.size(-1)), model.decoder.weight, model.decoder.bias, y.reshape(-1).long(), dtype
    )
    return loss, hidden


@torch.inference_mode()
def validation_loss(model: WordRNN, ids: torch.Tensor, bptt: int, max_tokens: int | None = None) -> float:
    """Mean cross-entropy per token over a validation stream."""
    if max_tokens is not None:
        ids = ids[: max_tokens + 1]
    batch = max(1, min(VALID_BATCH, (ids.numel() - 1) // 2))
    data = batchify(ids, batch).to(model.decoder.bias.device)
    was_training = model.training
    model.eval()
    hidden = model.init_hidden(batch)
    total, count = 0.0, 0
    for i in range(0, data.size(0) - 1, bptt):
        seq = min(bptt, data.size(0) - 1 - i)
        x, y = data[i : i + seq], data[i + 1 : i + 1 + seq]
        logits, hidden = model(x, hidden)
        total += F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), y.reshape(-1).long(), reduction="sum").item()
        count += y.numel()
    model.train(was_training)
    return total / max(count, 1)


def train(
    corpus: Corpus,
    model_config: ModelConfig,
    train_config: TrainConfig | None = None,
    on_event: Callable[[Event], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    resume: TrainedModel | None = None,
) -> TrainedModel:
    """Train a model on `corpus` and return the weights with the best validation loss."""
    config = train_config or TrainConfig()
    config.validate()
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(config.threads or default_threads())  # per calling thread (OpenMP)
    try:
        return _train(corpus, model_config, config, on_event, should_stop, resume)
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    corpus: Corpus,
    model_config: ModelConfig,
    config: TrainConfig,
    on_event: Callable[[Event], None] | None,
    should_stop: Callable[[], bool] | None,
    resume: TrainedModel | None,
) -> TrainedModel:
    model_config = replace(model_config, vocab_size=len(corpus.vocab))
    model_config.validate()
    emit = on_event or (lambda event: None)
    stop_requested = should_stop or (lambda: False)

    batch_size = config.batch_size
    check_fits(model_config, batch_size, config.bptt)
    stream, repeats = fit_stream(corpus.train_ids, batch_size, config.bptt)
    if repeats > 1:
        emit(Notice(f"Small corpus: each epoch reads the training text {repeats} times."))

    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    data = batchify(stream, batch_size).to(device)
    valid = corpus.valid_ids
    model = WordRNN(model_config).to(device)
    dtype = fast_dtype(device)
    lr = config.lr
    optimizer = make_optimizer(model, config, lr)
    history: list[dict] = []
    if resume is not None:
        _check_resumable(resume, corpus, model_config)
        model.load_state_dict(resume.state_dict)
        if resume.optimizer_state is not None:
            # A copy: the model resumed from keeps its own state, so resuming twice repeats a run.
            state = copy.deepcopy(resume.optimizer_state)
            check_optimizer_state(state, [tuple(p.shape) for p in model.parameters()])
            optimizer.load_state_dict(state)
            lr = optimizer.param_groups[0]["lr"]
        history = list(resume.history)

    steps_per_epoch = math.ceil((data.size(0) - 1) / config.bptt)
    total_steps = steps_per_epoch * config.epochs
    best_loss, best_state = math.inf, cpu_state(model)
    last_good = best_state  # state dicts here are CPU copies that nothing modifies
    bad_epochs = divergences = steps_done = tokens_seen = 0
    warned_worse_than_guessing = False
    stopped = "completed"
    started = last_event = time.perf_counter()

    for epoch in range(1, config.epochs + 1):
        model.train()
        hidden = model.init_hidden(batch_size)
        loss_sum, loss_count = 0.0, 0
        for step, i in enumerate(range(0, data.size(0) - 1, config.bptt), start=1):
            elapsed = time.perf_counter() - started
            if stop_requested():
                stopped = "cancelled"
                break
            if config.max_time is not None and steps_done > 0 and elapsed >= config.max_time:
                stopped = "time budget"
                break
            seq = min(config.bptt, data.size(0) - 1 - i)
            x, y = data[i : i + seq], data[i + 1 : i + 1 + seq]
            hidden = detach(hidden)
            loss, hidden = forward_loss(model, x, y, hidden, dtype)
            if not torch.isfinite(loss):
                divergences += 1
                if divergences > MAX_DIVERGENCES:
                    stopped = "diverged"
                    if history:
                        emit(Notice("Training diverged again and was stopped; the best weights so far are kept. "
                                    "Lower the learning rate and train again."))
                    break
                lr /= 2
                model.load_state_dict(last_good)
                optimizer = make_optimizer(model, config, lr)
                hidden = model.init_hidden(batch_size)
                emit(Notice(
                    f"The loss became {loss.item()} at epoch {epoch}, step {step}: restored the last good "
                    f"weights and halved the learning rate to {lr:.2g}. If this repeats, lower the learning rate."
                ))
                continue
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            optimizer.step()

            steps_done += 1
            tokens_seen += y.numel()
            loss_sum += loss.item() * y.numel()
            loss_count += y.numel()
            now = time.perf_counter()
            if now - last_event >= 1 / EVENTS_PER_SECOND or step == steps_per_epoch:
                last_event = now
                emit(_progress(config, epoch, step, steps_per_epoch, total_steps,
                               loss_sum / loss_count, tokens_seen, lr, now - started))
        if stopped == "diverged":
            break

        partial = stopped in ("cancelled", "time budget")
        if partial and (loss_count == 0 or history):
            break  # nothing new worth validating, or an earlier epoch already measured
        valid_loss = validation_loss(model, valid, config.bptt, max_tokens=20_000 if partial else None)
        if not math.isfinite(valid_loss):
            valid_loss = math.inf
        improved = valid_loss < best_loss
        if valid_loss > math.log(model_config.vocab_size) and not warned_worse_than_guessing:
            warned_worse_than_guessing = True
            emit(Notice(
                f"The model predicts worse than guessing (validation loss {valid_loss:.2f} > "
                f"{math.log(model_config.vocab_size):.2f}): the learning rate {config.lr} is probably too high."
            ))
        state = cpu_state(model)
        if improved:
            best_loss, best_state = valid_loss, state
            bad_epochs = 0
        else:
            bad_epochs += 1
        last_good = state if math.isfinite(valid_loss) else last_good
        train_loss = loss_sum / max(loss_count, 1)
        elapsed = time.perf_counter() - started
        history.append({
            "epoch": len(history) + 1,
            "train_loss": train_loss,
            "valid_loss": valid_loss,
            "valid_ppl": _ppl(valid_loss),
            "lr": lr,
            "elapsed": elapsed,
        })
        emit(EpochEnd(len(history), train_loss, valid_loss, _ppl(valid_loss), lr, improved, elapsed, state))
        if partial:
            break
        if bad_epochs >= config.patience:
            stopped = "early stopping"
            break
        if not improved:
            lr /= 2
            for group in optimizer.param_groups:
                group["lr"] = lr

    if best_loss == math.inf:
        if stopped == "diverged":
            raise TrainingError(
                f"Training diverged (the loss became NaN or infinite) with learning rate {config.lr}: "
                "lower it (for example to a tenth) and try again."
            )
        if stopped == "cancelled":
            raise TrainingError("Training was stopped before the model learned anything.")
    train_time = time.perf_counter() - started
    model.load_state_dict(best_state)
    final = final_metrics(best_state, model_config, corpus)
    metrics = {
        **final,
        "valid_loss": best_loss,
        "valid_ppl": _ppl(best_loss),
        "epochs": len(history),
        "steps": steps_done,
        "tokens_seen": tokens_seen,
        "train_time": train_time,
        "tokens_per_s": tokens_seen / train_time if train_time > 0 else 0.0,
        "stopped": stopped,
        "params": model_config.param_count(),
    }
    return TrainedModel(
        model_config=model_config,
        train_config=config,
        data_config=corpus.config,
        vocab=corpus.vocab,
        state_dict=best_state,
        metrics=metrics,
        history=history,
        corpus_fingerprint=corpus.fingerprint,
        optimizer_state=optimizer.state_dict(),
    )


def final_metrics(state: dict[str, torch.Tensor], config: ModelConfig, corpus: Corpus) -> dict:
    """Top-k accuracy and keystroke savings of the best weights on (the start of) the validation text."""
    model = WordRNN(config)
    model.load_state_dict(state)
    result = evaluate(NeuralLM(model, corpus.vocab), final_eval_text(corpus.valid_text))
    return {"top1": result.top1, "top3": result.top3, "top5": result.top5, "ksr": result.ksr}


def _ppl(loss: float) -> float:
    return math.exp(loss) if loss < 700 else math.inf


def _progress(config: TrainConfig, epoch: int, step: int, steps_per_epoch: int, total_steps: int,
              train_loss: float, tokens_seen: int, lr: float, elapsed: float) -> Progress:
    fraction = ((epoch - 1) * steps_per_epoch + step) / total_steps
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
