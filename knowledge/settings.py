"""The ``knowledge:`` section of a project's config.yml (every key optional)::

    knowledge:
      documents: data/knowledge     # where the help-centre documents are
      index_dir: models/knowledge   # where `desk index` writes the index
      index: flat                   # flat (exact), hnsw or ivf (approximate)
      hnsw: {m: 32, ef_construction: 80, ef_search: 64}
      ivf: {nlist: null, nprobe: 16} # nlist null: about sqrt(chunks)
      retrieval:                    # see knowledge.retrieval.RetrievalConfig
        k: 5
        min_similarity: 0.40
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEFAULTS: dict[str, Any] = {
    "documents": "data/knowledge",
    "index_dir": "models/knowledge",
    "index": "flat",
    "hnsw": {},
    "ivf": {},
    "retrieval": {},
}


def load_settings(config: str | Path | None) -> dict[str, Any]:
    """The ``knowledge:`` section of ``config`` over the defaults (defaults alone without a file)."""
    settings = {k: (dict(v) if isinstance(v, dict) else v) for k, v in DEFAULTS.items()}
    if config is None or not Path(config).is_file():
        return settings
    data = yaml.safe_load(Path(config).read_text(encoding="utf-8")) or {}
    section = data.get("knowledge") if isinstance(data, dict) else None
    if section is None:
        return settings
    if not isinstance(section, dict):
        raise ValueError(f"{config}: 'knowledge' must be a mapping")
    unknown = set(section) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"{config}: unknown knowledge setting(s): {', '.join(sorted(unknown))}")
    settings.update(section)
    if settings["index"] not in ("flat", "hnsw", "ivf"):
        raise ValueError(f"{config}: knowledge.index must be flat, hnsw or ivf, not {settings['index']!r}")
    return settings


def search_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The query-time settings of the approximate indexes, as :class:`KnowledgeIndex` takes them."""
    return {"ef_search": settings["hnsw"].get("ef_search"), "nprobe": settings["ivf"].get("nprobe")}
