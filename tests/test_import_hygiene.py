"""The engine's layering: `import engine` is cheap, its torch-free names load without torch, and
nothing in the engine ever loads Textual. Each check runs in a fresh interpreter, since this test
process has long imported both."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

import engine

ROOT = Path(__file__).parent.parent
HEAVY = ("torch", "textual")
# Names the app reaches for before torch has loaded (the editor, the settings forms, the files).
TORCH_FREE = (
    "CELLS", "LABELS", "ModelConfig", "TrainConfig", "DataConfig", "parameter_shapes", "check_fits",
    "check_ngram_order", "NextwordError", "ConfigError", "CorpusError", "ModelFileError", "load_text",
    "decode_text", "fingerprint", "split_partial", "tokenize", "detokenize", "insertion", "key",
    "data_dir", "models_home", "fsync_dir", "atomic_write", "format_number", "format_bytes",
    "Predictor", "Suggestion", "apply_suggestion", "judge_saved", "compare_perplexity", "move_to_trash", "purge",
    "Progress", "EpochEnd", "Notice", "StopReason", "plan_split", "default_min_freq",
)


def loaded_after(code: str) -> list[str]:
    """The HEAVY modules present in sys.modules after running `code` in a fresh interpreter."""
    probe = f"import sys\n{code}\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_import_engine_loads_neither_torch_nor_textual():
    assert loaded_after("import engine") == []


def test_the_torch_free_names_load_no_torch_and_work():
    code = (
        f"from engine import {', '.join(TORCH_FREE)}\n"
        "config = ModelConfig(vocab_size=100, emb=8, hidden=8)\n"
        "config.validate(); TrainConfig().validate(); DataConfig().validate()\n"
        "check_fits(config, 20, 35)\n"
        "assert config.param_count() > 0 and split_partial('how ar') == ('how ', 'ar')\n"
        "import engine.errors, engine.paths, engine.textfile, engine.tokenizer, engine.config\n"
    )
    assert loaded_after(code) == []


def test_no_engine_name_loads_textual():
    code = "import engine\nfor name in engine.__all__: getattr(engine, name)\nassert 'torch' in sys.modules"
    assert loaded_after(code) == ["torch"]


def _imports(tree: ast.Module) -> Iterator[tuple[ast.stmt, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node, node.module or ""


def test_no_engine_module_imports_textual_or_the_app():
    """Textual and Rich nowhere in the engine, and the app (tui) nowhere either: not at a module's
    top level, not inside a function (the engine never depends on the app; torchrun starts
    `-m tui.cli train --distributed`)."""
    for path in sorted((ROOT / "engine").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for _node, name in _imports(tree):
            root = name.split(".")[0]
            assert root not in ("textual", "rich"), f"{path.name} imports {name}"
            assert root != "tui", f"{path.name} imports {name}"


def _type_checking_names() -> dict[str, str]:
    """name -> module of the `if TYPE_CHECKING:` imports in engine/__init__.py."""
    tree = ast.parse((ROOT / "engine" / "__init__.py").read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and getattr(n.test, "id", "") == "TYPE_CHECKING")
    return {alias.name: node.module for node in block.body if isinstance(node, ast.ImportFrom) for alias in node.names}


def test_what_type_checkers_see_is_what_loads():
    assert _type_checking_names() == engine._WHERE
    assert sorted(engine.__all__) == sorted(engine._WHERE)
    assert set(engine.__all__) <= set(dir(engine))


def test_every_public_name_is_its_modules_object_and_unknown_names_fail():
    for name, module in engine._WHERE.items():
        assert getattr(engine, name) is getattr(importlib.import_module(module), name), name
    with pytest.raises(AttributeError, match="no_such_name"):
        engine.no_such_name  # noqa: B018


def test_function_names_are_not_shadowed_by_modules():
    """A submodule called like a function it exports (engine.train was both) would replace the
    function on the package once imported; no exported name is a submodule's name."""
    modules = {path.stem for path in (ROOT / "engine").glob("*.py")}
    assert not set(engine.__all__) & modules
