"""Chunks: one topic (one section under a heading) per chunk, with ids derived from content.

A chunk's id is the sha256 of the document id, the heading path (title first) and the chunk's
text, so an unchanged section keeps its id, and its embedding, across rebuilds. A section longer
than :data:`MAX_WORDS` (the encoder reads 128 tokens) is cut between paragraphs, or between
sentences inside a long paragraph, and every part keeps the section's headings.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

from .documents import Document, Sentence

MAX_WORDS = 90


@dataclass
class Chunk:
    id: str
    doc_id: str
    title: str
    version: str
    owner: str
    path: str
    line: int
    headings: list[str]
    text: str
    sentences: list[dict] = field(default_factory=list)  # {"text", "line", "item"}
    tags: list[str] = field(default_factory=list)

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)

    @property
    def embed_text(self) -> str:
        """What the encoder sees: where the text sits, then the text."""
        return f"{self.heading_path}: {self.text}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Chunk":
        return cls(**data)


def chunk_id(doc_id: str, headings: list[str], text: str) -> str:
    return hashlib.sha256("\x1f".join([doc_id, " > ".join(headings), text]).encode("utf-8")).hexdigest()[:16]


def _groups(paragraphs: list[list[Sentence]]) -> list[list[Sentence]]:
    """Paragraphs packed into groups of at most MAX_WORDS words (a longer paragraph is cut
    between sentences; a longer sentence stays whole)."""
    units: list[list[Sentence]] = []
    for paragraph in paragraphs:
        if sum(len(s.text.split()) for s in paragraph) <= MAX_WORDS:
            units.append(paragraph)
        else:
            units.extend([s] for s in paragraph)
    groups: list[list[Sentence]] = []
    size = 0
    for unit in units:
        words = sum(len(s.text.split()) for s in unit)
        if groups and size + words <= MAX_WORDS:
            groups[-1].extend(unit)
            size += words
        else:
            groups.append(list(unit))
            size = words
    return groups


def chunk_document(document: Document) -> list[Chunk]:
    chunks: list[Chunk] = []
    seen: set[str] = set()
    for section in document.sections:
        for group in _groups(section.paragraphs):
            text = " ".join(s.text for s in group)
            headings = list(section.headings)
            cid = chunk_id(document.id, headings, text)
            while cid in seen:  # the same text twice under the same heading
                cid = chunk_id(document.id, headings, text + cid)
            seen.add(cid)
            chunks.append(Chunk(
                id=cid, doc_id=document.id, title=document.title, version=document.version,
                owner=document.owner, path=document.rel_path, line=group[0].line, headings=headings,
                text=text, sentences=[{"text": s.text, "line": s.line, "item": s.item} for s in group],
                tags=document.tags,
            ))
    return chunks
