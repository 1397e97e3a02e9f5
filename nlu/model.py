"""Trained model artefacts: train once per (data, config), save atomically, load, parse.

An artefact is ``nlu-<timestamp>-<fingerprint>.tar.gz`` holding ``metadata.json`` and the
fitted pipeline (``pipeline.joblib``). The fingerprint covers the training data, the config and
the Desk version, so training again with nothing changed reuses the existing artefact.
Artefacts are pickles: load only models you trained or trust.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
import time
from dataclasses import asdict
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import joblib

from nlu.config import load_config
from nlu.pipeline import Pipeline
from nlu.progress import Progress
from nlu.readers import load_data
from nlu.training_data import TrainingData

PREFIX = "nlu-"
SUFFIX = ".tar.gz"


def desk_version() -> str:
    try:
        return version("desk")
    except PackageNotFoundError:
        return "0+unknown"


def fingerprint(data: TrainingData, config: dict) -> str:
    payload = {
        "desk": desk_version(),
        "config": config,
        "examples": [asdict(e) | {"source": None} for e in data.examples],
        "synonyms": sorted(data.synonyms.items()),
        "regexes": data.regexes,
        "lookups": sorted((k, sorted(v)) for k, v in data.lookups.items()),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class NLUModel:
    """A loaded model: ``parse`` one text or ``parse_batch`` many, in Rasa's parse shape."""

    def __init__(self, pipeline: Pipeline, metadata: dict, path: Path | None = None):
        self.pipeline = pipeline
        self.metadata = metadata
        self.path = path

    def parse(self, text: str) -> dict:
        return self.pipeline.parse(text)

    def parse_batch(self, texts: list[str]) -> list[dict]:
        return self.pipeline.parse_batch(texts)

    @property
    def fingerprint(self) -> str:
        return self.metadata["fingerprint"]


def train(
    nlu_path: str | Path,
    config_path: str | Path | None = None,
    out_dir: str | Path = "models",
    progress: Progress | None = None,
    force: bool = False,
) -> tuple[Path, bool]:
    """Train a model into ``out_dir``. Returns ``(path, trained)``; ``trained`` is False on reuse."""
    return train_data(load_data(nlu_path), load_config(config_path), out_dir, progress, force)


def train_data(
    data: TrainingData,
    config: dict,
    out_dir: str | Path = "models",
    progress: Progress | None = None,
    force: bool = False,
    prefix: str = PREFIX,
) -> tuple[Path, bool]:
    """:func:`train` on data already read: ``out_dir/<prefix><time>-<fingerprint>.tar.gz``."""
    out_dir = Path(out_dir)
    fp = fingerprint(data, config)
    if not force:
        existing = sorted(out_dir.glob(f"{prefix}*-{fp[:12]}{SUFFIX}"))
        if existing:
            return existing[-1], False
    started = time.perf_counter()
    pipeline = train_pipeline(data, config, progress)
    metadata = {
        "fingerprint": fp,
        "desk_version": desk_version(),
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_seconds": round(time.perf_counter() - started, 2),
        "config": config,
        "training_data": {
            "examples": len(data.examples),
            "intents": sorted(data.intent_counts()),
            "entities": data.entity_types,
        },
    }
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return save(NLUModel(pipeline, metadata), out_dir / f"{prefix}{stamp}-{fp[:12]}{SUFFIX}"), True


def train_pipeline(data: TrainingData, config: dict | None = None, progress: Progress | None = None) -> Pipeline:
    return Pipeline.from_config(config or load_config(None)).fit(data, progress)


def save(model: NLUModel, path: Path) -> Path:
    """Write atomically: a crash leaves either the old state or the whole new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".partial", delete=False) as tmp:
        with tarfile.open(fileobj=tmp, mode="w:gz", compresslevel=3) as tar:
            _add(tar, "metadata.json", json.dumps(model.metadata, indent=2).encode())
            buffer = io.BytesIO()
            joblib.dump(model.pipeline, buffer)
            _add(tar, "pipeline.joblib", buffer.getvalue())
    Path(tmp.name).replace(path)
    return path


def _add(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    info.mtime = int(time.time())
    tar.addfile(info, io.BytesIO(payload))


class ModelNotFoundError(FileNotFoundError):
    pass


def resolve_model_path(path: str | Path, prefix: str = PREFIX, command: str = "desk train nlu") -> Path:
    """A model file, or the newest model (``<prefix>*.tar.gz``) in a directory."""
    path = Path(path)
    if path.is_dir():
        models = sorted(path.glob(f"{prefix}*{SUFFIX}"), key=lambda p: p.stat().st_mtime)
        if not models:
            kind = "NLU model" if prefix == PREFIX else f"model ({prefix}*{SUFFIX})"
            raise ModelNotFoundError(f"no trained {kind} in {path}: run `{command}` first")
        return models[-1]
    if not path.exists():
        raise ModelNotFoundError(f"{path}: no such model file")
    return path


def load_model(path: str | Path) -> NLUModel:
    path = resolve_model_path(path)
    try:
        with tarfile.open(path, "r:gz") as tar:
            metadata = json.load(tar.extractfile("metadata.json"))
            pipeline = joblib.load(tar.extractfile("pipeline.joblib"))
    except (tarfile.TarError, KeyError, EOFError, OSError, ValueError) as exc:
        raise ModelNotFoundError(f"{path}: not a Desk NLU model ({exc})") from None
    return NLUModel(pipeline, metadata, path)
