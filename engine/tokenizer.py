"""Text -> word tokens.

Words keep inner apostrophes and hyphens ("don't", "well-known"), numbers with separators stay whole
("3.14", "1,000"), every other non-space character is a token of its own, and each non-empty line
ends with EOS. Text is NFC-normalised first, so a word typed with combining accents (NFD) is the same
word as its precomposed form.
"""

from __future__ import annotations

import re
import unicodedata

UNK = "<unk>"
EOS = "<eos>"

_TOKEN = re.compile(
    r"\d+(?:[.,]\d+)+"  # 3.14, 1,000
    r"|[^\W_]+(?:['’\-][^\W_]+)*"  # words, numbers, don't, well-known
    r"|[^\s\x00-\x1f\x7f-\x9f]"  # any other visible character: punctuation, symbols (not control codes)
)
# A token or a line break: what the streaming loader reads whole files with (a break stands for EOS).
TOKEN_OR_BREAK = re.compile(_TOKEN.pattern + r"|\r\n|\r|\n", _TOKEN.flags)
# The word being typed at the end of the text, possibly cut inside an apostrophe or hyphen.
_PARTIAL_WORD = re.compile(r"[^\W_](?:[^\W_]|['’\-])*\Z")
_LINES = re.compile(r"\r\n|\r|\n")
WORD_JOINERS = "'’-"  # inside a word ("don't", "well-known"), never at its start
PARTIAL_WINDOW = 64
# How English is spaced: no space before closing punctuation, none after an opening one.
NO_SPACE_BEFORE = frozenset(".,;:!?%)]}'’”…")
NO_SPACE_AFTER = frozenset("([{“‘$#")


def normalize(text: str) -> str:
    """NFC-normalise text so that visually equal words are equal tokens."""
    return unicodedata.normalize("NFC", text)


def split_lines(text: str) -> list[str]:
    """Split on any line ending (LF, CRLF or CR) so all three give the same tokens."""
    return _LINES.split(text)


def tokenize_line(line: str) -> list[str]:
    """Tokens of one line, without EOS."""
    return _TOKEN.findall(normalize(line))


def token_spans(line: str) -> list[tuple[int, int]]:
    """(start, end) of each token in one NFC-normalised line."""
    return [m.span() for m in _TOKEN.finditer(line)]


def is_partial_word(text: str) -> bool:
    """Whether `text` would be read as a word still being typed (what completions apply to)."""
    return _PARTIAL_WORD.fullmatch(text) is not None


def tokenize(text: str, eos: bool = True) -> list[str]:
    """All tokens of a text; each non-empty line is followed by EOS when `eos` is true."""
    tokens: list[str] = []
    for line in split_lines(normalize(text)):
        words = _TOKEN.findall(line)
        if words:
            tokens.extend(words)
            if eos:
                tokens.append(EOS)
    return tokens


def key(token: str, lowercase: bool = True) -> str:
    """The form used for matching: typographic apostrophes folded, lowercased by default."""
    token = token.replace("’", "'")
    return token.lower() if lowercase else token


def split_partial(text: str) -> tuple[str, str]:
    """Split typed text into (context, word being typed).

    The word being typed is empty when the text is empty or ends in whitespace or punctuation,
    which means the next word is wanted.
    """
    text = normalize(text)
    # This runs on every keystroke, so it walks back over the last word in Python (a regex search
    # tries every start position) and reads no further back than the window.
    start = end = len(text)
    floor = max(0, end - PARTIAL_WINDOW)
    while start > floor and (text[start - 1].isalnum() or text[start - 1] in WORD_JOINERS):
        start -= 1
    if start == floor and floor > 0:  # the word is longer than the window
        match = _PARTIAL_WORD.search(text)
        start = match.start() if match is not None else end
    while start < end and not text[start].isalnum():  # a word starts with a letter or digit
        start += 1
    return text[:start], text[start:]


def context_tokens(context: str) -> list[str]:
    """Tokens of the typed context in the order the model reads them: line breaks give EOS,
    and the last line is open (no EOS after it)."""
    lines = split_lines(normalize(context))
    tokens: list[str] = []
    for line in lines[:-1]:
        words = _TOKEN.findall(line)
        if words:
            tokens.extend(words)
            tokens.append(EOS)
    tokens.extend(_TOKEN.findall(lines[-1]))
    return tokens


def detokenize(tokens: list[str]) -> str:
    """Join tokens with spaces the way English is written ("Hello, world!" not "Hello , world !")."""
    out = ""
    for token in tokens:
        if token == EOS:
            out += "\n"
            continue
        glue = not out or out[-1] in "\n" or token in NO_SPACE_BEFORE or out[-1] in NO_SPACE_AFTER
        out += token if glue else " " + token
    return out


def insertion(text: str, word: str, remainder: str, completes: bool) -> tuple[str, int]:
    """How accepting `word` changes `text`: (the text to append, characters deleted from the end first).

    A completion appends the rest of the word. A next word gets a space before it unless the text
    is empty or ends in a space or an opening bracket or quote; closing punctuation replaces the
    spaces before it ("see you " + "." -> "see you."). A space follows, so the next word can be
    typed at once, except after an opening bracket or quote.
    """
    delete = 0
    if completes:
        insert = remainder
    elif word[:1] in NO_SPACE_BEFORE:
        delete = len(text) - len(text.rstrip(" "))
        insert = word
    elif not text or text[-1].isspace() or text[-1] in NO_SPACE_AFTER:
        insert = word
    else:
        insert = " " + word
    return (insert if word[-1:] in NO_SPACE_AFTER else insert + " "), delete
