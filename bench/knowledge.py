"""Knowledge-base benchmark: index building, vector search at scale, answer latency.

Measures, on this machine:

- building the help-centre index (data/knowledge) from scratch: chunks and encoder texts per
  second, and the no-change rebuild (every vector from the embedding cache);
- vector search at 1,000 chunks (real all-MiniLM-L6-v2 embeddings of help-centre-like texts,
  queried with real questions) and at 100,000 and 1,000,000 chunks (synthetic random unit vectors,
  384 dimensions, queried with noisy copies of stored vectors so that each query has a true
  nearest neighbour): build rate, single-query latency p50/p99 of the exact index (IndexFlatIP)
  and of the two approximate ones, IVF (IndexIVFFlat, about sqrt(n) lists, nprobe=16, as
  ``desk index --kind ivf`` builds it) and HNSW (IndexHNSWFlat, M=16, efConstruction=40,
  efSearch=64), and their recall@10 and recall@1 against the exact results;
- answer latency of the default (extractive) answerer on the help-centre index, and of retrieval
  alone, one question at a time.

A time budget (``--budget-s``, default 300) bounds the run: a size whose HNSW build would not fit
in what is left is reported as skipped, with the rate measured so far (IVF is built first). Writes
``bench/results/knowledge.json`` and ``bench/results/knowledge.md`` and prints the table.

    python bench/knowledge.py
    python bench/knowledge.py --sizes 1000 100000 --budget-s 120
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "bench" / "results"
KNOWLEDGE = ROOT / "data" / "knowledge"
QUESTIONS = ROOT / "tests" / "knowledge_questions.jsonl"
HNSW = {"m": 16, "ef_construction": 40, "ef_search": 64}
IVF_NPROBE = 16
DIM = 384


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 1e6
    except ImportError:
        return float("nan")


def questions() -> list[str]:
    return [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]


# Help-centre index and answers -------------------------------------------------------------


def bench_help_centre(encoder) -> dict:
    from knowledge.answer import KnowledgeAnswerer
    from knowledge.index import KnowledgeIndex, build_index

    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        report = build_index(KNOWLEDGE, out, progress=False, encoder=encoder)
        scratch_s = time.perf_counter() - started
        started = time.perf_counter()
        again = build_index(KNOWLEDGE, out, progress=False, encoder=encoder)
        rebuild_s = time.perf_counter() - started
        started = time.perf_counter()
        answerer = KnowledgeAnswerer(KnowledgeIndex(out), encoder=encoder)
        load_s = time.perf_counter() - started
        asked = questions()
        for question in asked[:5]:  # warm-up
            answerer.answer(question)
        answer_ms, retrieve_ms = [], []
        for _ in range(3):
            for question in asked:
                started = time.perf_counter()
                answerer.answer(question)
                answer_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                answerer.retriever.retrieve(question)
                retrieve_ms.append((time.perf_counter() - started) * 1000)
    return {
        "documents": len(report.documents),
        "chunks": report.chunks,
        "encoder_texts": report.texts_encoded,
        "build_s": round(scratch_s, 2),
        "build_chunks_per_s": round(report.chunks / scratch_s, 1),
        "build_texts_per_s": round(report.texts_encoded / scratch_s, 1),
        "rebuild_unchanged_s": round(rebuild_s, 3),
        "rebuild_embedded": again.embedded,
        "load_s": round(load_s, 3),
        "answers": len(answer_ms),
        "answer_p50_ms": round(percentile(answer_ms, 50), 2),
        "answer_p99_ms": round(percentile(answer_ms, 99), 2),
        "retrieve_p50_ms": round(percentile(retrieve_ms, 50), 2),
        "retrieve_p99_ms": round(percentile(retrieve_ms, 99), 2),
    }


# Vector search at scale --------------------------------------------------------------------


def real_vectors(encoder, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, float]:
    """``n`` help-centre-like chunks (sentences of the help centre recombined) and the questions,
    embedded; returns (chunks, queries, seconds spent encoding the chunks)."""
    from knowledge.documents import load_documents

    documents, _ = load_documents(KNOWLEDGE)
    sentences = [s.text for d in documents if d.status == "approved" for s in d.sentences()]
    rng = random.Random(seed)
    texts = [" ".join(rng.sample(sentences, 3)) for _ in range(n)]
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    seconds = time.perf_counter() - started
    queries = encoder.encode(questions())
    queries = np.concatenate([queries] * (200 // len(queries) + 1))[:200]
    return vectors, queries, seconds


def random_vectors(n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = np.empty((n, DIM), dtype=np.float32)
    for begin in range(0, n, 100_000):  # in slices: no float64 temporaries of the whole matrix
        block = rng.standard_normal((min(100_000, n - begin), DIM), dtype=np.float32)
        data[begin : begin + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    picks = rng.choice(n, n_queries, replace=False)
    queries = data[picks] + rng.standard_normal((n_queries, DIM), dtype=np.float32) * 0.03
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return data, queries.astype(np.float32)


def single_query_latency(index, queries: np.ndarray, k: int = 10) -> tuple[list[float], np.ndarray]:
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        _, ids = index.search(query.reshape(1, -1), k)
        times.append((time.perf_counter() - started) * 1000)
        found.append(ids[0])
    return times, np.array(found)


def bench_size(n: int, data: np.ndarray, queries: np.ndarray, deadline: float, note: str) -> dict:
    import faiss

    from knowledge.index import make_faiss_index

    result: dict = {"chunks": n, "vectors": note, "queries": len(queries)}
    started = time.perf_counter()
    flat = make_faiss_index(data, "flat")
    flat_s = time.perf_counter() - started
    times, _ = single_query_latency(flat, queries)
    _, exact = flat.search(queries, 10)  # ground truth, batched
    result.update({
        "flat_build_s": round(flat_s, 3), "flat_build_per_s": round(n / max(flat_s, 1e-9)),
        "flat_p50_ms": round(percentile(times, 50), 3), "flat_p99_ms": round(percentile(times, 99), 3),
        "flat_index_mb": round(flat.ntotal * DIM * 4 / 1e6, 1),
    })
    del flat

    started = time.perf_counter()
    ivf = make_faiss_index(data, "ivf", nprobe=IVF_NPROBE)
    ivf_s = time.perf_counter() - started
    times, approx = single_query_latency(ivf, queries)
    result.update({"ivf_nlist": int(ivf.nlist), "ivf_build_s": round(ivf_s, 2), "ivf_build_per_s": round(n / ivf_s),
                   "ivf_p50_ms": round(percentile(times, 50), 3), "ivf_p99_ms": round(percentile(times, 99), 3),
                   **recalls("ivf", approx, exact)})
    del ivf

    index = faiss.IndexHNSWFlat(DIM, HNSW["m"], faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW["ef_construction"]
    started = time.perf_counter()
    step = max(1000, n // 20)
    for begin in range(0, n, step):
        index.add(data[begin : begin + step])
        elapsed = time.perf_counter() - started
        left = deadline - time.perf_counter()
        projected = elapsed / index.ntotal * (n - index.ntotal)
        if index.ntotal < n and projected > left:
            result.update({"hnsw": "skipped: the build would not fit in the time budget",
                           "hnsw_built": index.ntotal, "hnsw_build_per_s": round(index.ntotal / elapsed),
                           "hnsw_projected_build_s": round(elapsed + projected, 1)})
            return result
    hnsw_s = time.perf_counter() - started
    index.hnsw.efSearch = HNSW["ef_search"]
    times, approx = single_query_latency(index, queries)
    result.update({
        "hnsw_build_s": round(hnsw_s, 2), "hnsw_build_per_s": round(n / hnsw_s),
        "hnsw_p50_ms": round(percentile(times, 50), 3), "hnsw_p99_ms": round(percentile(times, 99), 3),
        **recalls("hnsw", approx, exact),
        "hnsw_index_mb": round((index.ntotal * DIM * 4 + index.ntotal * HNSW["m"] * 2 * 4) / 1e6, 1),
    })
    return result


def recalls(kind: str, approx: np.ndarray, exact: np.ndarray) -> dict:
    """recall@10 and recall@1 of approximate results against the exact ones."""
    return {f"{kind}_recall@10": round(float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])), 4),
            f"{kind}_recall@1": round(float(np.mean(approx[:, 0] == exact[:, 0])), 4)}


# Report ----------------------------------------------------------------------------------------


def markdown(results: dict) -> str:
    hc = results["help_centre"]
    lines = [
        "# Knowledge base",
        "",
        f"Help centre: {hc['documents']} approved documents, {hc['chunks']} chunks ({hc['encoder_texts']} encoder "
        f"texts: chunks and their sentences).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| index build from scratch (s) | {hc['build_s']} |",
        f"| build rate: chunks/s (encoder texts/s) | {hc['build_chunks_per_s']} ({hc['build_texts_per_s']}) |",
        f"| rebuild with nothing changed (s; chunks embedded) | {hc['rebuild_unchanged_s']}; {hc['rebuild_embedded']} |",
        f"| index load (s) | {hc['load_s']} |",
        f"| answer, extractive default: p50 / p99 ms ({hc['answers']} questions) | {hc['answer_p50_ms']} / {hc['answer_p99_ms']} |",
        f"| retrieval alone (embed + hybrid search): p50 / p99 ms | {hc['retrieve_p50_ms']} / {hc['retrieve_p99_ms']} |",
        "",
        f"Vector search, single queries, k=10; IVF about sqrt(n) lists, nprobe={IVF_NPROBE}; HNSW M={HNSW['m']}, "
        f"efConstruction={HNSW['ef_construction']}, efSearch={HNSW['ef_search']}:",
        "",
        "| chunks | vectors | exact build /s | exact p50 / p99 ms | IVF build s (/s) | IVF p50 / p99 ms | IVF recall@10 / @1 "
        "| HNSW build s (/s) | HNSW p50 / p99 ms | HNSW recall@10 | HNSW recall@1 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["search"]:
        if "hnsw_build_s" in r:
            hnsw = (f"{r['hnsw_build_s']} ({r['hnsw_build_per_s']:,})", f"{r['hnsw_p50_ms']} / {r['hnsw_p99_ms']}",
                    f"{r['hnsw_recall@10']:.3f}", f"{r['hnsw_recall@1']:.3f}")
        elif "hnsw" in r:
            hnsw = (f"not built: {r['hnsw_built']:,} added at {r['hnsw_build_per_s']:,}/s, "
                    f"projected {r['hnsw_projected_build_s']} s", "—", "—", "—")
        else:
            hnsw = ("—", "—", "—", "—")
        ivf = (f"{r['ivf_build_s']} ({r['ivf_build_per_s']:,})", f"{r['ivf_p50_ms']} / {r['ivf_p99_ms']}",
               f"{r['ivf_recall@10']:.3f} / {r['ivf_recall@1']:.3f}") if "ivf_build_s" in r else ("—", "—", "—")
        lines.append(f"| {r['chunks']:,} | {r['vectors']} | {r['flat_build_per_s']:,} | "
                     f"{r['flat_p50_ms']} / {r['flat_p99_ms']} | {' | '.join(ivf)} | {' | '.join(hnsw)} |")
    for note in results["notes"]:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[1000, 100_000, 1_000_000])
    parser.add_argument("--budget-s", type=float, default=300.0, help="time budget of the whole run (default: 300 s)")
    parser.add_argument("--queries", type=int, default=200, help="single queries per size (default: 200; 1M: half)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args(argv)
    import faiss

    from knowledge.embeddings import Encoder

    began = time.perf_counter()
    deadline = began + args.budget_s
    encoder = Encoder(threads=min(4, os.cpu_count() or 1))
    help_centre = bench_help_centre(encoder)
    print(json.dumps(help_centre), flush=True)
    search, notes = [], []
    for n in args.sizes:
        if time.perf_counter() > deadline:
            notes.append(f"{n:,} chunks: not run, the time budget was spent.")
            continue
        if n <= 10_000:
            data, queries, encode_s = real_vectors(encoder, n)
            note = "real (MiniLM)"
            notes.append(f"{n:,} real chunks embedded in {encode_s:.1f} s ({n / encode_s:.0f} chunks/s).")
        else:
            data, queries = random_vectors(n, args.queries if n < 1_000_000 else args.queries // 2)
            note = "random unit"
        result = bench_size(n, data, queries, deadline, note)
        if note.startswith("real"):
            result["encode_chunks_per_s"] = round(n / encode_s, 1)
        result["rss_mb_after"] = round(rss_mb())
        del data
        print(json.dumps(result), flush=True)
        search.append(result)
    notes.append(
        "Random unit vectors in 384 dimensions have no cluster structure, the hardest case for approximate search: "
        "each query is a noisy copy of one stored vector (cosine about 0.86), and its other nine exact "
        "neighbours are near-ties (cosine about 0.15), so recall@10 mostly measures how an approximate index orders "
        "noise, while recall@1 says whether it finds the one true neighbour. Real embeddings (the "
        "1,000 row) cluster and are much easier. Exact search reads every vector for each query "
        "(154 MB at 100k, 1.5 GB at 1M), so its latency grows linearly with the number of chunks."
    )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "faiss": faiss.__version__,
                    "faiss_threads": faiss.omp_get_max_threads(), "load_average_end": load},
        "hnsw": HNSW,
        "ivf": {"nlist": "about sqrt(n)", "nprobe": IVF_NPROBE},
        "help_centre": help_centre,
        "search": search,
        "notes": notes,
        "total_s": round(time.perf_counter() - began, 1),
    }
    notes.append(f"Machine: {os.cpu_count()} CPUs (shared), faiss {faiss.__version__}; load average at the end "
                 f"{[round(x, 2) for x in load] if load else '—'}; whole run {results['total_s']} s.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "knowledge.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "knowledge.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
