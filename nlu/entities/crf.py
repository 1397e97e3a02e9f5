"""Conditional random field entity tagger (BILOU tags over regex tokens), after Rasa's CRFEntityExtractor."""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Mapping, Sequence
from functools import lru_cache

import sklearn_crfsuite
from sklearn.base import BaseEstimator

from nlu import fresh_process
from nlu.entities._spans import (
    OUTSIDE,
    bilou_to_spans,
    check_lengths,
    entities_to_bilou,
    make_entity,
)
from nlu.entities.gazetteer import TokenTrie
from nlu.entities.intent_cues import IntentCues
from nlu.entities.patterns import compile_patterns
from nlu.entities.tokenizer import Token, tokenize
from nlu.registry import register

@lru_cache(maxsize=65536)
def _shape(word: str) -> str:
    """``Xxxx`` -> ``Xx``, ``ORD-12345`` -> ``X-d``: character classes with runs collapsed."""
    out: list[str] = []
    for c in word:
        cls = "X" if c.isupper() else "x" if c.isalpha() else "d" if c.isdigit() else c
        if not out or out[-1] != cls:
            out.append(cls)
    return "".join(out)


def _seed_crfsuite(seed: int) -> None:
    """crfsuite's online trainers shuffle with the C library's ``rand()``: seed it for reproducibility."""
    try:
        libc = ctypes.CDLL(None)
    except OSError:  # pragma: no cover - platforms without a global symbol namespace
        try:
            libc = ctypes.cdll.msvcrt
        except (OSError, AttributeError):
            return
    srand = getattr(libc, "srand", None)
    if srand is not None:
        srand(ctypes.c_uint(int(seed) + 1))  # glibc treats seeds 0 and 1 alike


@register("CRFEntityExtractor.v1", "CRFEntityExtractor")
class CRFEntityExtractor(BaseEstimator):
    """Linear-chain CRF over hand-made token features (sklearn-crfsuite).

    Tags are BILOU; the label carries role and group (``entity#role@group``), split back on output.
    ``confidence`` is the marginal probability of the predicted tags, the minimum over the span.

    Features per token: lower-cased word, 2-4 character prefixes/suffixes, shape, digit/title/upper
    flags, the words in a +-``window`` window and the bigrams around the token, the position from
    either end, and, when given, membership in lookup ``tables`` (gazetteers) and matches of
    ``patterns`` (regex features, as Rasa's RegexFeaturizer gives the CRF). With
    ``intent_features`` and intents given to ``fit``, every token also reads the message's likely
    intents from a small classifier of the tagger's own (``nlu.entities.intent_cues``).

    Training: crfsuite's L2-regularised SGD (``algorithm="l2sgd"``: ``c2``, ``max_iterations``
    epochs), seeded by ``random_state`` so that a refit gives the same model. ``"lbfgs"`` (which
    also uses the L1 weight ``c1``) reached the same accuracy on SNIPS only after 100 iterations,
    about six times slower with its ~150 BILOU labels. Defaults were tuned on the SNIPS validation split (``bench/entity_choice.py
    --sweep``): about 94.5 micro-F1 on valid, under a minute of training on one core.
    """

    kind = "entity_extractor"
    from_data = {"tables": "lookups", "patterns": "regexes"}
    name = "CRFEntityExtractor"
    uses_intents = True
    intent_features = False  # what models saved before ``intent_features`` existed had
    intent_cues_: IntentCues | None = None

    def __init__(
        self,
        c1: float = 0.05,
        c2: float = 0.1,
        max_iterations: int = 10,
        algorithm: str = "l2sgd",
        random_state: int = 0,
        window: int = 2,
        tables: Mapping[str, Sequence[str]] | None = None,
        patterns: Sequence[tuple[str, str]] | None = None,
        intent_features: bool = True,
    ):
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.algorithm = algorithm
        self.random_state = random_state
        self.window = window
        self.tables = tables
        self.patterns = patterns
        self.intent_features = intent_features

    # -- features -----------------------------------------------------------------------------

    def _features(self, text: str, tokens: Sequence[Token], cues: dict | None = None) -> list:
        """Each token's attributes: names (value 1), plus the message's ``cues`` (intents with
        their probabilities, see ``intent_cues``) when given."""
        n = len(tokens)
        lows = [t.text.lower() for t in tokens]
        feats: list[list[str]] = []
        for i, tok in enumerate(tokens):
            w, low = tok.text, lows[i]
            f = [
                "bias",
                "w=" + low,
                "sh=" + _shape(w),
                "p2=" + low[:2], "p3=" + low[:3], "p4=" + low[:4],
                "s2=" + low[-2:], "s3=" + low[-3:], "s4=" + low[-4:],
                "i=" + str(min(i, 4)),
                "ri=" + str(min(n - 1 - i, 4)),
            ]
            if w.isdigit():
                f.append("digit")
            if w.istitle():
                f.append("title")
            if w.isupper():
                f.append("upper")
            for k in range(1, self.window + 1):
                f.append(f"w-{k}=" + (lows[i - k] if i - k >= 0 else "<s>"))
                f.append(f"w+{k}=" + (lows[i + k] if i + k < n else "</s>"))
            if i:
                f.append("sh-1=" + _shape(tokens[i - 1].text))
            if i + 1 < n:
                f.append("sh+1=" + _shape(tokens[i + 1].text))
            prev = lows[i - 1] if i else "<s>"
            nxt = lows[i + 1] if i + 1 < n else "</s>"
            f.append("b-=" + prev + "|" + low)
            f.append("b+=" + low + "|" + nxt)
            f.append("b-2=" + (lows[i - 2] if i >= 2 else "<s>") + "|" + prev)
            f.append("b+2=" + nxt + "|" + (lows[i + 2] if i + 2 < n else "</s>"))
            feats.append(f)

        if self._trie:
            for first, last, names in self._trie.matches(tokens):
                for k in range(first, last):
                    pos = "U" if last - first == 1 else "B" if k == first else "L" if k == last - 1 else "I"
                    for name in names:
                        feats[k].append(f"gaz={name}")
                        feats[k].append(f"gaz={name}:{pos}")
        if self._compiled:
            for name, regex in self._compiled:
                for m in regex.finditer(text):
                    if m.end() == m.start():
                        continue
                    for k, tok in enumerate(tokens):
                        if tok.start < m.end() and tok.end > m.start():
                            feats[k].append(f"re={name}")
        if cues:
            return [{**dict.fromkeys(attributes, 1.0), **cues} for attributes in feats]
        return feats

    @property
    def _trie(self) -> TokenTrie | None:
        return getattr(self, "trie_", None)

    @property
    def _compiled(self):
        return getattr(self, "compiled_patterns_", None)

    # -- estimator ----------------------------------------------------------------------------

    def fit(self, X: Sequence[str], y: Sequence[Sequence[dict]], intents: Sequence[str | None] | None = None):
        """``intents``: each text's intent (or None), for ``intent_features``.

        Trains in a fresh process (see ``nlu.fresh_process``): crfsuite's shuffles draw from the
        C library's random generator, which other libraries in this process draw from too."""
        check_lengths(X, y)
        if self.algorithm not in ("l2sgd", "lbfgs"):
            raise ValueError(f"algorithm must be 'l2sgd' or 'lbfgs', got {self.algorithm!r}")
        if not any(y):  # nothing to learn: no crfsuite training to keep apart
            return self._fit_here(X, y)
        intents = list(intents) if intents is not None else None
        fitted = fresh_process.call(self._fit_here, list(X), [list(found or ()) for found in y], intents)
        vars(self).update(vars(fitted))
        return self

    def _fit_here(self, X: Sequence[str], y: Sequence[Sequence[dict]], intents=None):
        self.trie_ = TokenTrie(self.tables) if self.tables else None
        self.compiled_patterns_ = compile_patterns(self.patterns) if self.patterns else None
        self.intent_cues_, cues = None, None
        if self.intent_features and intents is not None and any(y):
            self.intent_cues_ = IntentCues(self.random_state)
            cues = self.intent_cues_.fit_out_of_fold(X, intents)
            if cues is None:
                self.intent_cues_ = None  # too little data to learn intents from
        xs, ys = [], []
        for i, (text, ents) in enumerate(zip(X, y)):
            tokens = tokenize(text)
            if not tokens:
                continue
            xs.append(self._features(text, tokens, cues[i] if cues else None))
            ys.append(entities_to_bilou(tokens, ents or ()))
        self.labels_ = sorted({t for tags in ys for t in tags if t != OUTSIDE})
        if not self.labels_:
            self.crf_ = None  # nothing to learn: predicts no entities
            return self
        self.crf_ = sklearn_crfsuite.CRF(
            algorithm=self.algorithm,
            c1=self.c1 if self.algorithm == "lbfgs" else None,
            c2=self.c2,
            max_iterations=self.max_iterations,
            all_possible_transitions=True,
        )
        _seed_crfsuite(self.random_state)
        self.crf_.fit(xs, ys)
        return self

    def predict(self, X: Sequence[str]) -> list[list[dict]]:
        if not hasattr(self, "labels_"):
            raise RuntimeError("CRFEntityExtractor is not fitted; call fit first")
        if self.crf_ is None:
            return [[] for _ in X]
        tagger = self.crf_.tagger_
        cues = self.intent_cues_.predict(X) if self.intent_cues_ is not None else [None] * len(X)
        out = []
        with self._get_lock():
            for text, text_cues in zip(X, cues):
                tokens = tokenize(text)
                if not tokens:
                    out.append([])
                    continue
                tagger.set(self._features(text, tokens, text_cues))
                tags = tagger.tag()
                ents = []
                for first, last, label in bilou_to_spans(tags):
                    conf = min(tagger.marginal(tags[k], k) for k in range(first, last))
                    ents.append(
                        make_entity(text, tokens[first].start, tokens[last - 1].end, label, conf, self.name)
                    )
                out.append(ents)
        return out

    # the pycrfsuite tagger holds per-call state: one predict at a time per instance
    def _get_lock(self) -> threading.Lock:
        lock = self.__dict__.get("_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_lock", threading.Lock())
        return lock

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_lock", None)
        return state
