"""action_answer_from_knowledge: help-centre answers in a conversation, recorded with their sources."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest

from dialogue.engine import Assistant, UserMessage
from dialogue.project import knowledge_answerer, load_project

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "knowledge"))
from knowledge_helpers import write_doc  # noqa: E402

DOMAIN = """\
version: "3.1"
intents:
  - ask_policy
actions:
  - action_answer_from_knowledge
responses:
  utter_default:
    - text: "Sorry, I can't help with that."
"""

RULES = """\
version: "3.1"
rules:
  - rule: policy questions are answered from the help centre
    steps:
      - intent: ask_policy
      - action: action_answer_from_knowledge
"""

QUESTION = "How many days do I have to return something?"


class AlwaysAskPolicy:
    """An NLU that reads every message as ``ask_policy``."""

    def parse(self, text: str) -> dict:
        intent = {"name": "ask_policy", "confidence": 1.0}
        return {"text": text, "intent": intent, "intent_ranking": [intent], "entities": []}


@pytest.fixture(scope="module")
def encoder():
    from knowledge.embeddings import Encoder

    return Encoder()


def make_project(tmp_path: Path, documents: dict[str, dict], encoder=None) -> Path:
    from knowledge.index import build_index

    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "domain.yml").write_text(DOMAIN, encoding="utf-8")
    (project / "data" / "rules.yml").write_text(RULES, encoding="utf-8")
    if documents:
        folder = project / "knowledge"
        folder.mkdir()
        for name, spec in documents.items():
            spec = dict(spec)
            write_doc(folder, name, spec.pop("body"), **spec)
        build_index(folder, project / "models" / "knowledge", progress=False, encoder=encoder)
    return project


def converse(project_dir: Path, encoder, text: str = QUESTION) -> tuple[list[dict], dict, Assistant]:
    project = load_project(project_dir, endpoints={})

    async def main():
        assistant = Assistant(project.domain, nlu=AlwaysAskPolicy(), policies=project.policies(),
                              knowledge=knowledge_answerer(project, encoder))
        try:
            replies = await assistant.handle_message(UserMessage(text, "customer"))
            state = await assistant.tracker_state("customer")
            return replies, state, assistant
        finally:
            await assistant.aclose()

    return asyncio.run(main())


REFUNDS = dict(title="Refund policy", version="1.2", body="""
    # Refund policy

    ## Return window

    You can return items within 30 days of delivery. Items must be unworn, with the tags on.
    """)
DELIVERY = dict(title="Delivery options", version="2.0", body="""
    # Delivery options

    ## Standard delivery

    Standard delivery in the US takes 3-5 business days and costs $6.95.
    """)
FAQ = dict(title="FAQ", version="3.1", body="""
    # Frequently asked questions

    ## Returns

    You can return items within 14 days of delivery.
    """)


def bot_events(state: dict) -> list[dict]:
    return [e for e in state["events"] if e["event"] == "bot"]


def test_a_question_is_answered_from_the_right_document_with_its_sources(tmp_path, encoder):
    project = make_project(tmp_path, {"refunds.md": REFUNDS, "delivery.md": DELIVERY}, encoder)
    replies, state, _ = converse(project, encoder)
    assert len(replies) == 1
    assert "30 days" in replies[0]["text"] and "Refund policy" in replies[0]["text"]
    [bot] = bot_events(state)
    record = bot["metadata"]["knowledge"]
    assert record["status"] == "answered"
    assert [(s["doc_id"], s["title"], s["version"]) for s in record["sources"]][0] == ("refunds", "Refund policy", "1.2")
    assert all(s["chunk_id"] for s in record["sources"])
    assert bot["metadata"]["utter_action"] == "action_answer_from_knowledge"
    assert not state["paused"]
    assert not any(e["event"] == "action" and e["name"] == "action_human_handoff" for e in state["events"])


def test_documents_that_disagree_hand_the_conversation_to_a_person(tmp_path, encoder):
    project = make_project(tmp_path, {"refunds.md": REFUNDS, "faq.md": FAQ}, encoder)
    replies, state, assistant = converse(project, encoder)
    first, *rest = bot_events(state)
    record = first["metadata"]["knowledge"]
    assert record["status"] == "conflict"
    assert sorted(s["doc_id"] for s in record["sources"]) == ["faq", "refunds"]
    assert "FAQ v3.1" in first["text"] and "Refund policy v1.2" in first["text"]
    assert rest and rest[-1]["metadata"].get("handoff_reason")
    names = [e.get("name") for e in state["events"] if e["event"] == "action"]
    assert names[-1] == "action_human_handoff"
    assert state["paused"]
    assert len(replies) == 2


def test_without_a_knowledge_index_the_action_says_utter_default(tmp_path, encoder, caplog):
    project = make_project(tmp_path, {}, encoder)
    with caplog.at_level("WARNING"):
        replies, state, _ = converse(project, encoder)
    assert [r["text"] for r in replies] == ["Sorry, I can't help with that."]
    assert "no knowledge index" in caplog.text
    assert not any("knowledge" in (e.get("metadata") or {}) for e in bot_events(state))


def test_a_project_that_does_not_use_the_action_gets_no_answerer(tmp_path):
    project_dir = make_project(tmp_path, {}, None)
    (project_dir / "domain.yml").write_text(DOMAIN.replace("actions:\n  - action_answer_from_knowledge\n", ""),
                                            encoding="utf-8")
    (project_dir / "data" / "rules.yml").write_text(RULES.replace("action_answer_from_knowledge", "utter_default"),
                                                    encoding="utf-8")
    assert knowledge_answerer(load_project(project_dir, endpoints={})) is None
