"""What may reach a terminal: text from commits, file names, records and the roster, its control characters shown.

A terminal obeys control characters wherever they come from: ``ESC[2J``
clears the screen, an OSC sequence sets the window's title or (OSC 8) makes
a hyperlink, a lone carriage return writes over a line, bidirectional
controls reorder it. An author's name, a commit message, a file name, a
record or the roster may carry any of them, and click strips only CSI
sequences, and only off a terminal. So everything the command line and the
logs print passes through :func:`visible` first: each such character
becomes its escape (``\\x1b``, ``\\x9b``, ``\\u202e``), which a person can
read and a terminal does not obey. Tab, newline and CR LF stay. A file
name that is not UTF-8 reaches Python with its bytes as lone surrogates
(``surrogateescape``), which no terminal encoding can write: each is shown
as the byte it stands for (``\xff``).

JSON keeps its own escapes: ``json.dumps`` writes C0 characters as
``\\u001b`` already, but not DEL, the C1 range or the bidirectional
controls; :func:`visible_json` writes those as ``\\u`` escapes, so the
text is still JSON with the same values.
"""

from __future__ import annotations

import re

# C0 but tab and newline (and CR before LF), DEL and C1, the bidirectional embeddings, overrides and
# isolates, and lone surrogates.
_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]|\r(?!\n)")


def _escape(match: re.Match) -> str:
    code = ord(match[0])
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control character a terminal would obey written as its escape (``\\x1b``)."""
    return _CONTROLS.sub(_escape, text)


def visible_json(text: str) -> str:
    """JSON ``text`` (as ``json.dumps`` wrote it) with the controls it leaves raw written as ``\\u`` escapes."""
    return _CONTROLS.sub(lambda match: f"\\u{ord(match[0]):04x}", text)
