"""Combining the entities that several extractors found in one message."""

from __future__ import annotations

from collections.abc import Sequence


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def merge_entities(per_extractor: Sequence[Sequence[dict]]) -> list[dict]:
    """One overlap-free entity list from the outputs of several extractors (pipeline order).

    When spans overlap, the entity from the earlier extractor wins (the first list wins; inside
    one list, the earlier entity). The exception: for exactly the same span and entity type, the
    one with the highest ``confidence`` is kept, whichever extractor found it (the earlier one
    on a tie). The result is sorted by ``start`` (then ``end``); entities are shallow copies.
    """
    kept: list[dict] = []
    for entities in per_extractor:
        for ent in entities or ():
            clashes = [k for k in kept if _overlap(k, ent)]
            if not clashes:
                kept.append(ent)
                continue
            if len(clashes) == 1:
                other = clashes[0]
                same = (other["start"], other["end"], other["entity"]) == (ent["start"], ent["end"], ent["entity"])
                if same and float(ent.get("confidence", 0.0)) > float(other.get("confidence", 0.0)):
                    kept[next(i for i, k in enumerate(kept) if k is other)] = ent
    return [dict(e) for e in sorted(kept, key=lambda e: (e["start"], e["end"]))]
