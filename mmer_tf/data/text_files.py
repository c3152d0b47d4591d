"""Reading a user's text files (labels.csv, transcripts) the way spreadsheets and editors save them.

UTF-8 with or without a BOM, and UTF-16 with its BOM (what a spreadsheet's "Unicode" export writes), are
read alike; anything else -- another encoding, NUL bytes -- is one ``MmerError`` asking for UTF-8, rather
than a decoding traceback or a layout that silently fails to be detected.
"""

from __future__ import annotations

from pathlib import Path

from mmer_tf.errors import MmerError

_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def decode_text(raw: bytes, path) -> str:
    """``raw`` as text (UTF-8, UTF-8 with BOM, UTF-16 with BOM), or a one-line error naming ``path``."""
    try:
        text = raw.decode("utf-16") if raw[:2] in _UTF16_BOMS else raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MmerError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 (or UTF-16 with a BOM)") from None
    if "\x00" in text:
        raise MmerError(f"{path}: holds NUL bytes; a text CSV (UTF-8 or UTF-16 with BOM) was expected")
    return text


def read_text(path: Path) -> str:
    """The text of ``path`` (see :func:`decode_text`); ``OSError`` as raised (the callers word it)."""
    return decode_text(Path(path).read_bytes(), path)
