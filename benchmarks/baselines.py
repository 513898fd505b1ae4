"""Reference training-speed baselines for word-level next-word language models.

Two baselines train the same model on the same data and report tokens per second:

* ``plain_torch_tokens_per_s``: the minimal eager PyTorch loop (float32, default threads).
* ``keras_tokens_per_s``: the same model in Keras 3 on TensorFlow (stateful RNN layer).

Model: Embedding(V, 200) -> one recurrent layer of 200 units (``rnn`` = tanh Elman RNN, ``lstm``,
``gru``) -> Linear(200, V). Data: batch 20 x 35 tokens, truncated BPTT with the hidden state
carried from chunk to chunk and cut from the graph (detached) between chunks. Adam (lr 1e-3),
cross-entropy over every position, global gradient-norm clipping at 0.25.

The Keras baseline is optional. TensorFlow must not be installed into the project's virtualenv
(it would fight over numpy/protobuf versions with the rest of the project), so put it in a venv of
its own and point this module at that interpreter:

    python3 -m venv /tmp/kerasvenv
    /tmp/kerasvenv/bin/pip install tensorflow-cpu numpy
    export NEXTWORD_KERAS_PYTHON=/tmp/kerasvenv/bin/python    # or pass python=... below

``keras_tokens_per_s`` then runs this very file under that interpreter (``--keras`` mode); when
TensorFlow is importable in the current process it runs in-process instead. This file imports
neither torch nor tensorflow at module level, so the same file works in both environments.

Data helpers: ``load_ids`` reads a text file (whitespace tokens, ``<eos>`` after every line; vocab of
words seen at least twice, capped at 12k, the rest mapped to ``<unk>``). On WikiText-2 valid.txt that
rule gives 9,211 words; ``load_ids(min_freq=1)`` gives the full 12,000. The vocabulary size matters
more than it seems for the plain loop: at V=12,000 the (700, V) float32 logits are 33.6 MB, just over
glibc's 32 MB mmap ceiling, so every such tensor is fresh mmap'd memory and page-faults on first touch
(about -35% tokens/s for the plain loop compared to V=9,211).

Command line (quick check):

    .venv/bin/python benchmarks/baselines.py --seconds 10            # plain torch, all cells
    .venv/bin/python benchmarks/baselines.py --seconds 10 --with-keras
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

CELLS = ("rnn", "lstm", "gru")
DEFAULT_CORPUS = Path("/work/shared/corpora/wikitext-2/valid.txt")
KERAS_PYTHON_ENV = "NEXTWORD_KERAS_PYTHON"
DEFAULT_KERAS_PYTHON = Path("/tmp/kerasvenv/bin/python")

EMBED = 200
HIDDEN = 200
BATCH = 20
BPTT = 35
LR = 1e-3
CLIP = 0.25

UNK, EOS = "<unk>", "<eos>"


# ----------------------------------------------------------------------------------------- data


def whitespace_tokens(text: str) -> list[str]:
    """Whitespace tokens with ``<eos>`` after every non-empty line (the WikiText convention)."""
    tokens: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if words:
            tokens.extend(words)
            tokens.append(EOS)
    return tokens


def build_vocab(tokens: list[str], min_freq: int = 2, max_vocab: int = 12000) -> dict[str, int]:
    """word -> id; 0 is ``<unk>``, 1 is ``<eos>``, then words by falling count (ties by spelling)."""
    counts = Counter(t for t in tokens if t not in (UNK, EOS))
    kept = sorted((w for w, c in counts.items() if c >= min_freq), key=lambda w: (-counts[w], w))
    words = [UNK, EOS] + kept[: max_vocab - 2]
    return {w: i for i, w in enumerate(words)}


def encode(tokens: list[str], vocab: dict[str, int]) -> np.ndarray:
    return np.fromiter((vocab.get(t, 0) for t in tokens), dtype=np.int64, count=len(tokens))


def load_ids(
    path: str | Path = DEFAULT_CORPUS,
    min_freq: int = 2,
    max_vocab: int = 12000,
    vocab: dict[str, int] | None = None,
) -> tuple[np.ndarray, dict[str, int]]:
    """Token ids of a text file and the vocabulary used (built from the file unless given)."""
    tokens = whitespace_tokens(Path(path).read_text(encoding="utf-8"))
    if vocab is None:
        vocab = build_vocab(tokens, min_freq, max_vocab)
    return encode(tokens, vocab), vocab


def batchify(ids: np.ndarray, batch: int = BATCH) -> np.ndarray:
    """Cut the token stream into ``batch`` parallel streams: array (steps, batch), column j is stream j."""
    ids = np.asarray(ids, dtype=np.int64)
    n = len(ids) // batch
    if n < 2:
        raise ValueError(f"Need at least {2 * batch} tokens, got {len(ids)}.")
    return np.ascontiguousarray(ids[: n * batch].reshape(batch, n).T)


def chunk_starts(n_steps: int, bptt: int = BPTT) -> list[int]:
    """Start rows of the full-length chunks (inputs rows i..i+bptt, targets one row later)."""
    return list(range(0, n_steps - 1 - bptt + 1, bptt))


# ---------------------------------------------------------------------------------- plain torch


def make_torch_model(cell: str, vocab_size: int, embed: int = EMBED, hidden: int = HIDDEN):
    """Embedding -> nn.RNN/LSTM/GRU (seq-first) -> Linear; float32."""
    import torch.nn as nn

    rnn_cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]

    class WordLM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embed)
            self.rnn = rnn_cls(embed, hidden, num_layers=1, batch_first=False)
            self.out = nn.Linear(hidden, vocab_size)

        def forward(self, x, hidden=None):
            h, hidden = self.rnn(self.embed(x), hidden)
            return self.out(h), hidden

    return WordLM()


def detach_hidden(hidden):
    if hidden is None:
        return None
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)
    return hidden.detach()


def plain_torch_tokens_per_s(
    cell: str,
    ids,
    vocab_size: int,
    seconds: float = 20.0,
    warmup_steps: int = 5,
    batch: int = BATCH,
    bptt: int = BPTT,
    clip: float = CLIP,
    seed: int = 0,
) -> float:
    """Tokens/s of the minimal eager PyTorch training loop, timed for ``seconds`` after a warm-up.

    float32, torch.optim.Adam with its defaults (lr 1e-3), F.cross_entropy over all batch*bptt
    positions, clip_grad_norm_, hidden state carried and detached between chunks; thread settings
    are left as they are (torch's default: one thread per physical core).
    """
    import torch
    import torch.nn.functional as F

    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    torch.manual_seed(seed)
    data = torch.from_numpy(batchify(np.asarray(ids), batch))
    starts = chunk_starts(data.size(0), bptt)
    if not starts:
        raise ValueError("Not enough tokens for one chunk.")
    model = make_torch_model(cell, vocab_size)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    hidden = None
    step = 0

    def train_one() -> None:
        nonlocal hidden, step
        i = starts[step % len(starts)]
        if step % len(starts) == 0:
            hidden = None  # start of the stream again
        step += 1
        x, y = data[i : i + bptt], data[i + 1 : i + 1 + bptt]
        hidden = detach_hidden(hidden)
        opt.zero_grad()
        logits, hidden = model(x, hidden)
        loss = F.cross_entropy(logits.reshape(-1, vocab_size), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()

    for _ in range(warmup_steps):
        train_one()
    done = 0
    t0 = time.perf_counter()
    while True:
        train_one()
        done += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
    return done * batch * bptt / elapsed


# ---------------------------------------------------------------------------------------- keras


def _keras_in_process(cell: str, ids, vocab_size: int, seconds: float, warmup_steps: int,
                      batch: int, bptt: int, clip: float, jit_compile) -> float:
    """Keras 3 on TensorFlow. STATEFUL layer: the state of stream j after chunk k is the initial
    state of stream j in chunk k+1 (true truncated BPTT, like the torch loop); gradients stop at the
    chunk boundary because each train step is its own graph. Trained with ``model.fit`` over
    chunk-major rows (shuffle off), so rows j of consecutive batches continue the same stream."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras  # noqa: F401  (ImportError propagates to the caller)
    import tensorflow as tf

    tf.random.set_seed(0)
    layer_cls = {"rnn": keras.layers.SimpleRNN, "lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[cell]
    data = batchify(np.asarray(ids), batch)  # (steps, batch)
    starts = chunk_starts(data.shape[0], bptt)
    # rows ordered chunk-major: batch k of fit() = chunk k, row j = stream j
    xs = np.concatenate([data[i : i + bptt].T for i in starts]).astype(np.int32)
    ys = np.concatenate([data[i + 1 : i + 1 + bptt].T for i in starts]).astype(np.int32)

    inp = keras.Input(shape=(bptt,), batch_size=batch, dtype="int32")
    h = keras.layers.Embedding(vocab_size, EMBED)(inp)
    h = layer_cls(HIDDEN, return_sequences=True, stateful=True)(h)
    out = keras.layers.Dense(vocab_size)(h)
    model = keras.Model(inp, out)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=LR, global_clipnorm=clip),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )

    class Timer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.t0 = None
            self.timed = 0
            self.elapsed = 0.0

        def on_train_batch_end(self, b, logs=None):
            now = time.perf_counter()
            if b + 1 == warmup_steps:
                self.t0 = now
            elif self.t0 is not None:
                self.timed += 1
                self.elapsed = now - self.t0
                if self.elapsed >= seconds:
                    self.model.stop_training = True

    timer = Timer()
    n = len(starts)
    while timer.t0 is None or timer.elapsed < seconds:
        # one epoch = one pass over the stream; the layer state is reset at its start, as in torch
        for layer in model.layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()
        model.fit(xs, ys, batch_size=batch, epochs=1, shuffle=False, verbose=0,
                  steps_per_epoch=n, callbacks=[timer])
        if timer.t0 is not None and timer.elapsed >= seconds:
            break
        warmup_steps = -1  # the warm-up happened in the first pass
    return timer.timed * batch * bptt / timer.elapsed


def keras_tokens_per_s(
    cell: str,
    ids,
    vocab_size: int,
    seconds: float = 20.0,
    warmup_steps: int = 5,
    batch: int = BATCH,
    bptt: int = BPTT,
    clip: float = CLIP,
    python: str | os.PathLike | None = None,
    jit_compile="auto",
) -> float:
    """Tokens/s of the same model trained with Keras (stateful SimpleRNN/LSTM/GRU, Adam with global
    norm clipping, sparse categorical cross-entropy from logits), timed after a warm-up.

    Runs in-process when TensorFlow/Keras import here; otherwise in a subprocess under ``python``,
    $NEXTWORD_KERAS_PYTHON or /tmp/kerasvenv/bin/python. Raises ImportError when none of these has
    TensorFlow (see the module docstring for how to install it).
    """
    if cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {cell!r}")
    args = (cell, ids, vocab_size, seconds, warmup_steps, batch, bptt, clip, jit_compile)
    if python is None:
        try:
            import keras  # noqa: F401
            import tensorflow  # noqa: F401
        except ImportError:
            pass
        else:
            return _keras_in_process(*args)
        python = os.environ.get(KERAS_PYTHON_ENV) or (
            DEFAULT_KERAS_PYTHON if DEFAULT_KERAS_PYTHON.exists() else None
        )
    if python is None or not Path(python).exists():
        raise ImportError(
            "The Keras baseline needs TensorFlow, which is not installed here. Install it into a "
            "separate venv (python3 -m venv /tmp/kerasvenv && /tmp/kerasvenv/bin/pip install "
            f"tensorflow-cpu numpy) and set {KERAS_PYTHON_ENV} to its python."
        )
    with tempfile.TemporaryDirectory() as tmp:
        ids_path = Path(tmp) / "ids.npy"
        np.save(ids_path, np.asarray(ids, dtype=np.int64))
        cmd = [str(python), str(Path(__file__).resolve()), "--keras-worker", cell, str(ids_path),
               str(vocab_size), str(seconds), str(warmup_steps), str(batch), str(bptt), str(clip),
               json.dumps(jit_compile)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode == 3:
        raise ImportError(f"TensorFlow/Keras could not be imported by {python}: {proc.stdout.strip()}")
    if proc.returncode != 0:
        raise RuntimeError(f"The Keras baseline failed:\n{proc.stderr[-3000:]}")
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["tokens_per_s"])


def _keras_worker(argv: list[str]) -> int:
    cell, ids_path, vocab_size, seconds, warmup, batch, bptt, clip, jit = argv
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError as exc:
        print(exc)
        return 3
    tps = _keras_in_process(cell, np.load(ids_path), int(vocab_size), float(seconds), int(warmup),
                            int(batch), int(bptt), float(clip), json.loads(jit))
    print(json.dumps({"tokens_per_s": tps}))
    return 0


# ----------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--keras-worker":
        return _keras_worker(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--with-keras", action="store_true")
    args = parser.parse_args(argv)
    ids, vocab = load_ids(args.corpus)
    print(f"{len(ids)} tokens, vocab {len(vocab)}")
    for cell in args.cells.split(","):
        line = f"{cell:5s} plain torch {plain_torch_tokens_per_s(cell, ids, len(vocab), args.seconds):8.0f} tok/s"
        if args.with_keras:
            try:
                line += f"   keras {keras_tokens_per_s(cell, ids, len(vocab), args.seconds):8.0f} tok/s"
            except ImportError as exc:
                line += f"   keras unavailable ({exc})"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
