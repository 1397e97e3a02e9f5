"""A token trie over lookup-table values: finds whole-word, case-insensitive matches in O(tokens x depth)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from nlu.entities.tokenizer import Token, tokenize

_END = None  # trie key holding the table names of a complete value


def _keys(tokens: Sequence[Token]) -> list[str]:
    """Case-folded token texts; a token preceded by whitespace gets a leading space.

    So ``e-mail`` matches ``E-Mail`` but not ``e - mail``, and whitespace runs count as one.
    """
    keys = []
    for i, tok in enumerate(tokens):
        key = tok.text.casefold()
        if i and tok.start > tokens[i - 1].end:
            key = " " + key
        keys.append(key)
    return keys


class TokenTrie:
    """Values of named tables, matched token by token."""

    def __init__(self, tables: Mapping[str, Iterable[str]] | None = None):
        self.root: dict = {}
        self.size = 0
        for name, values in (tables or {}).items():
            for value in values:
                self.add(str(name), str(value))

    def add(self, name: str, value: str) -> None:
        keys = _keys(tokenize(value))
        if not keys:
            return
        node = self.root
        for i, key in enumerate(keys):
            node = node.setdefault(key if i else key.lstrip(" "), {})
        names = node.setdefault(_END, [])
        if name not in names:
            names.append(name)
            self.size += 1

    def __bool__(self) -> bool:
        return bool(self.root)

    def matches(self, tokens: Sequence[Token]) -> list[tuple[int, int, list[str]]]:
        """Every ``(first token, last token + 1, table names)`` whose tokens spell a value."""
        keys = _keys(tokens)
        found = []
        for i in range(len(keys)):
            node = self.root.get(keys[i].lstrip(" "))
            j = i + 1
            while node is not None:
                if _END in node:
                    found.append((i, j, node[_END]))
                if j == len(keys):
                    break
                node = node.get(keys[j])
                j += 1
        return found

    def longest_matches(self, tokens: Sequence[Token]) -> list[tuple[int, int, list[str]]]:
        """Non-overlapping matches, left to right, taking the longest match at each position."""
        best: dict[int, tuple[int, int, list[str]]] = {}
        for m in self.matches(tokens):
            if m[0] not in best or m[1] > best[m[0]][1]:
                best[m[0]] = m
        out, covered_until = [], 0
        for start in sorted(best):
            if start >= covered_until:
                out.append(best[start])
                covered_until = best[start][1]
        return out
