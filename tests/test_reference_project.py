"""The reference assistant at the repository root loads as a project: what `make run` trains on,
and its test conversations pass end to end (`desk test`: NLU, rules and forms, the real action
server on a freshly seeded back office)."""

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from dialogue.story_data import UserStep
from dialogue.testing import load_test_stories
from dialogue.validation import validate_project
from nlu import load_data

ROOT = Path(__file__).resolve().parents[1]
CONVERSATIONS = ROOT / "tests" / "conversations"


def test_data_directory_is_readable_as_nlu_training_data():
    data = load_data(ROOT / "data")
    assert len(data.intent_counts()) >= 40
    assert min(data.intent_counts().values()) >= 40


def test_project_validates_without_errors():
    problems = validate_project(ROOT / "domain.yml", [ROOT / "data"])
    assert [str(p) for p in problems if p.severity == "error"] == []


def test_the_test_conversations_type_every_intent_of_the_domain():
    intents = set(yaml.safe_load((ROOT / "domain.yml").read_text())["intents"])
    stories = load_test_stories(CONVERSATIONS)
    typed = {step.intent for story in stories for step in story.steps if isinstance(step, UserStep) and step.user}
    assert len(stories) >= 60
    assert sorted(intents - typed) == []


def test_every_workflow_tool_is_allowed_where_the_rules_call_it():
    """Each tool a rule runs after a form is in policy.yml's allowlist for that form."""
    policy = yaml.safe_load((ROOT / "policy.yml").read_text())
    rules = yaml.safe_load((ROOT / "data" / "rules.yml").read_text())["rules"]
    tools = {name for names in policy["allowlist"].values() for name in names}
    for rule in rules:
        actions = [step["action"] for step in rule["steps"] if "action" in step]
        forms = [i for i, name in enumerate(actions) if name.endswith("_form")]
        if not forms:
            continue
        form = actions[forms[0]]
        for name in actions[forms[0] + 1:]:
            if name in tools:
                assert name in policy["allowlist"].get(form, []), (rule["rule"], form, name)
    assert set(policy["workflows"]) >= {"track_order", "cancel_order", "get_refund", "delete_account", "recover_password"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_desk_test_runs_the_test_conversations_on_a_fresh_back_office(tmp_path):
    # the project's endpoints, with the action server on a port nothing else uses
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text())
    endpoints["action_endpoint"]["url"] = f"http://localhost:{free_port()}/webhook"
    (tmp_path / "endpoints.yml").write_text(yaml.safe_dump(endpoints))
    result = subprocess.run(
        [sys.executable, "-m", "dialogue.cli", "test", "--endpoints", str(tmp_path / "endpoints.yml"),
         "--out", str(tmp_path / "results")],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "Seeding a fresh back office" in result.stdout
    report = json.loads((tmp_path / "results" / "story_report.json").read_text())
    assert report["failed"] == 0 and report["passed"] == len(load_test_stories(CONVERSATIONS)) >= 60
    seeded = re.search(r"sqlite:///(\S+)/backoffice\.db: seeded", result.stdout)
    assert seeded and not Path(seeded.group(1)).exists()  # the test back office is gone
