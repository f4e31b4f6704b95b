"""Text for one-line errors: a value shown safely whatever a file or a flag held."""

from __future__ import annotations

import json
import math
from typing import Any


def one_line(text: str) -> str:
    """`text` with every non-printable character escaped (`\\n`, `\\x1b`, `\\u202e`): an error message
    stays one line and never writes an escape code to the user's terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def shown(value: Any) -> str:
    """`repr(value)`, but an integer too long to read (or to print: Python refuses past 4,300 digits) by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1:,} digits"
    return repr(value)


def toml_string(text: str) -> str:
    """`text` as a TOML basic string. JSON's escapes are TOML's, but `json.dumps` writes a character beyond
    U+FFFF as two `\\u` surrogates, which TOML refuses (a scenario named `😀` could not be loaded back): keep
    such characters as they are (a TOML file is UTF-8) and escape only what TOML requires (DEL besides JSON's)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")
