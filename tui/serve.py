"""`nextword-tui --serve`: the app in a web browser, through textual-serve.

textual-serve runs one app process per browser tab (the command below) and relays its screen over
a websocket. It listens on 127.0.0.1 unless told otherwise: the app can read and write the user's
files, so it is offered to other machines only when the user asks for it with --host.

`python -m tui.serve [FILE]` is that per-tab command: it runs the app under the web driver that
textual-serve selects through TEXTUAL_DRIVER.
"""

from __future__ import annotations

import ipaddress
import shlex
import sys
from typing import Sequence

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def app_command(path: str | None) -> str:
    """The shell command textual-serve runs for each browser tab."""
    parts = [sys.executable, "-m", "tui.serve"] + ([path] if path else [])
    return " ".join(shlex.quote(part) for part in parts)


def is_local(host: str) -> bool:
    """Whether `host` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(path: str | None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Serve the app until ctrl+c. Returns the exit status."""
    try:
        from textual_serve.server import Server
    except ImportError:
        print("nextword-tui: error: --serve needs textual-serve: pip install textual-serve", file=sys.stderr)
        return 2
    if not 1 <= port <= 65535:
        print(f"nextword-tui: error: --port must be from 1 to 65535 (got {port}).", file=sys.stderr)
        return 2
    if not is_local(host):
        print(f"nextword-tui: warning: serving on {host}: anyone who can reach this address can use the app "
              "and read and write your files through it.", file=sys.stderr)
    Server(app_command(path), host=host, port=port, title="nextword-tui").serve()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The per-tab process: the app itself (textual-serve chose its driver)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    from tui.app import run_app

    status = run_app(argv[0] if argv else None)
    return status if isinstance(status, int) else 0


if __name__ == "__main__":
    sys.exit(main())
