"""Readers of NLU training data: Rasa 3.x YAML, Rasa JSON and JSON Lines.

``load_data`` takes a file or a directory; every problem is a ``TrainingDataError`` that
names the file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from nlu.readers import jsonl, rasa_json, rasa_yaml
from nlu.readers.errors import TrainingDataError
from nlu.training_data import TrainingData

__all__ = ["TrainingDataError", "load_data"]

# A reader returns None for a file that holds no NLU data (a Rasa stories or domain file).
_READERS: dict[str, Callable[[str, str], TrainingData | None]] = {
    ".yml": rasa_yaml.read,
    ".yaml": rasa_yaml.read,
    ".json": rasa_json.read,
    ".jsonl": jsonl.read,
}


def load_data(path: str | Path) -> TrainingData:
    """Read one training-data file, or every supported file under a directory, merged.

    In a directory, files are read in sorted order; hidden files and folders, files of other
    types and YAML files without ``nlu:`` are skipped. A file named explicitly must be of a
    supported type and hold NLU data.
    """
    path = Path(path)
    if path.is_dir():
        data = TrainingData()
        for file in data_files(path):
            part = _read(file)
            if part is not None:
                data = data.merge(part)
        return data
    if not path.exists():
        raise TrainingDataError(str(path), None, "no such file or directory")
    if path.suffix.lower() not in _READERS:
        expected = ", ".join(_READERS)
        raise TrainingDataError(str(path), None, f"unsupported file type (expected {expected})")
    data = _read(path)
    if data is None:
        raise TrainingDataError(str(path), None, "no `nlu:` section")
    return data


def data_files(root: Path, suffixes=None) -> list[Path]:
    """The files under ``root`` with one of ``suffixes`` (default: every readable format), in
    sorted order, hidden files and folders left out."""
    suffixes = tuple(_READERS) if suffixes is None else tuple(suffixes)
    return sorted(
        file
        for file in root.rglob("*")
        if file.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in file.relative_to(root).parts)
        and file.is_file()
    )


def _read(path: Path) -> TrainingData | None:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise TrainingDataError(str(path), None, f"cannot read the file: {e.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise TrainingDataError(str(path), line, f"not valid UTF-8 ({e.reason})") from None
    # Universal newlines, as text-mode open() reads them, so every reader counts lines alike.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _READERS[path.suffix.lower()](text, str(path))
