"""The app's layering: importing it loads neither torch nor the engine's torch modules (the first
frame must not wait ~1 s for them), and the app uses only the names `engine/__init__.py` exports.
The import check runs in a fresh interpreter, since this test process has long imported both."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import engine

ROOT = Path(__file__).parent.parent.parent


def modules_after(code: str) -> set[str]:
    """The modules in sys.modules after running `code` in a fresh interpreter."""
    probe = f"import sys\n{code}\nprint(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_importing_the_app_loads_no_torch_and_no_torch_backed_engine_module() -> None:
    loaded = modules_after("import tui.app")
    torch_backed = {module for module, names in engine._EXPORTS.items()
                    if any(name in {"Corpus", "WordRNN", "train", "load_model", "NGramLM", "compare"}
                           for name in names)}
    assert torch_backed and "engine.store" in torch_backed
    assert "torch" not in loaded
    assert not loaded & torch_backed, sorted(loaded & torch_backed)
    # numpy (the Predictor's) is not torch, but it costs the first frame ~0.1 s: loaded later too.
    assert "numpy" not in loaded
    assert "textual" in loaded and "engine.config" in loaded  # the app and its settings, for contrast


SHOWN_BEFORE_TORCH = """
import asyncio, sys
from tui.screens.main import MainScreen

seen = []
handle = MainScreen.on_file_loaded
def on_file_loaded(self, message):
    handle(self, message)  # the text goes into the editor...
    seen.append(("torch" in sys.modules, self.editor_pane.text))  # ...with torch still unloaded

MainScreen.on_file_loaded = on_file_loaded
from tui.app import NextwordApp

async def main():
    app = NextwordApp(sys.argv[1])
    async with app.run_test() as pilot:
        while not app.main.engine_ready:  # then torch does load, after the file
            await pilot.pause(0.05)
    print(seen, "torch" in sys.modules)

asyncio.run(main())
"""


def test_a_file_given_at_start_is_shown_before_torch_loads(tmp_path: Path) -> None:
    corpus = tmp_path / "notes.txt"
    corpus.write_text("hello there\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-c", SHOWN_BEFORE_TORCH, str(corpus)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env={**os.environ, "NEXTWORD_HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "[(False, 'hello there\\n')] True"


def test_the_app_imports_only_names_the_engine_exports() -> None:
    """`from engine import X` or `import engine` (then engine.X), never engine.submodule."""
    exported = set(engine.__all__)
    for path in sorted((ROOT / "tui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "engine":
                assert node.module == "engine", f"{path.name}: from {node.module} import ..."
                assert {alias.name for alias in node.names} <= exported, path.name
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("engine."), f"{path.name}: import {alias.name}"
