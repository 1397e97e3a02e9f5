"""The one exception every reader raises for a bad training-data file."""

from __future__ import annotations


class TrainingDataError(ValueError):
    """A problem in a training-data file, located by ``path`` and 1-based ``line`` (or None)."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        if self.line is None:
            return f"{self.path}: {self.message}"
        return f"{self.path}:{self.line}: {self.message}"
