"""The text an LLM is sent holds no personal data: a help-centre question asked through the
engine reaches the OpenAI-compatible server masked (``privacy.mask.llm``)."""

import asyncio
import textwrap

from knowledge.answer import KnowledgeAnswerer
from knowledge.index import KnowledgeIndex

from dialogue.domain import Domain
from dialogue.engine import Assistant, UserMessage
from dialogue.guardrails.personal_data import PersonalDataRail
from dialogue.policies import PolicyEnsemble
from dialogue.story_data import read_story_file


class AskEverything:
    """An NLU that reads every message as a help-centre question."""

    def parse(self, text):
        return {"text": text, "intent": {"name": "ask", "confidence": 1.0}, "entities": [],
                "intent_ranking": [{"name": "ask", "confidence": 1.0}]}


def test_the_llm_gets_the_question_masked(built, encoder, llm, tmp_path, pii_masker):
    domain = Domain({"version": "3.1", "intents": ["ask"]})
    rules = tmp_path / "rules.yml"
    rules.write_text('version: "3.1"\n' + textwrap.dedent("""
        rules:
          - rule: questions go to the help centre
            steps:
              - intent: ask
              - action: action_answer_from_knowledge
        """))
    answerer = KnowledgeAnswerer(KnowledgeIndex(built), encoder=encoder, llm={"base_url": llm.url, "model": "scripted"})
    assistant = Assistant(domain, nlu=AskEverything(), policies=PolicyEnsemble.from_config(domain, read_story_file(rules), None),
                          knowledge=answerer, privacy=PersonalDataRail())
    llm.replies.append("We refund you within 5 business days (Source: Refund policy, v1.2).")
    question = "I'm Jane Doe (jane.doe@example.com, +1 503 555 0199): how long do refunds take?"

    async def ask():
        try:
            return await assistant.handle_message(UserMessage(question, "u1"))
        finally:
            await assistant.aclose()

    replies = asyncio.run(ask())
    [request] = llm.requests
    sent = " ".join(m["content"] for m in request["messages"])
    for value in ("Jane Doe", "jane.doe@example.com", "503 555 0199"):
        assert value not in sent
    assert request["messages"][-1]["content"] == "I'm <PERSON> (<EMAIL_ADDRESS>, <PHONE_NUMBER>): how long do refunds take?"
    assert replies[0]["text"].startswith("We refund you within 5 business days")
