"""`nextword-tui models rename|rm|export|import`, and `train` never replacing a model
(issue 11, item 2)."""

from __future__ import annotations

import json

from engine import list_models, load_model, save_model, trashed
from tui.cli import main

CORPUS = "hello how are you\nI am fine thank you\nhow about you\n" * 3
# A few epochs on a tiny corpus are no better than guessing: kept all the same, for these tests.
TINY = ["--emb", "16", "--hidden", "16", "--epochs", "2", "--cell", "gru", "--json", "--keep-diverged"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_two_train_runs_save_two_models(home, tmp_path, capsys) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    names = []
    for _ in range(2):
        code, out, _ = run(capsys, "train", str(corpus), *TINY)
        assert code == 0
        names.append(json.loads(out)["name"])
    assert names[0] != names[1] and all(n.startswith("gru-") for n in names)
    assert {i.name for i in list_models()} == set(names)


def test_resume_needs_a_name(home, tmp_path, capsys) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    code, _, err = run(capsys, "train", str(corpus), *TINY, "--resume")
    assert code == 2 and "--resume needs --name" in err


def test_rename_rm_export_import(home, runs, tmp_path, capsys) -> None:
    save_model(runs["gru"].trained, "g")
    assert run(capsys, "models", "rename", "g", "mine")[0] == 0
    assert [i.name for i in list_models()] == ["mine"]

    code, out, _ = run(capsys, "models", "export", "mine", str(tmp_path / "out"))
    assert code == 0 and load_model(tmp_path / "out").model_config.cell == "gru"

    code, out, _ = run(capsys, "models", "import", str(tmp_path / "out"), "--name", "back")
    assert code == 0 and "back" in out

    code, out, _ = run(capsys, "models", "rm", "mine")
    assert code == 0 and "trash" in out
    assert [i.name for i in list_models()] == ["back"] and len(trashed("models")) == 1

    code, out, _ = run(capsys, "models", "--json")
    assert [m["name"] for m in json.loads(out)] == ["back"]


def test_errors_are_one_line_and_exit_2(home, runs, tmp_path, capsys) -> None:
    save_model(runs["gru"].trained, "g")
    save_model(runs["lstm"].trained, "h")
    for argv, words in ((["rename", "g", "h"], "already a model"), (["rm", "nope"], "No model"),
                        (["import", str(tmp_path)], "not a model folder"),
                        (["rename", "g", "bad/name"], "not a valid model name")):
        code, _, err = run(capsys, "models", *argv)
        assert code == 2 and words in err and len(err.strip().splitlines()) == 1, (argv, err)
    assert {i.name for i in list_models()} == {"g", "h"}
