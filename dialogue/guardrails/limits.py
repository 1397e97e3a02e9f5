"""Per-message limits, applied by every channel before a text reaches the assistant.

A message is refused (``MessageRejected``, which channels answer with their HTTP status) when it
is longer than ``max_chars``, holds a NUL byte, or is not valid Unicode (a lone surrogate, which
JSON's ``\\ud800`` escapes can carry and no store can encode). Otherwise it is cleaned: other
control characters (tab and newlines excepted) and invisible formatting characters (zero-width
spaces and joiners, bidirectional overrides, the byte-order mark) are removed, and the text is
put in Unicode normal form ``normalization`` (NFKC by default: full-width letters,
mathematical alphanumerics, ligatures and other compatibility look-alikes become the plain
letters the NLU was trained on).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

DEFAULT_MAX_CHARS = 5_000
NORMAL_FORMS = ("NFC", "NFKC", "NFD", "NFKD")
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls but tab, line feed and carriage return; DEL.
_CONTROL = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Zero-width and bidirectional formatting characters, soft hyphen, word joiner, BOM.
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff]")


class MessageRejected(ValueError):
    """A message the assistant must not see; ``status`` is the HTTP status that says why."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class MessageLimits:
    max_chars: int = DEFAULT_MAX_CHARS
    normalization: str | None = "NFKC"  # None keeps the text's own form
    strip_invisible: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.max_chars, bool) or not isinstance(self.max_chars, int) or self.max_chars < 1:
            raise ValueError("max_message_chars must be a whole number of at least 1")
        if self.normalization is not None and self.normalization not in NORMAL_FORMS:
            raise ValueError(f"normalization must be one of {', '.join(NORMAL_FORMS)} or null")

    def clean(self, text: str, field: str = "message") -> str:
        """``text`` checked and cleaned (see the module docstring)."""
        if len(text) > self.max_chars:
            raise MessageRejected(f"{field} longer than {self.max_chars} characters", 413)
        if "\x00" in text:
            raise MessageRejected(f"{field} contains a NUL character")
        if _SURROGATE.search(text):
            raise MessageRejected(f"{field} is not valid Unicode (a lone surrogate)")
        text = _CONTROL.sub("", text)
        if self.strip_invisible:
            text = _INVISIBLE.sub("", text)
        if self.normalization:
            text = unicodedata.normalize(self.normalization, text)
        return text
