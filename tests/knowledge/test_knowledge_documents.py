from pathlib import Path

import pytest
from knowledge_helpers import write_doc

from knowledge.chunks import chunk_document, chunk_id
from knowledge.documents import find_policy_file, load_documents, read_document


def test_markdown_front_matter_sections_and_lines(help_centre):
    documents, problems = load_documents(help_centre)
    assert problems == []
    refunds = next(d for d in documents if d.id == "refunds")
    assert (refunds.title, refunds.version, refunds.status, refunds.tags) == ("Refund policy", "1.2", "approved", ["refunds"])
    assert [s.headings for s in refunds.sections if s.paragraphs] == [
        ("Refund policy", "Return window"), ("Refund policy", "Refund times")]
    first = refunds.sentences()[0]
    assert first.text == "You can return items within 30 days of delivery."  # placeholder filled
    lines = (help_centre / "refunds.md").read_text().splitlines()
    assert "You can return items" in lines[first.line - 1]


def test_html_and_plain_text(help_centre):
    documents, _ = load_documents(help_centre)
    cookies = next(d for d in documents if d.id == "cookies")
    assert [s.headings for s in cookies.sections if s.paragraphs] == [("Cookies", "Cookie choices")]
    texts = [s.text for s in cookies.sentences()]
    assert texts == ["Select Cookie settings at the bottom of any page to change your choices.",
                     "We remember your cookie choice for 12 months."]
    raw = (help_centre / "cookies.html").read_text().splitlines()
    assert "We remember" in raw[cookies.sentences()[1].line - 1]
    contact = next(d for d in documents if d.id == "contact")
    assert contact.sections[-1].headings == ("Contact", "Phone")
    assert contact.sentences()[0].text.startswith("Call us on +1 503 555 0142")


def test_policy_placeholders_come_from_the_policy_file(tmp_path, policy_file):
    folder = tmp_path / "knowledge"
    folder.mkdir()
    write_doc(folder, "a.md", "Fee: ${{ policy.cancellation_fee }}; window {{policy.refund_window_days}} days; "
                              "code {{ policy.verification.code_ttl_minutes }} minutes.\n")
    assert find_policy_file(folder) == policy_file
    document, problems = read_document(folder / "a.md", {"cancellation_fee": 1.5, "refund_window_days": 14,
                                                          "verification": {"code_ttl_minutes": 5}})
    assert problems == []
    assert document.sentences()[0].text == "Fee: $1.50; window 14 days; code 5 minutes."


def test_unknown_placeholder_is_an_error_with_its_line(tmp_path):
    folder = tmp_path / "knowledge"
    folder.mkdir()
    write_doc(folder, "a.md", "# A\n\nFirst line.\n\nWithin {{ policy.no_such_value }} days.\n\n{{ shop.name }}\n")
    _, problems = read_document(folder / "a.md", {"refund_window_days": 30}, folder)
    assert [(p.path, p.line, p.severity) for p in problems] == [("a.md", 15, "error"), ("a.md", 17, "error")]
    assert "policy.no_such_value" in problems[0].message


def test_missing_and_malformed_fields(tmp_path):
    (tmp_path / "bad.md").write_text("---\nid: bad\ntitle: Bad\nstatus: published\neffective: soon\n---\nText.\n")
    (tmp_path / "none.md").write_text("Just text.\n")
    documents, problems = load_documents(tmp_path, policy={})
    found = {(p.path, p.line, p.message) for p in problems}
    assert ("bad.md", 1, "missing front-matter field 'owner'") in found
    assert ("bad.md", 4, "'status' must be draft or approved, not 'published'") in found
    assert any(p.path == "bad.md" and p.line == 5 and "'effective' must be a date" in p.message for p in problems)
    assert ("none.md", 1, "no front matter (the file must start with a '---' line)") in found


def test_chunks_are_one_per_section_with_content_ids(help_centre):
    documents, _ = load_documents(help_centre)
    refunds = next(d for d in documents if d.id == "refunds")
    chunks = chunk_document(refunds)
    assert [c.headings for c in chunks] == [["Refund policy", "Return window"], ["Refund policy", "Refund times"]]
    assert chunks[0].id == chunk_id("refunds", chunks[0].headings, chunks[0].text)
    assert chunks[0].embed_text.startswith("Refund policy > Return window: You can return items")
    again = chunk_document(next(d for d in load_documents(help_centre)[0] if d.id == "refunds"))
    assert [c.id for c in again] == [c.id for c in chunks]
    assert chunk_id("refunds", chunks[0].headings, chunks[0].text + " More.") != chunks[0].id
    assert chunk_id("other", chunks[0].headings, chunks[0].text) != chunks[0].id


def test_long_sections_are_cut_between_paragraphs(tmp_path):
    paragraph = " ".join(["This sentence is about tents."] * 12)  # 60 words
    write_doc(tmp_path, "long.md", f"# Long\n\n## Tents\n\n{paragraph}\n\n{paragraph}\n\n{paragraph}\n")
    document = load_documents(tmp_path, policy={})[0][0]
    chunks = chunk_document(document)
    assert len(chunks) == 3
    assert all(c.headings == ["A document", "Long", "Tents"] or c.headings[-1] == "Tents" for c in chunks)
    assert len({c.id for c in chunks}) == 3


@pytest.mark.parametrize("name", ["a.md", "b.markdown", "c.htm", "d.txt"])
def test_formats_are_found(tmp_path, name):
    write_doc(tmp_path, name, "Some text.\n", id=Path(name).stem)
    documents, problems = load_documents(tmp_path, policy={})
    assert [d.id for d in documents] == [Path(name).stem] and problems == []


def test_a_draft_may_share_the_id_of_the_approved_version_it_replaces(tmp_path):
    write_doc(tmp_path, "a.md", "Approved text.\n", id="policy")
    write_doc(tmp_path, "a-next.md", "Draft text.\n", id="policy", status="draft", version="2.0")
    documents, problems = load_documents(tmp_path, policy={})
    assert problems == [] and sorted(d.status for d in documents) == ["approved", "draft"]
    write_doc(tmp_path, "b.md", "Another approved text.\n", id="policy")
    _, problems = load_documents(tmp_path, policy={})
    assert [str(p) for p in problems] == ["b.md:2: error: document id 'policy' is already used by a.md"]


def test_horizontal_rules_separate_paragraphs(tmp_path):
    write_doc(tmp_path, "a.md", "# Part\n\nFirst paragraph.\n\n---\n\nSecond paragraph.\n")
    document = load_documents(tmp_path, policy={})[0][0]
    assert [s.text for s in document.sentences()] == ["First paragraph.", "Second paragraph."]
