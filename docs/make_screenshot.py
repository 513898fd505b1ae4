"""Make docs/screenshot.svg (the app after training an LSTM on its sample corpus, mid-sentence in the
writing pane) and docs/models.svg (the models screen).

    .venv/bin/python docs/make_screenshot.py [--seconds 60]

Trains with the engine into a temporary NEXTWORD_HOME (nothing touches your own models), then drives
the app with Textual's Pilot and saves what the screen shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def shoot(out: Path) -> None:
    from tui.app import NextwordApp

    app = NextwordApp(None)
    async with app.run_test(size=(100, 30)) as pilot:
        for _ in range(100):  # the engine loads after the first frame
            await pilot.pause(0.1)
            if app.screen.engine_ready:
                break
        await pilot.pause(1.0)
        for key in "I would like to ":
            await pilot.press("space" if key == " " else key)
        await pilot.pause(0.5)
        app.save_screenshot(str(out.name), str(out.parent))
        await pilot.press("alt+m")
        await pilot.pause(1.0)
        app.save_screenshot("models.svg", str(out.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.svg"))
    args = parser.parse_args()
    os.environ["NEXTWORD_HOME"] = tempfile.mkdtemp(prefix="nextword-shot-")

    from engine import Corpus, ModelConfig, TrainConfig, new_model_name, save_model, train
    from tui.files import sample_text

    corpus = Corpus.from_text(sample_text())
    trained = train(corpus, ModelConfig(cell="lstm"), TrainConfig(max_time=args.seconds))
    save_model(trained, new_model_name("lstm", corpus.fingerprint))
    asyncio.run(shoot(Path(args.out)))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
