"""Building and loading the knowledge index.

``build_index`` reads the approved documents, cuts them into chunks, embeds what it has not
embedded before (an embedding cache keyed by chunk id lives next to the index) and writes, under
the output directory (``models/knowledge`` by default):

- ``index.faiss``: the chunk vectors, exact inner-product search (``IndexFlatIP``, the default)
  or approximate (``IndexHNSWFlat``, ``kind="hnsw"``; ``IndexIVFFlat``, ``kind="ivf"``, which
  builds much faster than HNSW on millions of chunks);
- ``chunks.json``: the chunks (text, sentences, document id, title, version, owner, tags, path);
- ``sentences.npy``: one vector per chunk sentence, for picking the sentences of an answer;
- ``embedding_cache.npz``: vectors by chunk id, so that a rebuild embeds only changed chunks;
- ``manifest.json``: the documents indexed (id, title, version), the documents left out and why,
  the encoder and the index settings.

The manifest is written last and names the build, so a reader never mixes two builds.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .chunks import Chunk, chunk_document
from .documents import KnowledgeError, Problem, find_policy_file, load_documents, load_policy
from .lexical import BM25

FORMAT = 1
DEFAULT_KNOWLEDGE = "data/knowledge"
DEFAULT_OUT = "models/knowledge"
KINDS = ("flat", "hnsw", "ivf")
HNSW_DEFAULTS = {"m": 32, "ef_construction": 80, "ef_search": 64}
IVF_DEFAULTS = {"nlist": None, "nprobe": 16}  # nlist None: about sqrt(chunks)
IVF_MIN_PER_LIST = 39  # faiss's k-means wants this many training points per list
IVF_TRAINING_PER_LIST = 64  # k-means on a sample: fast to build, still well placed lists


@dataclass
class BuildReport:
    out_dir: Path
    kind: str
    documents: list[str]  # ids of the documents indexed
    skipped: list[dict]  # {"id", "path", "reason"}: drafts, not yet effective
    chunks: int
    embedded: int  # chunks embedded by this build
    reused: int  # chunks whose vectors came from the cache
    texts_encoded: int  # chunk and sentence texts sent to the encoder
    seconds: float
    problems: list[Problem] = field(default_factory=list)  # warnings


def _sentence_text(chunk: Chunk, sentence: dict) -> str:
    return f"{chunk.headings[-1]}: {sentence['text']}"


class _Cache:
    """Vectors by chunk id: the chunk's vector and one per sentence."""

    def __init__(self, path: Path, encoder: str):
        self.path, self.encoder = path, encoder
        self.items: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        if not path.is_file():
            return
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["encoder"]) != encoder:
                    return
                offsets, chunk_vectors, sentence_vectors = data["offsets"], data["chunks"], data["sentences"]
                for row, cid in enumerate(data["ids"]):
                    self.items[str(cid)] = (chunk_vectors[row], sentence_vectors[offsets[row] : offsets[row + 1]])
        except (OSError, KeyError, ValueError):
            self.items = {}  # an unreadable cache only costs time

    def save(self, chunks: list[Chunk]) -> None:
        ids = [c.id for c in chunks]
        counts = [len(self.items[c][1]) for c in ids]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        dim = next((v.shape[-1] for v, _ in self.items.values()), 0)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(
            tmp, encoder=np.array(self.encoder), ids=np.array(ids, dtype="U64"), offsets=offsets,
            chunks=np.stack([self.items[c][0] for c in ids]) if ids else np.zeros((0, dim), np.float32),
            sentences=np.concatenate([self.items[c][1] for c in ids]) if ids else np.zeros((0, dim), np.float32),
        )
        os.replace(tmp, self.path)


def ivf_lists(n: int, nlist: int | None = None) -> int:
    """The number of inverted lists for ``n`` vectors: ``nlist`` or about sqrt(n), never more
    than the data can train."""
    wanted = nlist or int(np.sqrt(max(n, 1)))
    return max(1, min(wanted, n // IVF_MIN_PER_LIST))


def make_faiss_index(vectors: np.ndarray, kind: str = "flat", m: int = 32, ef_construction: int = 80,
                     ef_search: int = 64, nlist: int | None = None, nprobe: int = 16):
    """An exact (``flat``), HNSW or IVF inner-product index holding ``vectors`` (rows = ids)."""
    import faiss

    dim = vectors.shape[1]
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.hnsw.efSearch = ef_search
    elif kind == "ivf":
        lists = ivf_lists(len(vectors), nlist)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, lists, faiss.METRIC_INNER_PRODUCT)
        sample = vectors
        if len(vectors) > lists * IVF_TRAINING_PER_LIST:
            rows = np.random.default_rng(0).choice(len(vectors), lists * IVF_TRAINING_PER_LIST, replace=False)
            sample = vectors[np.sort(rows)]
        index.train(sample if len(sample) else np.zeros((1, dim), np.float32))
        index.nprobe = min(nprobe, lists)
        index.make_direct_map()  # chunk vectors are read back by id
    else:
        raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)}")
    if len(vectors):
        index.add(vectors)
    return index


def _progress_bar(total: int, progress) -> tuple[Callable[[int], None] | None, Callable[[], None]]:
    if not progress or not total:
        return None, lambda: None
    if callable(progress):
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            progress(done[0], total)

        return step, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("embedding"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), transient=True)
    task = bar.add_task("embed", total=total)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop


def build_index(knowledge_dir: str | Path = DEFAULT_KNOWLEDGE, out_dir: str | Path = DEFAULT_OUT, kind: str = "flat",
                progress: bool | Callable[[int, int], None] = True, *, encoder=None, policy: dict | None = None,
                policy_file: str | Path | None = None, hnsw: dict | None = None, ivf: dict | None = None,
                today: date | None = None) -> BuildReport:
    """Index the approved, effective documents of ``knowledge_dir`` into ``out_dir``.

    ``progress``: ``True`` shows a rich progress bar while embedding, a callable gets
    ``(done, total)`` texts. ``encoder`` is anything with ``encode(texts, progress=)``, ``name``
    and ``dimension`` (default: the shared all-MiniLM-L6-v2 encoder, loaded only when something
    has to be embedded). Errors in a document that would be indexed (or whose status is unknown)
    stop the build with :class:`KnowledgeError` and nothing is written; drafts are not read further.
    """
    started = time.perf_counter()
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; use one of {', '.join(KINDS)}")
    knowledge_dir, out_dir = Path(knowledge_dir), Path(out_dir)
    today = today or date.today()
    policy_path = Path(policy_file) if policy_file else find_policy_file(knowledge_dir)
    documents, problems = load_documents(knowledge_dir, policy if policy is not None else load_policy(policy_path))
    drafts = {d.rel_path for d in documents if d.status == "draft"}
    errors = [p for p in problems if p.severity == "error" and p.path not in drafts]
    if errors:
        raise KnowledgeError(errors)
    selected, skipped = [], []
    for document in documents:
        if document.status != "approved":
            skipped.append({"id": document.id, "path": document.rel_path, "reason": f"status {document.status}"})
        elif document.effective and document.effective > today:
            skipped.append({"id": document.id, "path": document.rel_path, "reason": f"effective from {document.effective}"})
        else:
            selected.append(document)
    chunks = [chunk for document in selected for chunk in chunk_document(document)]

    if encoder is None:
        from .embeddings import model_files

        encoder_name = model_files()[0]
    else:
        encoder_name = encoder.name
    out_dir.mkdir(parents=True, exist_ok=True)
    cache = _Cache(out_dir / "embedding_cache.npz", encoder_name)
    missing = [c for c in chunks if c.id not in cache.items]
    texts = [t for c in missing for t in [c.embed_text, *(_sentence_text(c, s) for s in c.sentences)]]
    if texts:
        if encoder is None:
            from .embeddings import Encoder

            encoder = Encoder(threads=min(4, os.cpu_count() or 1))
        step, stop = _progress_bar(len(texts), progress)
        try:
            vectors = encoder.encode(texts, progress=step)
        finally:
            stop()
        row = 0
        for chunk in missing:
            n = 1 + len(chunk.sentences)
            cache.items[chunk.id] = (vectors[row], vectors[row + 1 : row + n])
            row += n
    cache.items = {c.id: cache.items[c.id] for c in chunks}
    dim = encoder.dimension if encoder is not None else next((v.shape[-1] for v, _ in cache.items.values()), 384)

    chunk_vectors = np.stack([cache.items[c.id][0] for c in chunks]) if chunks else np.zeros((0, dim), np.float32)
    sentence_vectors = (np.concatenate([cache.items[c.id][1] for c in chunks]) if chunks
                        else np.zeros((0, dim), np.float32)).astype(np.float32)
    settings = {"hnsw": {**HNSW_DEFAULTS, **(hnsw or {})}, "ivf": {**IVF_DEFAULTS, **(ivf or {})}}.get(kind, {})
    import faiss

    index = make_faiss_index(chunk_vectors, kind, **settings)
    if kind == "ivf":
        settings = {**settings, "nlist": int(index.nlist)}
    build_id = uuid.uuid4().hex
    manifest = {
        "format": FORMAT,
        "build_id": build_id,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "encoder": encoder_name,
        "dimension": int(dim),
        "index": {"kind": kind, **settings},
        "knowledge_dir": str(knowledge_dir),
        "policy_file": str(policy_path) if policy_path else None,
        "documents": [
            {"id": d.id, "title": d.title, "version": d.version, "owner": d.owner, "path": d.rel_path,
             "effective": str(d.effective), "review_by": str(d.review_by), "tags": d.tags,
             "chunks": sum(1 for c in chunks if c.doc_id == d.id)}
            for d in selected
        ],
        "skipped": skipped,
        "chunks": len(chunks),
        "sentences": int(len(sentence_vectors)),
        "embedded": len(missing),
        "reused": len(chunks) - len(missing),
    }

    def write(name: str, save: Callable[[str], None]) -> None:
        tmp = out_dir / f".{name}.{build_id}.tmp"
        save(str(tmp))
        os.replace(tmp, out_dir / name)

    write("index.faiss", lambda p: faiss.write_index(index, p))
    def save_vectors(path: str) -> None:
        with open(path, "wb") as handle:
            np.save(handle, sentence_vectors)

    write("sentences.npy", save_vectors)
    write("chunks.json", lambda p: Path(p).write_text(json.dumps(
        {"build_id": build_id, "chunks": [c.to_dict() for c in chunks]}, ensure_ascii=False), encoding="utf-8"))
    cache.save(chunks)
    write("manifest.json", lambda p: Path(p).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8"))
    return BuildReport(out_dir, kind, [d.id for d in selected], skipped, len(chunks), len(missing),
                       len(chunks) - len(missing), len(texts), time.perf_counter() - started,
                       [p for p in problems if p.severity != "error"])


class KnowledgeIndex:
    """A built index, loaded: chunks, their vectors (FAISS) and sentence vectors, and BM25."""

    def __init__(self, directory: str | Path, ef_search: int | None = None, nprobe: int | None = None):
        import faiss

        self.directory = Path(directory)
        try:
            self.manifest = json.loads((self.directory / "manifest.json").read_text(encoding="utf-8"))
            stored = json.loads((self.directory / "chunks.json").read_text(encoding="utf-8"))
            self.index = faiss.read_index(str(self.directory / "index.faiss"))
            self.sentence_vectors = np.load(self.directory / "sentences.npy")
        except (OSError, ValueError, RuntimeError) as exc:  # faiss raises RuntimeError
            raise KnowledgeError([Problem(str(self.directory), 1, "error",
                                          f"no usable knowledge index here (run `desk index`): {exc}")]) from None
        if stored.get("build_id") != self.manifest.get("build_id"):
            raise KnowledgeError([Problem(str(self.directory), 1, "error", "the index is being rebuilt; load it again")])
        self.chunks = [Chunk.from_dict(c) for c in stored["chunks"]]
        self.kind = self.manifest["index"]["kind"]
        if self.kind == "hnsw":
            self.index.hnsw.efSearch = int(ef_search or self.manifest["index"].get("ef_search", 64))
        self.ef_search = getattr(getattr(self.index, "hnsw", None), "efSearch", None)
        if self.kind == "ivf":
            self.index.nprobe = int(nprobe or self.manifest["index"].get("nprobe", IVF_DEFAULTS["nprobe"]))
            self.index.make_direct_map()
        counts = [len(c.sentences) for c in self.chunks]
        self.sentence_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.bm25 = BM25([c.embed_text for c in self.chunks])
        self.documents = {d["id"]: d for d in self.manifest["documents"]}

    @property
    def encoder_name(self) -> str:
        return self.manifest["encoder"]

    def __len__(self) -> int:
        return len(self.chunks)

    def rows(self, filters: dict[str, Any] | None) -> np.ndarray | None:
        """Chunk rows that pass ``filters`` (``doc_id``, ``owner``, ``tags``: a value or a list;
        ``tags`` matches chunks with any of them); ``None`` when there is no filter."""
        if not filters:
            return None
        unknown = set(filters) - {"doc_id", "owner", "tags"}
        if unknown:
            raise ValueError(f"unknown filter {', '.join(sorted(unknown))}; use doc_id, owner or tags")
        wanted = {k: {v} if isinstance(v, str) else set(v) for k, v in filters.items() if v is not None}
        keep = [
            row for row, chunk in enumerate(self.chunks)
            if ("doc_id" not in wanted or chunk.doc_id in wanted["doc_id"])
            and ("owner" not in wanted or chunk.owner in wanted["owner"])
            and ("tags" not in wanted or wanted["tags"] & set(chunk.tags))
        ]
        return np.array(keep, dtype=np.int64)

    def dense_search(self, vector: np.ndarray, k: int, rows: np.ndarray | None = None) -> list[tuple[int, float]]:
        import faiss

        if not len(self.chunks) or (rows is not None and not len(rows)):
            return []
        k = min(k, len(self.chunks))
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        if rows is None:
            scores, ids = self.index.search(query, k)
        else:
            selector = faiss.IDSelectorBatch(rows)
            if self.kind == "hnsw":
                params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.ef_search, k))
            elif self.kind == "ivf":  # a filter may leave the probed lists nearly empty: probe them all
                params = faiss.SearchParametersIVF(sel=selector, nprobe=int(self.index.nlist))
            else:
                params = faiss.SearchParameters(sel=selector)
            scores, ids = self.index.search(query, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def chunk_vector(self, row: int) -> np.ndarray:
        return self.index.reconstruct(int(row))

    def sentence_rows(self, row: int) -> range:
        return range(int(self.sentence_offsets[row]), int(self.sentence_offsets[row + 1]))


def load_index(directory: str | Path = DEFAULT_OUT, ef_search: int | None = None, nprobe: int | None = None
               ) -> KnowledgeIndex:
    return KnowledgeIndex(directory, ef_search, nprobe)


def main_index(args) -> int:
    """``desk index [--knowledge DIR] [--out DIR] [--kind flat|hnsw|ivf] [--config FILE]``: build the
    index with a progress bar and print what was indexed; exit 2 with ``path:line: error: ...``
    lines when a document cannot be used."""
    from .cli import cmd_index

    return cmd_index(args)
