"""`nextword-tui eval` types the text with the learning the app does by default; --static gives the
network alone; --json has both. `train` leaves the learning setup in the model's folder."""

from __future__ import annotations

import json

from engine import learned_dir, load_model, load_setup, open_for_typing, resolve_model, save_typing
from tui.cli import main

CORPUS = "\n".join([
    "we met Anna at the market and talked about the weather .",
    "the market was busy and the weather was fine .",
    "I need to call the bank about my card .",
    "I need to pay the bill before Friday .",
    "the bank was closed on Friday .",
    "we talked about the card and the bill .",
] * 4 + ["Zanzibar called the bank about the weather ."])  # Zanzibar: only in the held-out part
# A few epochs on a tiny corpus are no better than guessing: kept all the same, for these tests.
TINY = ("--cell", "gru", "--epochs", "2", "--emb", "16", "--hidden", "16", "--batch-size", "4", "--bptt", "8", "--keep-diverged")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_eval_is_adaptive_by_default_and_static_on_request(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    typed = tmp_path / "typed.txt"
    typed.write_text("Zanzibar met Quimby at the bank . Quimby and Zanzibar paid the bill .\n", encoding="utf-8")
    code, _, err = run(capsys, "train", str(corpus), *TINY, "--name", "m", "--min-freq", "2")
    assert code == 0, err
    trained = load_model("m")
    setup = load_setup(resolve_model("m"), trained.vocab)
    assert setup is not None and "zanzibar" in setup.lexicon.keys()  # rare: under min_freq, still known
    assert not trained.vocab.contains("Zanzibar")
    assert trained.metrics["metrics_kind"].startswith("static, held-out")
    assert (learned_dir(resolve_model("m")) / "corpus.json").is_file()

    code, out, _ = run(capsys, "eval", "--model", "m", "--json", str(typed))
    both = json.loads(out)
    assert code == 0 and both["kind"] == "adaptive" and set(both["static"]) == set(both["adaptive"])
    assert both["ksr"] == both["adaptive"]["ksr"] and ("GRU" in both["blend"] or "3-gram" in both["blend"])
    assert both["adaptive"]["ksr"] > both["static"]["ksr"]  # "Zanzibar", then "Quimby", can be offered

    code, out, _ = run(capsys, "eval", "--model", "m", "--json", "--static", str(typed))
    static = json.loads(out)
    assert static["kind"] == "static" and "adaptive" not in static and static["ksr"] == both["static"]["ksr"]

    code, out, _ = run(capsys, "eval", "--model", "m", str(typed))
    assert out.startswith("adaptive (") and "static (network alone)" in out

    # The app's path: open for typing, learn, save, reopen; a damaged state is a note, not a failure.
    path = resolve_model("m")
    typing, note = open_for_typing(trained, path, online=False)
    assert note == "" and "zanzibar" in typing.learner.lexicon.keys()
    typing.learn("we met Quimby at the bank . Quimby paid . ")
    save_typing(typing, path)
    again, note = open_for_typing(load_model("m"), path, online=False)
    assert note == "" and [s.word for s in again.suggest("I saw Qui")] == ["Quimby"]
    (learned_dir(path) / "learned.json").write_text("{damaged", encoding="utf-8")
    fresh, note = open_for_typing(load_model("m"), path, online=False)
    assert "damaged" in note and fresh.suggest("I saw Qui") == [] and fresh.suggest("the ")
