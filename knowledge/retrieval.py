"""Hybrid retrieval: dense (FAISS, cosine) and lexical (BM25) rankings fused by reciprocal rank.

Each ranking contributes ``1 / (rrf_k + rank)`` for the chunks it returns (``rank`` from 1). Retrieval
is *not confident* (the answer is "I don't know") when the best passage is not similar enough to
the question (cosine of the question and chunk embeddings below ``min_similarity``; or below
``confident_similarity`` while the best three passages hold less than ``min_coverage`` of the
question's words, idf-weighted, words the help centre never uses weighing most). Strong lexical
evidence (``lexical_coverage``) lowers the similarity needed to ``lexical_similarity``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .chunks import Chunk
from .index import KnowledgeIndex
from .text import terms


@dataclass
class RetrievalConfig:
    k: int = 5  # passages returned
    candidates: int = 20  # taken from each ranking before fusion
    rrf_k: int = 60
    min_similarity: float = 0.40  # below it: unknown, unless nearly every word is covered
    min_coverage: float = 0.30  # between min_similarity and confident_similarity, coverage needed
    confident_similarity: float = 0.60  # at or above it, coverage is not needed
    lexical_similarity: float = 0.30  # with at least lexical_coverage, this similarity is enough
    lexical_coverage: float = 0.90

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> "RetrievalConfig":
        data = data or {}
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class Passage:
    chunk: Chunk
    row: int
    score: float  # fused (reciprocal rank)
    similarity: float  # cosine of the question and the chunk
    lexical: float  # BM25
    dense_rank: int | None = None
    lexical_rank: int | None = None

    chunk_id = property(lambda self: self.chunk.id)
    doc_id = property(lambda self: self.chunk.doc_id)
    title = property(lambda self: self.chunk.title)
    version = property(lambda self: self.chunk.version)
    text = property(lambda self: self.chunk.text)

    def source(self) -> dict[str, str]:
        return {"doc_id": self.doc_id, "title": self.title, "version": self.version, "chunk_id": self.chunk_id}


@dataclass
class Retrieval:
    question: str
    passages: list[Passage]
    vector: np.ndarray
    confident: bool
    similarity: float  # of the most similar passage
    coverage: float
    reason: str = ""  # why it is not confident


class Retriever:
    def __init__(self, index: KnowledgeIndex, encoder=None, config: RetrievalConfig | None = None):
        if encoder is None:
            from .embeddings import Encoder

            encoder = Encoder()
        if getattr(encoder, "name", index.encoder_name) != index.encoder_name:
            raise ValueError(f"the index was built with {index.encoder_name}, not {encoder.name}; rebuild it")
        self.index, self.encoder = index, encoder
        self.config = config or RetrievalConfig()

    def embed(self, text: str) -> np.ndarray:
        return self.encoder.encode([text])[0]

    def search(self, question: str, k: int | None = None, filters: dict | None = None,
               vector: np.ndarray | None = None) -> list[Passage]:
        """The ``k`` best passages for ``question`` by fused rank (only chunks passing ``filters``)."""
        config = self.config
        k = k or config.k
        vector = self.embed(question) if vector is None else vector
        rows = self.index.rows(filters)
        width = max(config.candidates, k)
        dense = self.index.dense_search(vector, width, rows)
        lexical = self.index.bm25.search(question, width, rows)
        fused: dict[int, Passage] = {}
        for rank, (row, similarity) in enumerate(dense, 1):
            fused[row] = Passage(self.index.chunks[row], row, 1 / (config.rrf_k + rank), similarity, 0.0, dense_rank=rank)
        for rank, (row, score) in enumerate(lexical, 1):
            passage = fused.get(row)
            if passage is None:
                similarity = float(self.index.chunk_vector(row) @ vector)
                passage = fused[row] = Passage(self.index.chunks[row], row, 0.0, similarity, 0.0)
            passage.score += 1 / (config.rrf_k + rank)
            passage.lexical, passage.lexical_rank = score, rank
        return sorted(fused.values(), key=lambda p: (-p.score, -p.similarity))[:k]

    def coverage(self, question: str, passages: list[Passage]) -> float:
        """Idf-weighted share of the question's content words found in ``passages``."""
        idf = self.index.bm25.idf
        words = set(terms(question))
        if not words:
            return 0.0
        present = set()
        for passage in passages:
            present |= set(terms(passage.chunk.embed_text))
        # words the help centre never uses weigh as much as its rarest ones
        rare = max(idf.values(), default=1.0)
        weights = {w: idf.get(w, rare) for w in words}
        return sum(weights[w] for w in words & present) / sum(weights.values())

    def retrieve(self, question: str, k: int | None = None, filters: dict | None = None) -> Retrieval:
        vector = self.embed(question)
        passages = self.search(question, k, filters, vector)
        similarity = max((p.similarity for p in passages), default=0.0)
        coverage = self.coverage(question, passages[:3])
        config = self.config
        reason = ""
        if not passages:
            reason = "nothing retrieved"
        elif similarity < config.min_similarity and not (
                similarity >= config.lexical_similarity and coverage >= config.lexical_coverage):
            reason = f"best similarity {similarity:.2f} < {config.min_similarity:.2f}"
        elif similarity < config.confident_similarity and coverage < config.min_coverage:
            reason = f"similarity {similarity:.2f} and word coverage {coverage:.2f} < {config.min_coverage:.2f}"
        return Retrieval(question, passages, vector, not reason, similarity, coverage, reason)
