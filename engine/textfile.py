"""Safe reading of text files: UTF-8 (a BOM allowed) or UTF-16 with a BOM, and a clear refusal,
naming what the file is, of anything else (images, archives, model weights, binary, Latin-1).

No torch here: the app's editor opens files with `load_text` before the engine's model code loads.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from engine.errors import CorpusError

MAX_CORPUS_BYTES = 512 * 1024**2  # load_text: the whole file in memory as one string (the editor, eval)

# Magic numbers of files people pick by mistake: say what the file is rather than "not UTF-8".
_BINARY_SIGNATURES = {
    b"\x89PNG": "a PNG image",
    b"PK\x03\x04": "a zip archive (or .docx/.xlsx)",
    b"\x1f\x8b": "a gzip archive",
    b"%PDF": "a PDF document",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x80\x02": "a Python pickle",
    b"\x80\x03": "a Python pickle",
    b"\x80\x04": "a Python pickle",
    b"\x80\x05": "a Python pickle",
    b"\x7fELF": "a program (ELF executable)",
}


def check_head(head: bytes, size: int, name: str) -> str:
    """decode_text's checks of a file's first bytes (`size`: the whole file's); its encoding."""
    for signature, kind in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise CorpusError(f"{name} is {kind}, not text: choose a plain-text (.txt) file.")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    if size > 8 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") < size:
        raise CorpusError(f"{name} looks like a model weights file (safetensors), not text.")
    return "utf-8"


def damaged_utf16(name: str, offset: int) -> CorpusError:
    return CorpusError(f"{name} starts like UTF-16 but is damaged at byte {offset}.")


def nul_byte(name: str, offset: int) -> CorpusError:
    return CorpusError(f"{name} contains a NUL byte at offset {offset}: it is binary, not text.")


def not_utf8(name: str, offset: int, byte: bytes) -> CorpusError:
    return CorpusError(
        f"{name} is not UTF-8: byte 0x{byte.hex()} at offset {offset} "
        "(perhaps Latin-1 or Windows-1252; re-save it as UTF-8)."
    )


def decode_text(data: bytes, name: str = "The file") -> str:
    """Bytes -> text: UTF-8 (BOM allowed) or UTF-16 with a BOM; anything else is refused clearly."""
    if check_head(data, len(data), name) == "utf-16":
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise damaged_utf16(name, exc.start) from None
    nul = data.find(b"\x00")
    if nul != -1:
        raise nul_byte(name, nul)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)  # the BOM is not counted
        raise not_utf8(name, offset, data[offset : offset + 1]) from None
    return text


def stat_text_file(p: Path) -> os.stat_result:
    """stat() a corpus file, refusing what is missing, unreadable, a folder, a pipe or a device."""
    try:
        info = p.stat()
    except FileNotFoundError:
        raise CorpusError(f"No such file: {p}") from None
    except OSError as exc:
        raise CorpusError(f"Cannot read {p}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise CorpusError(f"{p} is a folder: choose a text file inside it.")
    if not stat.S_ISREG(info.st_mode):
        raise CorpusError(f"{p} is not a regular file (a pipe or device?): choose a text file.")
    return info


def load_text(path: str | os.PathLike) -> str:
    """Read a corpus file as text, with a clear error for anything that is not a readable text file."""
    p = Path(path)
    info = stat_text_file(p)
    if info.st_size > MAX_CORPUS_BYTES:
        raise CorpusError(f"{p} is {info.st_size / 1024**2:.0f} MB; the limit is {MAX_CORPUS_BYTES // 1024**2} MB.")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise CorpusError(f"Cannot read {p}: {exc.strerror or exc}") from None
    return decode_text(data, name=str(p))


def fingerprint(text: str) -> str:
    """A short hash of the text, so a saved model knows which corpus it was trained on."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]
