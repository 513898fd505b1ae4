"""engine/store.py: model folders on disk. Round trips, atomic saves, listing, names, and refusing
every damaged or hostile folder with a ModelFileError (never running anything, never half-loading)."""

import builtins
import hashlib
import importlib
import json
import math
import os
import pickle
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from conftest import TINY_MODEL, TINY_TRAIN
from engine import (
    ModelConfig,
    ModelFileError,
    NextwordError,
    Predictor,
    TrainedModel,
    WordRNN,
    list_models,
    load_model,
    models_home,
    resolve_model,
    save_model,
    train,
)

store = importlib.import_module("engine.store")

FILES = {"config.json", "vocab.json", "model.safetensors", "optimizer.safetensors"}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def fresh(corpus, **settings) -> TrainedModel:
    """An untrained model (random weights) for the tiny corpus: quick to make in any shape."""
    config = ModelConfig(**{**TINY_MODEL, "vocab_size": len(corpus.vocab), **settings})
    torch.manual_seed(0)
    state = {k: v.detach().clone() for k, v in WordRNN(config).state_dict().items()}
    return TrainedModel(config, TINY_TRAIN, corpus.config, corpus.vocab, state, metrics={"valid_loss": 1.5})


def tree(root: Path) -> dict[str, bytes | None]:
    """Every file and folder under root with its content, to prove that nothing changed."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


# -- round trips ------------------------------------------------------------------------------------------


def test_save_load_round_trip_gives_identical_predictions(run, home):
    trained = run.trained
    path = save_model(trained, "model-1")
    assert path == home / "model-1"
    assert {p.name for p in path.iterdir()} == FILES
    loaded = load_model("model-1")
    assert loaded.model_config == trained.model_config
    assert loaded.train_config == trained.train_config
    assert loaded.data_config == trained.data_config
    assert loaded.vocab.keys == trained.vocab.keys and loaded.vocab.display == trained.vocab.display
    assert loaded.metrics == trained.metrics
    assert loaded.history == trained.history
    assert loaded.corpus_fingerprint == trained.corpus_fingerprint
    assert same_weights(loaded.state_dict, trained.state_dict)
    assert loaded.optimizer_state is None  # only loaded when asked for
    before, after = Predictor(trained.language_model()), Predictor(loaded.language_model())
    size = len(trained.vocab)
    for text in ["", "the cat ", "the cat sat on the m", "Alice has a ", "zebra\nthe dog "]:
        assert after.suggest(text, k=size) == before.suggest(text, k=size)
    assert after.continue_text("the ", seed=1) == before.continue_text("the ", seed=1)


@pytest.mark.parametrize(
    "settings",
    [{"cell": "lstm", "tied": False, "emb": 8, "hidden": 12, "layers": 2}, {"cell": "rnn", "layers": 3}, {"cell": "gru", "tied": True}],
)
def test_round_trip_of_other_shapes(tiny_corpus, home, settings):
    trained = fresh(tiny_corpus, **settings)
    loaded = load_model(save_model(trained, "shape"))  # a path works as well as a name
    assert loaded.model_config == trained.model_config
    assert same_weights(loaded.state_dict, trained.state_dict)
    model = loaded.build_model()
    assert (model.decoder.weight is model.embed.weight) == trained.model_config.tied


def test_load_with_optimizer_resumes_exactly_like_in_memory(tiny_corpus, home):
    model, config = ModelConfig(cell="gru", **TINY_MODEL), replace(TINY_TRAIN, epochs=1)
    first = train(tiny_corpus, model, config)
    save_model(first, "first")  # before any resume: see test_train's resume-aliasing bug
    loaded = load_model("first", with_optimizer=True)
    assert loaded.optimizer_state is not None
    from_disk = train(tiny_corpus, model, config, resume=loaded)
    in_memory = train(tiny_corpus, model, config, resume=first)
    assert same_weights(from_disk.state_dict, in_memory.state_dict)


def test_optimizer_state_of_a_one_unit_model_round_trips(home):
    from engine import Corpus, TrainConfig

    corpus = Corpus.from_text("hello world there\n")
    trained = train(corpus, ModelConfig(cell="rnn", emb=1, hidden=1), TrainConfig(epochs=1, batch_size=2, bptt=4))
    save_model(trained, "one-unit")
    loaded = load_model("one-unit", with_optimizer=True)
    assert loaded.optimizer_state is not None


# -- atomic saves -------------------------------------------------------------------------------------


def test_save_leaves_no_temporary_folders_and_replaces_an_old_model(tiny_corpus, home):
    old = fresh(tiny_corpus, cell="lstm")
    new = fresh(tiny_corpus, cell="gru", emb=16, hidden=16)
    save_model(old, "m")
    assert [p.name for p in home.iterdir()] == ["m"]
    save_model(new, "m")
    assert [p.name for p in home.iterdir()] == ["m"]  # no staging (.m.*.new) or old (.m.*.old) folder left
    assert {p.name for p in (home / "m").iterdir()} == {"config.json", "vocab.json", "model.safetensors"}
    loaded = load_model("m")
    assert loaded.model_config == new.model_config
    assert same_weights(loaded.state_dict, new.state_dict)


def test_a_failed_save_keeps_the_old_model(tiny_corpus, home, monkeypatch):
    old = fresh(tiny_corpus, cell="lstm")
    save_model(old, "m")
    real_replace = os.replace

    def replace_fails_for_the_new_folder(src, dst):
        if str(src).endswith(".new"):
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_fails_for_the_new_folder)
    with pytest.raises(NextwordError):
        save_model(fresh(tiny_corpus, cell="gru"), "m")
    monkeypatch.setattr(os, "replace", real_replace)
    assert same_weights(load_model("m").state_dict, old.state_dict)
    assert [p.name for p in home.iterdir()] == ["m"]


def test_save_to_an_unwritable_place_is_a_nextword_error(tiny_corpus, tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NEXTWORD_HOME", str(blocker))
    with pytest.raises(NextwordError):
        save_model(fresh(tiny_corpus), "m")


def test_a_model_with_an_infinite_validation_loss_in_its_history_can_be_saved(tiny_corpus, home):
    trained = fresh(tiny_corpus)
    trained = replace(trained, history=[{"epoch": 1, "train_loss": 2.0, "valid_loss": math.inf, "valid_ppl": math.inf}])
    try:
        save_model(trained, "m")
    except NextwordError:
        pass


# -- listing ------------------------------------------------------------------------------------------------


def test_list_models_lists_saved_models_newest_first_and_skips_broken_folders(tiny_corpus, home):
    save_model(fresh(tiny_corpus, cell="lstm"), "older")
    save_model(fresh(tiny_corpus, cell="rnn", layers=2), "newer")
    (home / "garbage").mkdir()
    (home / "garbage" / "config.json").write_bytes(b"{not json")
    (home / "empty").mkdir()
    (home / "no-config").mkdir()
    (home / "no-config" / "vocab.json").write_text("{}")
    (home / "notes.txt").write_text("a file, not a model")
    (home / ".staging").mkdir()
    for name in ("config.json", "vocab.json", "model.safetensors"):
        (home / ".staging" / name).write_bytes((home / "older" / name).read_bytes())
    bad_cell = json.loads((home / "older" / "config.json").read_text())
    bad_cell["model"]["cell"] = "transformer"
    (home / "bad-cell").mkdir()
    (home / "bad-cell" / "config.json").write_text(json.dumps(bad_cell))

    infos = list_models()
    assert [i.name for i in infos] == ["newer", "older"]
    newer = infos[0]
    assert newer.path == home / "newer"
    assert newer.cell == "rnn"
    assert newer.params == fresh(tiny_corpus, cell="rnn", layers=2).model_config.param_count()
    assert newer.metrics == {"valid_loss": 1.5}
    assert newer.saved_at >= infos[1].saved_at


def test_list_models_without_a_models_folder(home):
    assert not home.exists()
    assert list_models() == []


def test_list_models_skips_a_folder_with_impossible_settings(tiny_corpus, home):
    save_model(fresh(tiny_corpus), "good")
    config = json.loads((home / "good" / "config.json").read_text())
    config["model"]["layers"] = 10**6
    (home / "huge").mkdir()
    (home / "huge" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError):
        load_model("huge")
    assert [i.name for i in list_models()] == ["good"]


# -- names -------------------------------------------------------------------------------------------------


def test_resolve_model_names_and_paths(home, tmp_path):
    assert resolve_model("my-gru_2.v1") == models_home() / "my-gru_2.v1" == home / "my-gru_2.v1"
    assert resolve_model(str(tmp_path / "elsewhere")) == tmp_path / "elsewhere"


@pytest.mark.parametrize("name", [".hidden", "-x", "a b", "x" * 65, "what?", "tab\tname", "nul\x00name"])
def test_resolve_model_refuses_bad_names(home, name):
    with pytest.raises(ModelFileError):
        resolve_model(name)


def test_a_relative_path_is_a_path_not_a_name(home):
    # A name never leaves models_home; anything with a '/' is the user's own path to a folder.
    assert resolve_model("../x") == Path("../x")
    assert resolve_model("x") == home / "x"


@pytest.mark.parametrize("name", ["..", ".", ""])
def test_resolve_model_refuses_dot_names(home, name):
    with pytest.raises(ModelFileError):
        resolve_model(name)


def test_a_name_matching_a_folder_in_the_working_directory_stays_in_models_home(tiny_corpus, home):
    notes = Path.cwd() / "notes"  # the home fixture made the working directory a fresh tmp folder
    notes.mkdir()
    (notes / "diary.txt").write_text("precious")
    try:
        assert resolve_model("notes") == home / "notes"
    finally:
        save_model(fresh(tiny_corpus), "notes")
        assert (notes / "diary.txt").exists(), "the user's folder was replaced by the model"


# -- damaged and hostile folders -------------------------------------------------------------------------


@pytest.fixture
def folder(runs, home) -> Path:
    """A freshly saved copy of the session's GRU, named 'm', ready to be damaged."""
    return save_model(runs["gru"].trained, "m")


def read_config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def write_config(folder: Path, config: dict) -> None:
    (folder / "config.json").write_text(json.dumps(config))  # allow_nan: NaN is written as NaN


def rewrite(folder: Path, name: str, data: bytes, checksum: bool = True) -> None:
    """Replace a file; with checksum=True also fix its checksum, as a careful attacker would."""
    (folder / name).write_bytes(data)
    if checksum:
        config = read_config(folder)
        config["sha256"][name] = hashlib.sha256(data).hexdigest()
        write_config(folder, config)


def refused(folder: Path, **kwargs) -> str:
    """Loading fails with a ModelFileError and changes nothing on disk; returns the message."""
    home = folder.parent
    before = tree(home)
    with pytest.raises(ModelFileError) as err:
        load_model(folder.name, **kwargs)
    assert tree(home) == before
    return str(err.value)


def weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_safetensors((folder / "model.safetensors").read_bytes())


def test_the_undamaged_folder_loads(folder):
    load_model("m", with_optimizer=True)


class OpenFile:
    """Unpickling this calls open(path, 'w'): it creates a marker file."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (builtins.open, (self.path, "w"))


class ShellTouch:
    """Unpickling this runs a shell command that creates a marker file."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch '{self.path}'",))


@pytest.mark.parametrize("force_unsafe_torch_load", [False, True])
@pytest.mark.parametrize("payload", [OpenFile, ShellTouch])
@pytest.mark.parametrize("packing", ["pickle", "torch.save"])
def test_a_malicious_pickle_renamed_to_model_safetensors_never_runs(folder, tmp_path, monkeypatch, payload, packing,
                                                                     force_unsafe_torch_load):
    proof = tmp_path / "proof"
    pickle.loads(pickle.dumps(payload(proof)))  # the payload is live: unpickling it makes a file
    assert proof.exists()

    marker = tmp_path / "pwned"
    if packing == "pickle":
        data = pickle.dumps({"embed.weight": payload(marker)})
    else:
        torch.save({"embed.weight": payload(marker)}, tmp_path / "evil.pt")
        data = (tmp_path / "evil.pt").read_bytes()
    if force_unsafe_torch_load:
        monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    rewrite(folder, "model.safetensors", data)  # with a matching checksum
    refused(folder)
    assert not marker.exists()


def test_a_malicious_pickle_as_the_optimizer_never_runs(folder, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    rewrite(folder, "optimizer.safetensors", pickle.dumps(OpenFile(marker)))
    refused(folder, with_optimizer=True)
    assert not marker.exists()


@pytest.mark.parametrize("checksum", [False, True], ids=["checksum-kept", "checksum-fixed"])
@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: data[:-1],
        lambda data: data + b"\x00" * 16,
        lambda data: data[:5],
        lambda data: (10**12).to_bytes(8, "little") + data[8:],  # header length far beyond the file
        lambda data: b"\xff" * len(data),
    ],
    ids=["zero-byte", "half", "one-byte-short", "padded", "five-bytes", "huge-header", "all-ff"],
)
def test_damaged_weights_are_refused(folder, damage, checksum):
    data = (folder / "model.safetensors").read_bytes()
    rewrite(folder, "model.safetensors", damage(data), checksum=checksum)
    refused(folder)


@pytest.mark.parametrize("offset", [0, 50, -1, -100])
def test_a_flipped_bit_in_the_weights_fails_the_checksum(folder, offset):
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[offset] ^= 0x01
    rewrite(folder, "model.safetensors", bytes(data), checksum=False)
    assert "checksum" in refused(folder)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("tensor", ["embed.weight", "rnn.weight_hh_l0", "decoder.bias"])
def test_non_finite_weights_are_refused_even_with_a_matching_checksum(folder, bad, tensor):
    tensors = weights(folder)
    tensors[tensor].view(-1)[3] = bad
    rewrite(folder, "model.safetensors", save_safetensors(tensors))  # file AND checksum rewritten
    assert "NaN or infinite" in refused(folder)


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.pop("rnn.bias_hh_l0"),
        lambda t: t.update(extra=torch.zeros(2)),
        lambda t: t.update({"decoder.weight": t["embed.weight"].clone()}),  # tied: must not be stored
        lambda t: t.update({"decoder.bias": torch.zeros(5)}),
        lambda t: t.update({"embed.weight": t["embed.weight"].double()}),
        lambda t: t.update({"embed.weight": t["embed.weight"].half()}),
        lambda t: t.update({"rnn.weight_ih_l0": t["rnn.weight_ih_l0"].t().contiguous()}),
    ],
    ids=["missing", "extra", "untied-decoder", "wrong-size", "float64", "float16", "transposed"],
)
def test_weights_that_do_not_match_the_settings_are_refused(folder, change):
    tensors = weights(folder)
    change(tensors)
    rewrite(folder, "model.safetensors", save_safetensors(tensors))
    refused(folder)


@pytest.mark.parametrize("name", ["model.safetensors", "vocab.json", "config.json"])
def test_a_missing_file_is_refused(folder, name):
    (folder / name).unlink()
    refused(folder)


def test_a_damaged_optimizer_only_matters_when_asked_for(folder):
    rewrite(folder, "optimizer.safetensors", b"\x00" * 64)
    load_model("m")
    refused(folder, with_optimizer=True)


def _optimizer_tensor(change):
    def edit(folder: Path) -> None:
        tensors = load_safetensors((folder / "optimizer.safetensors").read_bytes())
        change(tensors)
        rewrite(folder, "optimizer.safetensors", save_safetensors(tensors))

    return edit


def _optimizer_json(change):
    def edit(folder: Path) -> None:
        config = read_config(folder)
        change(config["optimizer"])
        write_config(folder, config)

    return edit


OPTIMIZER_EDITS = {
    "lr-as-text": _optimizer_json(lambda o: o["param_groups"][0].update(lr="fast")),
    "too-few-params": _optimizer_json(lambda o: o["param_groups"][0].update(params=[0, 1])),
    "no-param-groups": _optimizer_json(lambda o: o.update(param_groups=[])),
    "wrong-moment-shape": _optimizer_tensor(lambda t: t.update({"0.exp_avg": torch.zeros(3)})),
    "nan-moment": _optimizer_tensor(lambda t: t["0.exp_avg_sq"].view(-1).__setitem__(0, math.nan)),
}


@pytest.mark.parametrize("edit", OPTIMIZER_EDITS.values(), ids=OPTIMIZER_EDITS.keys())
def test_a_bad_optimizer_state_is_refused(folder, edit):
    edit(folder)
    refused(folder, with_optimizer=True)


def test_a_missing_model_is_refused(home):
    with pytest.raises(ModelFileError):
        load_model("never-saved")


# config.json: edits of the parsed JSON (each must be refused)
CONFIG_EDITS = {
    "nan-metric": lambda c: c["metrics"].update(valid_loss=math.nan),
    "infinite-metric": lambda c: c["metrics"].update(valid_loss=math.inf),
    "nan-dropout": lambda c: c["model"].update(dropout=math.nan),
    "hidden-as-text": lambda c: c["model"].update(hidden="24"),
    "layers-as-float": lambda c: c["model"].update(layers=1.0),
    "tied-as-text": lambda c: c["model"].update(tied="yes"),
    "dropout-as-bool": lambda c: c["model"].update(dropout=True),
    "cell-as-number": lambda c: c["model"].update(cell=3),
    "absurd-hidden": lambda c: c["model"].update(hidden=10**9),
    "lr-as-text": lambda c: c["train"].update(lr="fast"),
    "negative-epochs": lambda c: c["train"].update(epochs=-1),
    "max-vocab-null": lambda c: c["data"].update(max_vocab=None),
    "schema-as-text": lambda c: c.update(schema="1"),
    "schema-as-bool": lambda c: c.update(schema=True),
    "no-schema": lambda c: c.pop("schema"),
    "newer-schema": lambda c: c.update(schema=c["schema"] + 1),
    "no-checksums": lambda c: c.pop("sha256"),
    "checksums-as-list": lambda c: c.update(sha256=[]),
    "no-weights-checksum": lambda c: c["sha256"].pop("model.safetensors"),
    "no-vocab-checksum": lambda c: c["sha256"].pop("vocab.json"),
    "model-as-list": lambda c: c.update(model=[]),
    "no-model": lambda c: c.pop("model"),
    "no-train": lambda c: c.pop("train"),
    "metrics-as-list": lambda c: c.update(metrics=[]),
    "history-as-object": lambda c: c.update(history={}),
    "fingerprint-as-number": lambda c: c.update(corpus_fingerprint=7),
    "unknown-model-key": lambda c: c["model"].update(attention=True),
    "unknown-train-key": lambda c: c["train"].update(momentum=0.9),
    "unknown-data-key": lambda c: c["data"].update(stemming=True),
    "vocab-size-plus-one": lambda c: c["model"].update(vocab_size=c["model"]["vocab_size"] + 1),
    "other-cell": lambda c: c["model"].update(cell="lstm"),
    "other-hidden": lambda c: c["model"].update(emb=16, hidden=16),
    "untied": lambda c: c["model"].update(tied=False),
}


@pytest.mark.parametrize("edit", CONFIG_EDITS.values(), ids=CONFIG_EDITS.keys())
def test_bad_config_json_is_refused(folder, edit):
    config = read_config(folder)
    edit(config)
    write_config(folder, config)
    refused(folder)


def test_newer_schema_says_to_upgrade(folder):
    config = read_config(folder)
    config["schema"] = 99
    write_config(folder, config)
    assert "newer" in refused(folder)


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b"\xff\xfe{}",
        b"[" * 100_000 + b"]" * 100_000,  # nesting deep enough to overflow the parser's recursion
    ],
    ids=["empty", "truncated", "list", "null", "not-utf8", "deeply-nested"],
)
def test_unreadable_config_json_is_refused(folder, text):
    (folder / "config.json").write_bytes(text)
    refused(folder)


def test_duplicate_keys_in_config_json_are_refused(folder):
    text = (folder / "config.json").read_text()
    (folder / "config.json").write_text(text.replace("{", '{"schema": 1, ', 1))
    assert json.loads((folder / "config.json").read_text())  # plain json would accept it
    refused(folder)


def test_duplicate_keys_in_vocab_json_are_refused(folder):
    text = (folder / "vocab.json").read_text()
    rewrite(folder, "vocab.json", text.replace("{", '{"lowercase": false, ', 1).encode())
    refused(folder)


def test_vocab_json_edited_without_its_checksum_is_refused(folder):
    vocab = json.loads((folder / "vocab.json").read_text())
    vocab["display"][2] = "EVIL"
    rewrite(folder, "vocab.json", json.dumps(vocab).encode(), checksum=False)
    assert "checksum" in refused(folder)


def test_a_vocabulary_that_does_not_match_the_weights_is_refused(folder):
    vocab = json.loads((folder / "vocab.json").read_text())
    for name, value in (("keys", "extra"), ("display", "extra"), ("counts", 1)):
        vocab[name].append(value)
    rewrite(folder, "vocab.json", json.dumps(vocab).encode())
    refused(folder)  # the vocabulary has one word more than config.json says
    config = read_config(folder)
    config["model"]["vocab_size"] += 1
    write_config(folder, config)
    refused(folder)  # now config and vocabulary agree, but the weights are one row short


@pytest.mark.parametrize(
    "vocab",
    [[], {"keys": ["<unk>", "<eos>"]}, {"lowercase": True, "keys": 1, "display": [], "counts": []}],
    ids=["list", "missing-fields", "keys-not-a-list"],
)
def test_malformed_vocab_json_is_refused(folder, vocab):
    rewrite(folder, "vocab.json", json.dumps(vocab).encode())
    refused(folder)


def test_an_interrupted_save_is_tidied_by_the_next_one(tiny_corpus, home):
    trained = train(tiny_corpus, ModelConfig(cell="gru", **TINY_MODEL), TINY_TRAIN)
    path = save_model(trained, "m")
    old = path.parent / ".m.999.old"
    os.replace(path, old)  # killed between the two renames: only the old model exists, hidden
    stale = path.parent / ".m.abc.new"
    stale.mkdir()
    for folder in (old, stale):
        os.utime(folder, (time.time() - 3600, time.time() - 3600))
    save_model(trained, "other")  # another model's save does not touch m's leftovers
    assert old.exists()
    store._clean_leftovers(path)
    assert path.is_dir() and not old.exists() and not stale.exists()
    load_model("m")
