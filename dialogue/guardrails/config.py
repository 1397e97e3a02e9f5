"""The ``guardrails:`` section of ``config.yml``: message limits, rate limits, injection screening.

Every key is optional; these are the defaults::

    guardrails:
      max_message_chars: 5000      # longer messages are refused (413)
      normalization: NFKC          # Unicode normal form of every message (null: unchanged)
      strip_invisible: true        # drop zero-width and bidirectional formatting characters
      rate_limit:
        per_sender: 20             # messages per window and conversation (0: no limit)
        per_address: 60            # messages per window and client address (0: no limit)
        window_seconds: 60
        redis_url: null            # redis://host:6379/0 shares the counts between server processes
      injection:
        enabled: true
        threshold: 0.5             # the classifier's score at which a message is flagged
        max_attempts: 3            # flagged messages in a conversation before it goes to a person
        model: null                # a guard-*.tar.gz (default: the newest in models/, else the shipped examples)
        response: utter_injection_blocked   # the domain response said to a flagged message

``${NAME}`` in ``redis_url`` is replaced by the environment variable ``NAME``.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from dialogue.guardrails.injection import DEFAULT_THRESHOLD
from dialogue.guardrails.limits import DEFAULT_MAX_CHARS, MessageLimits

_ENV = re.compile(r"\$\{([^}]+)\}")


@dataclass(frozen=True)
class RateLimitConfig:
    per_sender: int = 20
    per_address: int = 60
    window_seconds: float = 60.0
    redis_url: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.per_sender or self.per_address)


@dataclass(frozen=True)
class InjectionConfig:
    enabled: bool = True
    threshold: float = DEFAULT_THRESHOLD
    max_attempts: int = 3
    model: str | None = None
    response: str = "utter_injection_blocked"


@dataclass(frozen=True)
class GuardrailsConfig:
    max_message_chars: int = DEFAULT_MAX_CHARS
    normalization: str | None = "NFKC"
    strip_invisible: bool = True
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    injection: InjectionConfig = field(default_factory=InjectionConfig)

    @property
    def limits(self) -> MessageLimits:
        return MessageLimits(self.max_message_chars, self.normalization, self.strip_invisible)

    @classmethod
    def from_config(cls, section: Any, where: str = "config.yml") -> "GuardrailsConfig":
        """Read the ``guardrails:`` section; a wrong key, type or value raises ``ValueError``."""
        config = _read(cls, section, "guardrails", where)
        try:
            config.limits
        except ValueError as exc:
            raise ValueError(f"{where}: guardrails: {exc}") from None
        if not 0 < config.injection.threshold <= 1:
            raise ValueError(f"{where}: `guardrails.injection.threshold` must be above 0 and at most 1")
        if config.rate_limit.window_seconds <= 0:
            raise ValueError(f"{where}: `guardrails.rate_limit.window_seconds` must be above 0")
        return config


def _read(cls, section: Any, name: str, where: str):
    """A dataclass from a mapping, each value checked against its default's type."""
    if section is None:
        return cls()
    if not isinstance(section, Mapping):
        raise ValueError(f"{where}: `{name}` must be a mapping")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    defaults = cls()
    values = {}
    for key, value in section.items():
        if key not in fields:
            raise ValueError(f"{where}: unknown key `{name}.{key}` (expected one of: {', '.join(fields)})")
        default = getattr(defaults, key)
        if dataclasses.is_dataclass(default):
            values[key] = _read(type(default), value, f"{name}.{key}", where)
        else:
            values[key] = _value(value, default, fields[key].type, f"{name}.{key}", where)
    return cls(**values)


def _value(value: Any, default: Any, annotation: str, name: str, where: str) -> Any:
    if value is None and "None" in str(annotation):
        return None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{where}: `{name}` must be true or false")
        return value
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{where}: `{name}` must be a number >= 0")
        if isinstance(default, int) and not isinstance(value, int):
            raise ValueError(f"{where}: `{name}` must be a whole number")
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: `{name}` must be a non-empty string")
    return _ENV.sub(lambda m: _environment(m.group(1), name, where), value)


def _environment(variable: str, name: str, where: str) -> str:
    if variable not in os.environ:
        raise ValueError(f"{where}: `{name}` names environment variable {variable!r}, which is not set")
    return os.environ[variable]

