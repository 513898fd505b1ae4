"""The CLI's conventions (issue 11 item 6, issue 12 items 7 and 8): --version, --help that
documents FILE and every flag's default, one-line usage errors, unknown commands, no app without
a terminal, and output failures as one line and an exit status (handled once, in main)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tui.cli import main

REPO = Path(__file__).resolve().parents[1]
CORPUS = "how are you doing today\nthe cat sat on the mat\ncafé au lait is good\n" * 5
# A few epochs on a tiny corpus are no better than guessing: kept all the same, for these tests.
TINY = ["--emb", "16", "--hidden", "16", "--epochs", "2", "--cell", "gru", "--keep-diverged"]


def cli(*argv: str, home: Path, stdout=subprocess.PIPE, env: dict | None = None, cwd: Path | None = None):
    """The real command in a subprocess (output failures need real file descriptors)."""
    environment = {"NEXTWORD_HOME": str(home), "PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(REPO),
                   **(env or {})}
    return subprocess.run([sys.executable, "-m", "tui.cli", *argv], stdout=stdout, stderr=subprocess.PIPE,
                          stdin=subprocess.DEVNULL, text=True, env=environment, cwd=cwd or home.parent)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """A data folder with one tiny model, "tiny" (trained once for this file), and its corpus."""
    root = tmp_path_factory.mktemp("cli")
    corpus = root / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    proc = cli("train", str(corpus), *TINY, "--name", "tiny", home=root / "home")
    assert proc.returncode == 0, proc.stderr
    return root / "home", corpus


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


def test_version(capsys) -> None:
    assert main(["--version"]) == 0
    assert re.fullmatch(r"nextword-tui \S+\n", capsys.readouterr().out)


def test_help_documents_file_and_every_flag_has_help_and_a_default(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "nextword-tui [FILE]" in capsys.readouterr().out
    for command in ("train", "predict", "continue", "eval", "compare"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        options = capsys.readouterr().out.split("options:")[1]
        # One entry per flag: "  --name VALUE  help text..." up to the next flag.
        for entry in re.split(r"\n  (?=-)", options)[1:]:
            flag = entry.split()[0]
            if flag in ("-h,", "--model"):
                continue
            assert len(entry.split()) > 2, f"{command} {flag} has no help"
            assert "default" in entry, f"{command} {flag} does not say its default: {entry!r}"


def test_a_bad_value_is_one_line_and_the_cli_reads_numbers_as_the_app_does(capsys) -> None:
    with pytest.raises(SystemExit) as exit:
        main(["train", "corpus.txt", "--hidden", "abc"])
    assert exit.value.code == 2
    line = one_error_line(capsys.readouterr().err)
    assert "--hidden" in line and "'abc' is not a number" in line and "--help" in line
    with pytest.raises(SystemExit):
        main(["train", "corpus.txt", "--layers", "1.5"])
    assert "'1.5' is not a whole number" in one_error_line(capsys.readouterr().err)
    from tui.cli import build_parser

    args = build_parser().parse_args(["train", "c.txt", "--hidden", "1e3", "--emb", "1,000", "--max-time", "off"])
    assert (args.hidden, args.emb, args.max_time) == (1000, 1000, None)  # as the settings form reads them


@pytest.mark.parametrize("name, hint", [("frobnicate", "commands: train"), ("trian", "did you mean 'train'?")])
def test_an_unknown_command_is_refused_not_opened_as_a_new_file(name, hint, tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([name]) == 2
    line = one_error_line(capsys.readouterr().err)
    assert f"unknown command '{name}'" in line and hint in line
    assert not (tmp_path / name).exists()


def test_the_app_refuses_to_start_without_a_terminal(tmp_path) -> None:
    (tmp_path / "notes.txt").write_text("hello\n")
    proc = cli("notes.txt", home=tmp_path / "home", cwd=tmp_path)
    assert proc.returncode == 2
    assert "needs a terminal" in one_error_line(proc.stderr)


def test_a_closed_pipe_is_one_line_and_141(trained) -> None:
    """`models --json | head -c 100`, made deterministic: the reading end is closed before any write."""
    home, _ = trained
    read, write = os.pipe()
    os.close(read)
    try:
        proc = cli("models", "--json", home=home, stdout=write)
    finally:
        os.close(write)
    assert proc.returncode == 141
    assert "broken pipe" in one_error_line(proc.stderr)


def test_an_output_encoding_without_the_word_is_one_line_and_1(trained) -> None:
    home, _ = trained
    proc = cli("predict", "--model", "tiny", "caf", home=home, env={"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 1
    assert "cannot show" in one_error_line(proc.stderr)
    proc = cli("predict", "--model", "tiny", "--json", "caf", home=home, env={"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["word"] == "café"  # JSON escapes it


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full here")
def test_a_full_disk_for_the_output_is_one_line_and_1(trained) -> None:
    home, corpus = trained
    with open("/dev/full", "w") as full:
        for argv in (["predict", "--model", "tiny", "how "], ["train", str(corpus), *TINY]):
            proc = cli(*argv, home=home, stdout=full)
            assert proc.returncode == 1, argv
            last = proc.stderr.strip().splitlines()[-1]
            assert "No space left" in last and "Traceback" not in proc.stderr, argv


def test_continue_writes_on_from_a_prompt(trained) -> None:
    home, _ = trained
    proc = cli("continue", "--model", "tiny", "how are", "--words", "4", "--seed", "1", "--json", home=home)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["text"] == result["prompt"] + result["added"] and result["text"].startswith("how are ")
    assert 1 <= len(result["added"].split()) <= 4
    again = cli("continue", "--model", "tiny", "how are", "--words", "4", "--seed", "1", home=home)
    assert again.stdout.strip() == result["text"]  # the same seed, the same text
    bad = cli("continue", "--model", "tiny", "how", "--words", "0", home=home)
    assert bad.returncode == 2 and "--words" in one_error_line(bad.stderr)


def test_the_cli_and_the_settings_form_read_every_value_alike() -> None:
    """One parser (engine.parse_setting) for the flags and the app's settings form: the form took
    "1e3" where the CLI refused it."""
    from tui.cli import build_parser
    from tui.widgets.picker import MODEL_FIELDS, TRAIN_FIELDS

    train = next(a for a in build_parser()._subparsers._group_actions[0].choices.values() if a.prog.endswith("train"))
    flags = {action.dest: action.type for action in train._actions}

    def outcome(parse, text):
        try:
            return repr(parse(text))
        except Exception as exc:  # noqa: BLE001 - the kind of refusal is what is compared
            return str(exc).split(": ")[-1]

    for field in MODEL_FIELDS + TRAIN_FIELDS:
        for text in ("1000", "1,000", "1e3", "1.5", "abc", "0.25", "", "off", "nan"):
            assert outcome(field.parse, text) == outcome(flags[field.name], text), (field.name, text)


def test_a_diverged_perplexity_is_a_word_not_253_digits(capsys) -> None:
    """engine.format_perplexity, used for every perplexity the CLI prints."""
    from engine import format_perplexity

    assert [format_perplexity(v) for v in (12.345, 2e6, math.inf, math.nan, None)] == [
        "12.35", "> 10^6", "diverged", "diverged", "-"]
    import io

    from engine import EpochEnd
    from tui.cli_progress import Reporter

    stream = io.StringIO()
    Reporter(stream)(EpochEnd(epoch=1, train_loss=580.0, valid_loss=583.0, valid_ppl=1e253, lr=10.0,
                              improved=True, elapsed=1.0, state_dict={}))
    assert "validation perplexity > 10^6," in stream.getvalue() and len(stream.getvalue()) < 120


def test_damaged_models_are_listed_with_the_reason(trained, tmp_path) -> None:
    """A damaged config.json was invisible: `models` said "No saved models yet"."""
    import shutil

    home = tmp_path / "home"
    shutil.copytree(trained[0] / "models" / "tiny", home / "models" / "broken")
    (home / "models" / "broken" / "config.json").write_text('{"model": {"cell": "lstm", "cell": "gru"}}')
    proc = cli("models", home=home)
    assert proc.returncode == 0 and "No usable saved models" in proc.stdout
    line = one_error_line(proc.stderr)
    assert "broken is damaged" in line and "config.json" in line
    listed = json.loads(cli("models", "--json", home=home).stdout)
    assert listed[0]["name"] == "broken" and "config.json" in listed[0]["damaged"]


def test_shell_completion_comes_from_the_same_parser(capsys) -> None:
    assert main(["--print-completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "continue" in script and "--max-time" in script and "--temperature" in script
    assert main(["--print-completion", "cmd.exe"]) == 2
    assert "bash, zsh, tcsh" in one_error_line(capsys.readouterr().err)


def test_a_run_no_better_than_guessing_is_not_saved_unless_asked(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CORPUS, encoding="utf-8")
    home = tmp_path / "home"
    plain = [a for a in TINY if a != "--keep-diverged"]
    proc = cli("train", str(corpus), *plain, "--lr", "10", "--name", "wild", home=home)
    assert proc.returncode == 1
    assert "no better than guessing): not saved (use --keep-diverged" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (home / "models" / "wild").exists()
    kept = cli("train", str(corpus), *TINY, "--lr", "10", "--name", "wild", home=home)
    assert kept.returncode == 0, kept.stderr
    assert (home / "models" / "wild").is_dir()
