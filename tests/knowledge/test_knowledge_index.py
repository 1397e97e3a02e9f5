import json

import faiss
import numpy as np
import pytest
from knowledge_helpers import write_doc

from knowledge.documents import KnowledgeError
from knowledge.index import KnowledgeIndex, build_index, ivf_lists, make_faiss_index
from knowledge.retrieval import Retriever


def test_build_writes_index_chunks_and_manifest(help_centre, tmp_path, counting_encoder):
    out = tmp_path / "index"
    report = build_index(help_centre, out, progress=False, encoder=counting_encoder)
    assert sorted(p.name for p in out.iterdir()) == [
        "chunks.json", "embedding_cache.npz", "index.faiss", "manifest.json", "sentences.npy"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["index"] == {"kind": "flat"}
    assert manifest["encoder"] == counting_encoder.name
    assert {d["id"]: d["version"] for d in manifest["documents"]} == {
        "cancel": "1.0", "contact": "1.0", "cookies": "1.1", "delivery": "2.0", "refunds": "1.2"}
    assert manifest["skipped"] == [{"id": "store-credit-draft", "path": "store-credit-draft.md", "reason": "status draft"}]
    index = KnowledgeIndex(out)
    assert len(index) == report.chunks == manifest["chunks"] == 7
    assert index.index.ntotal == 7 and isinstance(index.index, faiss.IndexFlatIP)
    assert report.embedded == 7 and report.reused == 0
    assert len(counting_encoder.texts) == report.texts_encoded == 7 + manifest["sentences"]


def test_drafts_are_never_indexed(built):
    index = KnowledgeIndex(built)
    assert all(c.doc_id != "store-credit-draft" for c in index.chunks)
    assert not any("zebrawood" in c.text.lower() for c in index.chunks)


def test_rebuild_after_editing_one_document_embeds_only_its_changed_chunks(help_centre, tmp_path, counting_encoder):
    out = tmp_path / "index"
    first = build_index(help_centre, out, progress=False, encoder=counting_encoder)
    before = {c.id for c in KnowledgeIndex(out).chunks}
    counting_encoder.texts.clear()
    unchanged = build_index(help_centre, out, progress=False, encoder=counting_encoder)
    assert (unchanged.embedded, unchanged.reused, counting_encoder.texts) == (0, first.chunks, [])

    path = help_centre / "delivery.md"
    path.write_text(path.read_text().replace("costs $19.95", "costs $21.95"))
    edited = build_index(help_centre, out, progress=False, encoder=counting_encoder)
    after = KnowledgeIndex(out)
    new_ids = {c.id for c in after.chunks} - before
    assert edited.embedded == 1 and edited.reused == first.chunks - 1
    assert [c.doc_id for c in after.chunks if c.id in new_ids] == ["delivery"]
    express = next(c for c in after.chunks if c.id in new_ids)
    # the chunk and each of its sentences, nothing else
    assert counting_encoder.texts[0].startswith("Delivery options > Express delivery:")
    assert len(counting_encoder.texts) == 1 + len(express.sentences)
    assert all("$21.95" in t or "Express" in t for t in counting_encoder.texts)
    # the stored vectors are the ones a fresh build computes
    fresh = tmp_path / "fresh"
    build_index(help_centre, fresh, progress=False, encoder=counting_encoder.inner)
    np.testing.assert_allclose(KnowledgeIndex(fresh).sentence_vectors, after.sentence_vectors, atol=1e-5)


def test_a_broken_approved_document_stops_the_build_and_nothing_is_written(help_centre, tmp_path, encoder):
    write_doc(help_centre, "broken.md", "Within {{ policy.unknown_value }} days.\n")
    write_doc(help_centre, "broken-draft.md", "Within {{ policy.another_unknown }} days.\n", status="draft")
    out = tmp_path / "index"
    with pytest.raises(KnowledgeError) as error:
        build_index(help_centre, out, progress=False, encoder=encoder)
    assert [str(p) for p in error.value.problems] == [
        "broken.md:11: error: the policy file has no value for {{ policy.unknown_value }}"]
    assert not out.exists()


def test_documents_not_yet_effective_are_left_out(help_centre, tmp_path, encoder):
    write_doc(help_centre, "future.md", "Future text.\n", effective="2099-01-01")
    report = build_index(help_centre, tmp_path / "index", progress=False, encoder=encoder)
    assert {"id": "future", "path": "future.md", "reason": "effective from 2099-01-01"} in report.skipped
    assert "future" not in report.documents


def test_hnsw_index_agrees_with_flat(help_centre, tmp_path, encoder):
    flat = build_index(help_centre, tmp_path / "flat", "flat", progress=False, encoder=encoder)
    hnsw = build_index(help_centre, tmp_path / "hnsw", "hnsw", progress=False, encoder=encoder,
                       hnsw={"m": 16, "ef_construction": 40, "ef_search": 32})
    assert flat.chunks == hnsw.chunks
    flat_index, hnsw_index = KnowledgeIndex(tmp_path / "flat"), KnowledgeIndex(tmp_path / "hnsw")
    assert isinstance(hnsw_index.index, faiss.IndexHNSWFlat)
    assert hnsw_index.manifest["index"] == {"kind": "hnsw", "m": 16, "ef_construction": 40, "ef_search": 32}
    assert hnsw_index.index.hnsw.efSearch == 32
    for question in ["How long do refunds take?", "How much is express delivery?", "cookie settings"]:
        a = Retriever(flat_index, encoder).search(question, k=3)
        b = Retriever(hnsw_index, encoder).search(question, k=3)
        assert [p.chunk_id for p in a] == [p.chunk_id for p in b]
        assert [round(p.similarity, 4) for p in a] == [round(p.similarity, 4) for p in b]
    filtered = Retriever(hnsw_index, encoder).search("How long does it take?", k=10, filters={"owner": "logistics"})
    assert {p.doc_id for p in filtered} == {"delivery"}


def test_hnsw_recall_against_exact_search_on_random_vectors():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((5000, 64)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[:100] + 0.05 * rng.standard_normal((100, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    _, exact = make_faiss_index(data, "flat").search(queries, 10)
    _, approx = make_faiss_index(data, "hnsw", m=16, ef_construction=40, ef_search=64).search(queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.9
    with pytest.raises(ValueError, match="unknown index kind 'pq'"):
        make_faiss_index(data, "pq")


def test_ivf_recall_against_exact_search_on_clustered_vectors():
    rng = np.random.default_rng(1)
    centres = rng.standard_normal((50, 64)).astype(np.float32)
    data = np.repeat(centres, 100, axis=0) + 0.3 * rng.standard_normal((5000, 64)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = data[::50] + 0.05 * rng.standard_normal((100, 64)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    _, exact = make_faiss_index(data, "flat").search(queries, 10)
    ivf = make_faiss_index(data, "ivf", nprobe=8)
    assert ivf.nlist == ivf_lists(5000) == 70 and ivf.nprobe == 8
    _, approx = ivf.search(queries, 10)
    assert np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)]) >= 0.9
    assert np.allclose(ivf.reconstruct(7), data[7])
    assert ivf_lists(80) == 2 and ivf_lists(10) == 1 and ivf_lists(100_000, nlist=64) == 64


def test_ivf_index_agrees_with_flat_on_the_help_centre(help_centre, tmp_path, encoder):
    build_index(help_centre, tmp_path / "flat", "flat", progress=False, encoder=encoder)
    build_index(help_centre, tmp_path / "ivf", "ivf", progress=False, encoder=encoder, ivf={"nprobe": 4})
    flat_index, ivf_index = KnowledgeIndex(tmp_path / "flat"), KnowledgeIndex(tmp_path / "ivf")
    assert isinstance(ivf_index.index, faiss.IndexIVFFlat)
    assert ivf_index.manifest["index"] == {"kind": "ivf", "nlist": 1, "nprobe": 4}
    for question in ["How long do refunds take?", "How much is express delivery?"]:
        a = Retriever(flat_index, encoder).search(question, k=3)
        b = Retriever(ivf_index, encoder).search(question, k=3)
        assert [p.chunk_id for p in a] == [p.chunk_id for p in b]
    filtered = Retriever(ivf_index, encoder).search("How long does it take?", k=10, filters={"owner": "logistics"})
    assert {p.doc_id for p in filtered} == {"delivery"}


def test_filters_by_document_owner_and_tags(built, encoder):
    retriever = Retriever(KnowledgeIndex(built), encoder)
    question = "How long does it take?"
    assert {p.doc_id for p in retriever.search(question, k=10, filters={"doc_id": "delivery"})} == {"delivery"}
    assert {p.doc_id for p in retriever.search(question, k=10, filters={"owner": "logistics"})} == {"delivery"}
    assert {p.doc_id for p in retriever.search(question, k=10, filters={"tags": ["refunds", "orders"]})} == {"refunds", "cancel"}
    assert retriever.search(question, filters={"doc_id": "no-such-document"}) == []
    with pytest.raises(ValueError):
        retriever.search(question, filters={"colour": "red"})


def test_hybrid_ranking_fuses_dense_and_lexical(built, encoder):
    retriever = Retriever(KnowledgeIndex(built), encoder)
    passages = retriever.search("cancellation fee", k=3)
    top = passages[0]
    assert top.doc_id == "cancel" and top.dense_rank == 1 and top.lexical_rank == 1
    assert top.score == pytest.approx(2 / 61)
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


def test_index_built_with_another_encoder_is_refused(built):
    class Other:
        name, dimension = "another-encoder", 384

    with pytest.raises(ValueError, match="rebuild"):
        Retriever(KnowledgeIndex(built), Other())


def test_progress_callback(help_centre, tmp_path, encoder):
    calls = []
    build_index(help_centre, tmp_path / "index", progress=lambda done, total: calls.append((done, total)), encoder=encoder)
    assert calls and calls[-1][0] == calls[-1][1]


def test_loading_a_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(KnowledgeError, match="run `desk index`"):
        KnowledgeIndex(tmp_path / "nothing")
