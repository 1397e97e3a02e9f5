"""A fast regex tokenizer that keeps character offsets.

Tokens are words, numbers and single punctuation characters, with a few compound forms kept
whole because splitting them would lose their meaning: e-mail addresses, URLs, money amounts
with a leading currency symbol (``$12.50``), identifiers mixing letters and digits joined by
``-``/``_``/``/`` (``ORD-12345``, ``A4/2``), decimal and grouped numbers (``1,250.00``),
times (``5:30``) and contractions (``don't``); a possessive ``'s`` is its own token.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_TOKEN_RE = re.compile(
    r"""
      [\w.+-]+@[\w-]+(?:\.[\w-]+)+                          # e-mail address
    | (?:https?://|www\.)[^\s<>"']+[^\s<>"'.,;:!?)\]]      # URL
    | [$€£¥₹]\d+(?:[.,]\d+)*                                # money with a leading symbol
    | \d+(?:[.,:]\d+)+                                      # 1,250.00  3.5  5:30
    | (?=[\w-]*\d)\w+(?:[-_/]\w+)+                          # ORD-12345, A4/2, 2024-05-01
    | \w+(?:['’](?![sS]\b)\w+)?                              # word or number, don't
    | ['’][sS]\b                                            # possessive 's, split off
    | [^\w\s]                                               # any other single character
    """,
    re.VERBOSE | re.UNICODE,
)


class Token(NamedTuple):
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens with their ``[start, end)`` character offsets."""
    return [Token(m.group(), m.start(), m.end()) for m in _TOKEN_RE.finditer(text)]
