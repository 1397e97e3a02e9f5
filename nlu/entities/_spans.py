"""Helpers shared by the entity components: labels carrying role/group, BILOU tags, outputs."""

from __future__ import annotations

from collections.abc import Sequence

from nlu.entities.tokenizer import Token

OUTSIDE = "O"
ROLE_SEP = "#"
GROUP_SEP = "@"


def encode_label(entity: dict) -> str:
    """``entity``, ``entity#role``, ``entity@group`` or ``entity#role@group``.

    ``#`` and ``@`` are therefore reserved in entity names for tagging extractors.
    """
    label = str(entity["entity"])
    if entity.get("role") is not None:
        label += ROLE_SEP + str(entity["role"])
    if entity.get("group") is not None:
        label += GROUP_SEP + str(entity["group"])
    return label


def decode_label(label: str) -> tuple[str, str | None, str | None]:
    """The inverse of :func:`encode_label`: ``(entity, role, group)``."""
    group = role = None
    if GROUP_SEP in label:
        label, _, group = label.rpartition(GROUP_SEP)
    if ROLE_SEP in label:
        label, _, role = label.partition(ROLE_SEP)
    return label, role, group


def entities_to_bilou(tokens: Sequence[Token], entities: Sequence[dict]) -> list[str]:
    """One BILOU tag per token.

    An annotation that does not fall on token boundaries covers every token it overlaps.
    An annotation overlapping tokens already tagged by an earlier one is ignored: a tagger
    can give a token one label only.
    """
    tags = [OUTSIDE] * len(tokens)
    for ent in sorted(entities, key=lambda e: (e["start"], -e["end"])):
        idx = [i for i, t in enumerate(tokens) if t.start < ent["end"] and t.end > ent["start"]]
        if not idx or any(tags[i] != OUTSIDE for i in idx):
            continue
        label = encode_label(ent)
        if len(idx) == 1:
            tags[idx[0]] = "U-" + label
            continue
        tags[idx[0]] = "B-" + label
        for i in idx[1:-1]:
            tags[i] = "I-" + label
        tags[idx[-1]] = "L-" + label
    return tags


def bilou_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """``(first token, last token + 1, label)`` for each entity in a (possibly ill-formed) tag sequence.

    Decoding is lenient: ``I``/``L`` without a ``B`` starts an entity, a label change or a
    ``B``/``U`` ends the current one, so every non-``O`` token ends up in exactly one span.
    """
    spans: list[tuple[int, int, str]] = []
    begin: int | None = None
    current = ""
    for i, tag in enumerate(tags):
        if tag == OUTSIDE or len(tag) < 3 or tag[1] != "-":
            if begin is not None:
                spans.append((begin, i, current))
                begin = None
            continue
        prefix, label = tag[0], tag[2:]
        if begin is not None and (prefix in "BU" or label != current):
            spans.append((begin, i, current))
            begin = None
        if begin is None:
            begin, current = i, label
        if prefix in "LU":
            spans.append((begin, i + 1, current))
            begin = None
    if begin is not None:
        spans.append((begin, len(tags), current))
    return spans


def make_entity(
    text: str,
    start: int,
    end: int,
    label: str,
    confidence: float,
    extractor: str,
    *,
    value=None,
    decode: bool = True,
) -> dict:
    """An output entity dict; ``label`` may carry role/group (see :func:`encode_label`)."""
    entity, role, group = decode_label(label) if decode else (label, None, None)
    out = {
        "start": start,
        "end": end,
        "value": text[start:end] if value is None else value,
        "entity": entity,
        "confidence": float(min(1.0, max(0.0, confidence))),
        "extractor": extractor,
    }
    if role is not None:
        out["role"] = role
    if group is not None:
        out["group"] = group
    return out


def check_lengths(X: Sequence[str], y: Sequence | None) -> None:
    if y is not None and len(X) != len(y):
        raise ValueError(f"X and y have different lengths ({len(X)} != {len(y)})")
