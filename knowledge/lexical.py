"""Okapi BM25 over chunks (stemmed content words), with an inverted index."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np

from .text import terms


class BM25:
    def __init__(self, texts: list[str], k1: float = 1.2, b: float = 0.75):
        self.k1, self.b = k1, b
        self.size = len(texts)
        postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        lengths = np.zeros(self.size, dtype=np.float32)
        for row, text in enumerate(texts):
            counts = Counter(terms(text))
            lengths[row] = sum(counts.values())
            for term, count in counts.items():
                postings[term].append((row, count))
        self.average = float(lengths.mean()) if self.size else 0.0
        self._norm = k1 * (1 - b + b * lengths / max(self.average, 1e-9))
        self._postings = {
            term: (np.array([r for r, _ in rows], dtype=np.int64), np.array([c for _, c in rows], dtype=np.float32))
            for term, rows in postings.items()
        }
        self.idf = {term: math.log(1 + (self.size - len(rows) + 0.5) / (len(rows) + 0.5)) for term, rows in postings.items()}

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(self.size, dtype=np.float32)
        for term in set(terms(query)):
            if term not in self._postings:
                continue
            rows, tf = self._postings[term]
            out[rows] += self.idf[term] * tf * (self.k1 + 1) / (tf + self._norm[rows])
        return out

    def search(self, query: str, k: int, allowed: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The ``k`` best rows with a positive score (only ``allowed`` rows when given)."""
        scores = self.scores(query)
        if allowed is not None:
            mask = np.zeros(self.size, dtype=bool)
            mask[allowed] = True
            scores[~mask] = 0.0
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(r), float(scores[r])) for r in top if scores[r] > 0]
