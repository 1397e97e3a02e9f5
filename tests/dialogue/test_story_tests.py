"""End-to-end test stories (``desk test``): the shop's own test pack, failures and their diffs,
which stories need the action server, and the command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from dialogue.domain import Domain
from dialogue.story_data import load_story_data
from dialogue.testing import (
    arun_test_stories,
    custom_actions_needed,
    load_test_assistant,
    load_test_stories,
    needs_custom_action,
    run_test_stories,
    write_results,
)
from test_engine_support import PROJECT, action_server, free_port, model_path

ROOT = Path(__file__).resolve().parents[2]
SHOP_TESTS = PROJECT / "tests" / "test_stories.yml"

WRONG_STORIES = """\
version: "3.1"
stories:
  - story: Greeted like a returning customer
    steps:
      - user: hello
        intent: greet
      - action: utter_greet
      - user: bye
        intent: goodbye
      - action: utter_goodbye

  - story: Wrong intent, wrong order number, one action too many
    steps:
      - user: where is my order
        intent: cancel_order
      - action: track_order_form
      - active_loop: track_order_form
      - user: it's ORD-12345
        intent: inform
      - action: track_order_form
      - active_loop: null
      - slot_was_set:
          - order_id: ORD-99999
      - action: action_track_order
      - action: utter_goodbye
"""


def run_stories(stories, url: str | None = None, **options):
    endpoints = {"action_endpoint": {"url": url}} if url else {}
    assistant = load_test_assistant(PROJECT, model_path(), endpoints)

    async def main():
        try:
            return await arun_test_stories(assistant, stories, **options)
        finally:
            await assistant.aclose()

    return asyncio.run(main())


def desk(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "dialogue.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=240,
    )


def test_the_shop_test_stories_pass_against_the_action_server(tmp_path):
    stories = load_test_stories(PROJECT / "tests")
    assert len(stories) >= 5
    report = run_stories(stories, action_server().url)
    assert report.failed == [], "\n".join(r.diff() for r in report.failed)
    assert report.num_passed == report.total == len(stories)
    assert report.accuracy == 1.0 and report.action_accuracy() == 1.0

    report_path, failed_path = write_results(report, tmp_path / "results")
    data = json.loads(report_path.read_text())
    assert (data["total"], data["passed"], data["failed"]) == (len(stories), len(stories), 0)
    assert data["actions"]["action_start_return"] == {"support": 1, "correct": 1}
    names = {s["story"] for s in data["passed_stories"]}
    assert "Opening hours asked in the middle of cancelling an order" in names
    assert failed_path.read_text().startswith("# None of the test stories failed")


def test_a_wrong_story_fails_with_a_diff_of_the_turns(tmp_path):
    path = tmp_path / "test_wrong.yml"
    path.write_text(WRONG_STORIES)
    report = run_stories(path, action_server().url)
    assert (report.total, report.num_passed, report.num_failed) == (2, 0, 2)
    greeted, tracked = report.failed

    assert greeted.source.endswith("test_wrong.yml:3")
    assert greeted.problems == [
        f"turn 1 ({greeted.source.rsplit(':', 1)[0]}:5): action 'utter_greet' (line 7) expected, "
        "action 'utter_welcome' happened"
    ]
    assert (
        "--- expected\n+++ actual\n@@ -1,6 +1,6 @@\n"
        "   - intent: greet\n"
        "     user: hello\n"
        "-  - action: utter_greet\n"
        "+  - action: utter_welcome\n"
        "   - intent: goodbye\n"
        "     user: bye\n"
        "   - action: utter_goodbye"
    ) == greeted.diff()

    diff = tracked.diff()
    assert "-  - intent: cancel_order\n+  - intent: track_order\n" in diff
    assert "-    - order_id: ORD-99999\n+    - order_id: ORD-12345\n" in diff
    assert diff.endswith("   - action: action_track_order\n-  - action: utter_goodbye")
    assert any("intent 'cancel_order' expected, 'track_order' predicted" in p for p in tracked.problems)
    assert any("'utter_goodbye' (line 25) expected, nothing happened" in p for p in tracked.problems)

    report_path, failed_path = write_results(report, tmp_path / "results")
    failed = failed_path.read_text()
    assert "  - action: utter_greet  # predicted: utter_welcome\n" in failed
    assert "  - intent: cancel_order  # predicted: track_order\n" in failed
    assert "  - action: utter_goodbye  # predicted: action_listen\n" in failed
    assert [s["story"] for s in yaml.safe_load(failed)["stories"]] == [
        f"Greeted like a returning customer ({greeted.source})",
        f"Wrong intent, wrong order number, one action too many ({tracked.source})",
    ]
    data = json.loads(report_path.read_text())
    assert data["failed"] == 2 and data["failed_stories"][0]["diff"] == greeted.diff()


def test_stopping_at_the_first_failure(tmp_path):
    path = tmp_path / "test_wrong.yml"
    path.write_text(WRONG_STORIES)
    report = run_stories(path, action_server().url, fail_fast=True)
    assert report.total == 1 and report.num_failed == 1


def test_intent_payloads_and_the_synchronous_runner_without_an_action_server(tmp_path):
    (tmp_path / "test_payloads.yml").write_text(
        """\
stories:
  - story: Opening hours by button
    steps:
      - intent: ask_opening_hours
      - action: utter_opening_hours
  - story: A custom action without an action server
    steps:
      - intent: check_refund_policy
      - action: utter_refund_policy
      - action: utter_ask_start_return
      - intent: affirm
      - action: action_start_return
"""
    )
    (tmp_path / "not_a_test.yml").write_text("stories:\n  - story: ignored\n    steps:\n      - intent: greet\n")
    assistant = load_test_assistant(PROJECT, model_path(), {})
    report = run_test_stories(assistant, tmp_path)
    assert [r.name for r in report.passed] == ["Opening hours by button"]
    [failed] = report.failed
    # The action was tried, but without an action server it failed: not what the story says.
    assert failed.turns[-1].actual_actions == ["action_start_return"]
    assert failed.problems == [
        f"turn 2 ({failed.source.rsplit(':', 1)[0]}:11): action 'action_start_return' (line 12) expected, "
        "action 'action_start_return' (failed (unreachable)) happened"
    ]
    assert failed.diff().endswith("-  - action: action_start_return\n+  - action: action_start_return  # failed (unreachable)")


def test_which_stories_need_custom_actions():
    domain = Domain.load(PROJECT / "domain.yml")
    stories = {s.name: s for s in load_test_stories(SHOP_TESTS)}
    assert not needs_custom_action(stories["Opening hours"], domain)
    assert not needs_custom_action(stories["A customer greets first, then says goodbye"], domain)
    # The shop's forms validate their slots on the action server.
    assert custom_actions_needed(stories["Track an order, the order number asked by the form"], domain) == [
        "action_track_order",
        "validate_track_order_form",
    ]
    assert custom_actions_needed(stories["Stop cancelling an order"], domain) == ["validate_cancel_order_form"]
    assert custom_actions_needed(stories["Refund policy, then start a return"], domain) == ["action_start_return"]

    plain = Domain(
        {
            "intents": ["order_pizza", "inform"],
            "slots": {
                "size": {"type": "text", "mappings": [{"type": "from_text"}]},
                "topping": {"type": "text", "mappings": [{"type": "custom"}]},
            },
            "forms": {"pizza_form": {"required_slots": ["size"]}, "topping_form": {"required_slots": ["topping"]}},
            "responses": {"utter_ask_size": [{"text": "Size?"}], "utter_done": [{"text": "Done"}]},
            "actions": ["action_ask_topping", "action_restart"],
        }
    )
    data = load_story_data(_write_story(
        "- intent: order_pizza\n- action: pizza_form\n- active_loop: pizza_form\n"
        "- action: action_deactivate_loop\n- action: utter_done\n"
    ))
    assert custom_actions_needed(data.stories[0], plain) == []  # a form of mappings and responses
    data = load_story_data(_write_story("- intent: order_pizza\n- action: topping_form\n- action: action_restart\n"))
    # A custom ask action, and a default action the domain overrides.
    assert custom_actions_needed(data.stories[0], plain) == ["action_ask_topping", "action_restart"]


def _write_story(steps: str) -> Path:
    import tempfile

    indented = "".join(f"      {line}\n" for line in steps.splitlines())
    path = Path(tempfile.mkdtemp()) / "test_story.yml"
    path.write_text(f"stories:\n  - story: s\n    steps:\n{indented}")
    return path


def test_desk_test_starts_the_action_server_and_exits_0_when_all_pass(tmp_path):
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("tracker_store:\n  type: in_memory\n")  # no action_endpoint: one is started
    port = free_port()
    result = desk(
        "test", "--project", PROJECT, "--model", model_path(), "--endpoints", endpoints,
        "--actions-port", port, "--out", tmp_path / "results",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"--port {port}" in result.stdout
    assert "stories passed" in result.stdout and "FAILED" not in result.stdout
    report = json.loads((tmp_path / "results" / "story_report.json").read_text())
    assert report["failed"] == 0 and report["passed"] >= 5
    assert not (PROJECT / "models").exists()


def test_desk_test_stories_exits_1_with_the_diff_when_a_story_fails(tmp_path):
    (tmp_path / "test_wrong.yml").write_text(WRONG_STORIES)
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"action_endpoint:\n  url: {action_server().url}\n")
    out = tmp_path / "results"
    result = desk(
        "test", "stories", "--project", PROJECT, "--model", model_path(), "--endpoints", endpoints,
        "--stories", tmp_path, "--out", out,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "FAILED: Greeted like a returning customer (" in result.stdout
    assert "-  - action: utter_greet\n+  - action: utter_welcome\n" in result.stdout
    assert "# predicted: utter_welcome" in (out / "failed_test_stories.yml").read_text()

    missing = desk("test", "--project", PROJECT, "--model", model_path(), "--stories", tmp_path / "nothing")
    assert missing.returncode == 2 and "no such file or directory" in missing.stderr


def test_a_directory_search_skips_nested_projects(tmp_path):
    from dialogue.testing import load_test_stories

    story = 'stories:\n- story: hello\n  steps:\n  - user: hi\n    intent: greet\n  - action: utter_greet\n'
    (tmp_path / "test_mine.yml").write_text(story)
    nested = tmp_path / "fixtures" / "other_project"
    (nested / "tests").mkdir(parents=True)
    (nested / "domain.yml").write_text("version: '3.1'\n")
    (nested / "tests" / "test_theirs.yml").write_text(story.replace("hello", "theirs"))
    assert [s.name for s in load_test_stories(tmp_path)] == ["hello"]
