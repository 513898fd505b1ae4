"""The headless CLI: train / predict / eval / models work on a tiny corpus, and bad input exits 2
with one readable line on stderr, never a traceback."""

import json
import subprocess
import sys

import pytest

from tui.cli import main

CORPUS = "hello how are you\nI am fine thank you\nhow about you\n" * 3
# A few epochs on a tiny corpus are no better than guessing: kept all the same, for these tests.
TINY = ["--emb", "16", "--hidden", "16", "--epochs", "3", "--cell", "gru", "--keep-diverged"]


@pytest.fixture
def corpus_file(tmp_path, monkeypatch):
    monkeypatch.setenv("NEXTWORD_HOME", str(tmp_path / "home"))
    path = tmp_path / "corpus.txt"
    path.write_text(CORPUS, encoding="utf-8")
    return path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_train_predict_eval_models(corpus_file, capsys):
    code, out, _ = run(capsys, "train", str(corpus_file), *TINY, "--name", "tiny", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["name"] == "tiny" and result["cell"] == "gru" and result["epochs"] == 3

    code, out, _ = run(capsys, "predict", "--model", "tiny", "-k", "3", "--json", "how ")
    assert code == 0
    suggestions = json.loads(out)
    assert len(suggestions) == 3 and all(0 < s["prob"] <= 1 for s in suggestions)

    code, out, _ = run(capsys, "predict", "--model", "tiny", "--json", "tha")
    assert [s["word"] for s in json.loads(out)] == ["thank"]

    code, out, _ = run(capsys, "eval", "--model", "tiny", "--json", str(corpus_file))
    assert code == 0
    metrics = json.loads(out)
    for name in ("perplexity", "top1", "top3", "top5", "ksr"):
        assert 0 <= metrics[name] <= (1 if name != "perplexity" else 1e9)
    assert metrics["tokens"] == 45

    code, out, _ = run(capsys, "models", "--json")
    assert [m["name"] for m in json.loads(out)] == ["tiny"]


def bad_inputs(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    (tmp_path / "spaces.txt").write_text("  \n\t\n")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    (tmp_path / "chinese.txt").write_text("我们今天去公园散步。天气很好。\n" * 5, encoding="utf-8")
    return {
        "missing": ["train", str(tmp_path / "nope.txt")],
        "empty": ["train", str(tmp_path / "empty.txt")],
        "whitespace": ["train", str(tmp_path / "spaces.txt")],
        "binary": ["train", str(tmp_path / "image.png")],
        "latin-1": ["train", str(tmp_path / "latin1.txt")],
        "no spaces (CJK)": ["train", str(tmp_path / "chinese.txt")],
        "directory": ["train", str(tmp_path)],
        "hidden 0": ["train", "CORPUS", "--hidden", "0"],
        "lr nan": ["train", "CORPUS", "--lr", "nan"],
        "epochs 0": ["train", "CORPUS", "--epochs", "0"],
        "dropout 1": ["train", "CORPUS", "--dropout", "1"],
        "huge model": ["train", "CORPUS", "--hidden", "8000", "--emb", "8000", "--layers", "8"],
        "bad name": ["train", "CORPUS", "--name", "../../x/"],
        "missing model": ["predict", "--model", "never-trained", "hello "],
        "bad k": ["predict", "--model", "never-trained", "-k", "0", "hello "],
    }


@pytest.mark.parametrize("case", [
    "missing", "empty", "whitespace", "binary", "latin-1", "no spaces (CJK)", "directory", "hidden 0",
    "lr nan", "epochs 0", "dropout 1", "huge model", "bad name", "missing model", "bad k",
])
def test_bad_input_exits_2_with_one_line(case, corpus_file, tmp_path, capsys):
    argv = [str(corpus_file) if a == "CORPUS" else a for a in bad_inputs(tmp_path)[case]]
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert lines[-1].startswith("nextword-tui: error: ")
    assert "Traceback" not in err and len(lines[-1]) > 30


def test_latin1_error_names_the_byte_and_offset(tmp_path, capsys):
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    _, _, err = run(capsys, "train", str(tmp_path / "latin1.txt"))
    assert "0xe9" in err and "offset 3" in err


def test_a_damaged_model_exits_2_from_the_real_command(corpus_file, tmp_path):
    assert main(["train", str(corpus_file), *TINY, "--name", "tiny"]) == 0
    weights = tmp_path / "home" / "models" / "tiny" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "predict", "--model", "tiny", "hello "],
                          capture_output=True, text=True, env={"NEXTWORD_HOME": str(tmp_path / "home"), "PATH": ""})
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "damaged" in proc.stderr and "Traceback" not in proc.stderr
