"""Components registered by name, so ``config.yml`` can assemble a pipeline from names.

Like spaCy's factories: a class registers under a versioned name (``"CRFEntityExtractor.v1"``)
and, optionally, plain aliases (``"CRFEntityExtractor"``) that always point at the newest version,
so old configs keep working when a component changes.
"""

from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T", bound=type)

_COMPONENTS: dict[str, type] = {}


class UnknownComponentError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message otherwise
        return str(self.args[0])


def register(*names: str) -> Callable[[T], T]:
    """Class decorator: make a component constructible by any of ``names``."""

    def decorate(cls: T) -> T:
        for name in names:
            if name in _COMPONENTS and _COMPONENTS[name] is not cls:
                raise ValueError(f"component name {name!r} is already registered")
            _COMPONENTS[name] = cls
        return cls

    return decorate


def get(name: str) -> type:
    _load_builtin_components()
    try:
        return _COMPONENTS[name]
    except KeyError:
        known = ", ".join(sorted(_COMPONENTS))
        raise UnknownComponentError(f"unknown NLU component {name!r}; known components: {known}") from None


def create(name: str, **params):
    """Build the component registered as ``name`` with the config's parameters."""
    cls = get(name)
    try:
        return cls(**params)
    except TypeError as exc:
        raise ValueError(f"bad parameters for component {name!r}: {exc}") from None


def names() -> list[str]:
    _load_builtin_components()
    return sorted(_COMPONENTS)


def _load_builtin_components() -> None:
    # Importing the modules runs their @register decorators.
    from nlu import entities, featurizers, intents  # noqa: F401
