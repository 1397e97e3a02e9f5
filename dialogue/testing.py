"""End-to-end test stories, as ``rasa test`` runs them: ``desk test`` (or ``desk test stories``).

A test story is a story in a file named ``test_*.yml`` (``tests/test_stories.yml`` by
convention)::

    stories:
      - story: track an order
        steps:
          - user: where is my order ORD-12345
            intent: track_order
          - action: track_order_form
          - active_loop: track_order_form
          - active_loop: null
          - action: action_track_order

Each story runs as a real conversation against the assistant, in a fresh conversation (a new
sender id; the session starts as usual): every user step is sent through
:meth:`~dialogue.engine.Assistant.handle_message` (the ``user:`` text, or for a step with only
``intent:`` the payload ``/intent{"entity": "value"}``) and what the assistant did in that turn
is compared with the steps that follow it, up to the next user step.

A ``{name}`` in a ``user:`` text that the run knows as a placeholder is filled in when the message
is sent. ``desk test`` runs a project with a demo back office (``actions/backoffice/``) against a
fresh, seeded copy of it (:mod:`dialogue.scratch_backoffice`) and knows ``{verification_code}``:
the one-time code of the newest verification e-mail, i.e. the code the assistant has just sent::

    - user: my email is mthompson@example.net
      intent: inform
    - action: verification_form
    - active_loop: null
    - action: action_identify_customer
    - user: "{verification_code}"
      intent: inform
    - action: action_check_verification_code
    - slot_was_set:
        - verification_status: verified

What is compared:

- the **intent**: for a step with both ``user:`` and ``intent:``, the intent the NLU model
  predicted must be the story's (an intent mismatch fails the story, as in Rasa's end-to-end
  test). Entities are not compared;
- the **actions**, in order: the ``action`` events of the turn, without ``action_listen``,
  ``action_session_start`` and ``action_extract_slots``. A ``bot:`` step matches an action
  that said exactly that text. A custom action that failed (action server unreachable, an
  error, a form's failed validation) does not count as done: it shows as
  ``- action: name  # failed (reason)``;
- **active loops**: when the turn's steps name an ``active_loop``, the loop events of the turn
  are compared too, in order with the actions (a turn whose steps name none ignores them,
  since a form's activation and deactivation follow from its action);
- **slots**: each ``slot_was_set`` value must have been set during the turn or be the slot's
  value at its end (a slot named without a value: set to anything but null).

Unlike Rasa's test, which feeds the story's own events back and asks only for each next
action, the conversation here is live: after a divergence the assistant goes on from what it
really did, so later turns usually differ too. Steps before the first user step, checkpoints
and the second and later alternatives of ``or`` steps cannot be sent and are left out.

Each failure is shown as a unified diff of the expected and actual turns, in story-file lines
(``- intent: x``, ``- action: y``, ``- active_loop: z``), headed by the story's name and
``file:line``. :func:`write_results` writes ``story_report.json`` and
``failed_test_stories.yml`` (the failed stories, each wrong step marked
``# predicted: ...``), as Rasa does.

:func:`needs_custom_action` tells whether a story can only pass with the project's action
server (see there).
"""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
import logging
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping

from dialogue.actions import FAILURE_METADATA_KEY
from dialogue.domain import DEFAULT_ACTIONS, Domain
from dialogue.story_data import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    CheckpointStep,
    OrStep,
    SlotWasSetStep,
    Story,
    StoryData,
    UserStep,
    read_story_file,
)
from dialogue.yaml_lines import YAML_SUFFIXES, yaml_files

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_TESTS",
    "ProjectActionServer",
    "StoryResult",
    "StoryTestReport",
    "TurnResult",
    "action_server_for",
    "arun_test_stories",
    "custom_actions_needed",
    "load_test_assistant",
    "load_test_stories",
    "needs_custom_action",
    "print_report",
    "run_test_stories",
    "run_project_stories",
    "write_results",
]

DEFAULT_TESTS = "tests"
TEST_FILE_PREFIX = "test_"
REPORT_FILE = "story_report.json"
FAILED_STORIES_FILE = "failed_test_stories.yml"
TEST_ACTION_TIMEOUT = 60  # seconds a test waits for a custom action (see load_test_assistant)
# Actions every turn has that stories never write.
_UNWRITTEN_ACTIONS = frozenset({"action_listen", "action_session_start", "action_extract_slots"})
_INDENT = "  "


# ---------------------------------------------------------------------- which stories need code


def custom_actions_needed(story: Story, domain: Domain) -> list[str]:
    """The custom code (actions on the action server) a story needs to pass, sorted.

    - an expected ``action:`` that is not a response (``utter_*``), not one of Rasa's default
      actions and not a form of the domain, or a default action or form that the domain
      overrides by listing it under ``actions``;
    - an expected form whose slots are validated (``validate_<form>`` in the domain's
      ``actions``) or asked for by a custom action (``action_ask_<form>_<slot>``,
      ``action_ask_<slot>``), or with a required slot filled by a custom mapping's
      ``action``. A form that only uses its slot mappings and ``utter_ask_*`` responses
      runs without an action server;
    - ``action_validate_slot_mappings`` or a custom slot mapping naming an ``action``: they run
      after every user message, so every story needs them.

    ``validate_*`` actions themselves are never steps. An ``action_session_start`` listed under
    ``actions`` is not counted: the session start runs Rasa's default one.
    """
    overridden = set(domain.actions)
    needed: set[str] = set()
    for slot in domain.slots.values():
        for mapping in slot.mappings:
            if mapping.get("type") == "custom" and mapping.get("action") and not mapping.get("conditions"):
                needed.add(str(mapping["action"]))
    if "action_validate_slot_mappings" in overridden:
        needed.add("action_validate_slot_mappings")
    for name in _expected_actions(story):
        if name.startswith("utter_"):
            continue
        if name in domain.forms:
            if name in overridden:
                needed.add(name)
            needed.update(_form_code(name, domain))
            continue
        if name in DEFAULT_ACTIONS and name not in overridden:
            continue
        needed.add(name)
    return sorted(needed)


def needs_custom_action(story: Story, domain: Domain) -> bool:
    """Whether ``story`` needs the project's action server (see :func:`custom_actions_needed`)."""
    return bool(custom_actions_needed(story, domain))


def _form_code(form_name: str, domain: Domain) -> set[str]:
    actions = set(domain.actions)
    found = {f"validate_{form_name}"} & actions
    for slot_name in domain.forms[form_name].required_slots:
        found |= {f"action_ask_{form_name}_{slot_name}", f"action_ask_{slot_name}"} & actions
        slot = domain.slots.get(slot_name)
        for mapping in slot.mappings if slot else ():
            if mapping.get("type") == "custom" and mapping.get("action"):
                found.add(str(mapping["action"]))
    return found


def _expected_actions(story: Story) -> Iterator[str]:
    for step in story.steps:
        if isinstance(step, ActionStep):
            yield step.name


# ---------------------------------------------------------------------- loading test stories


def load_test_stories(path: str | Path) -> list[Story]:
    """The test stories of a file, or of every ``test_*.yml`` file under a directory with a
    ``stories:`` section (Rasa's rule). Rules in those files are ignored. A directory search
    does not descend into another project (a folder with its own ``domain.yml``), such as a
    fixture project kept among the tests."""
    path = Path(path)
    if path.is_dir():
        files = [
            f for f in yaml_files(path) if f.name.startswith(TEST_FILE_PREFIX) and not _in_nested_project(f, path)
        ]
    elif path.is_file():
        if path.suffix.lower() not in YAML_SUFFIXES:
            raise ValueError(f"{path}: unsupported file type (expected .yml, .yaml)")
        files = [path]
    else:
        raise ValueError(f"{path}: no such file or directory")
    stories: list[Story] = []
    for file in files:
        data = read_story_file(file)
        if data is not None:
            stories.extend(data.stories)
    return stories


def _in_nested_project(file: Path, root: Path) -> bool:
    folder = file.parent
    while folder != root and root in folder.parents:
        if (folder / "domain.yml").exists() or (folder / "domain").is_dir():
            return True
        folder = folder.parent
    return False


def _as_stories(stories: StoryData | Iterable[Story] | str | Path) -> list[Story]:
    if isinstance(stories, (str, Path)):
        return load_test_stories(stories)
    if isinstance(stories, StoryData):
        return list(stories.stories)
    return list(stories)


# ---------------------------------------------------------------------- results


@dataclass
class TurnResult:
    """One user message of a test story and what the assistant did after it."""

    index: int
    line: int | None  # of the user step
    expected: list[str]  # story-file lines
    actual: list[str]
    problems: list[str] = field(default_factory=list)  # empty: the turn went as written
    predicted_intent: str | None = None
    expected_actions: list[str] = field(default_factory=list)
    actual_actions: list[str] = field(default_factory=list)
    failed_actions: list[str] = field(default_factory=list)  # those of actual_actions that failed

    @property
    def passed(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "turn": self.index,
            "line": self.line,
            "passed": self.passed,
            "problems": list(self.problems),
            "predicted_intent": self.predicted_intent,
            "expected_actions": list(self.expected_actions),
            "actual_actions": list(self.actual_actions),
            "failed_actions": list(self.failed_actions),
        }


@dataclass
class StoryResult:
    name: str
    source: str  # file:line
    sender_id: str
    turns: list[TurnResult] = field(default_factory=list)
    skipped_steps: list[str] = field(default_factory=list)  # steps that cannot be sent, with why
    error: str | None = None  # the conversation could not be run
    _story: Story | None = field(default=None, repr=False, compare=False)

    @property
    def passed(self) -> bool:
        return self.error is None and all(turn.passed for turn in self.turns)

    @property
    def problems(self) -> list[str]:
        found = [f"{self.error}"] if self.error else []
        for turn in self.turns:
            where = f"{self.source.rsplit(':', 1)[0]}:{turn.line}" if turn.line else self.source
            found += [f"turn {turn.index} ({where}): {problem}" for problem in turn.problems]
        return found

    @property
    def expected_lines(self) -> list[str]:
        return [line for turn in self.turns for line in turn.expected]

    @property
    def actual_lines(self) -> list[str]:
        return [line for turn in self.turns for line in turn.actual]

    def diff(self, context: int = 3) -> str:
        """The unified diff of the expected and the actual conversation (empty when it passed)."""
        if self.passed:
            return ""
        lines = difflib.unified_diff(
            self.expected_lines, self.actual_lines, "expected", "actual", n=context, lineterm=""
        )
        return "\n".join(lines)

    def to_dict(self) -> dict:
        data = {
            "story": self.name,
            "source": self.source,
            "passed": self.passed,
            "sender_id": self.sender_id,
            "problems": self.problems,
            "turns": [turn.to_dict() for turn in self.turns],
        }
        if self.skipped_steps:
            data["skipped_steps"] = list(self.skipped_steps)
        if not self.passed:
            data["diff"] = self.diff()
        return data


@dataclass
class StoryTestReport:
    passed: list[StoryResult] = field(default_factory=list)
    failed: list[StoryResult] = field(default_factory=list)

    @property
    def results(self) -> list[StoryResult]:
        return sorted(self.passed + self.failed, key=lambda r: _order(r.source))

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed)

    @property
    def num_passed(self) -> int:
        return len(self.passed)

    @property
    def num_failed(self) -> int:
        return len(self.failed)

    @property
    def accuracy(self) -> float:
        """The share of stories that passed (Rasa's conversation accuracy); 0 without stories."""
        return self.num_passed / self.total if self.total else 0.0

    def action_counts(self) -> dict[str, dict[str, int]]:
        """Per expected action: ``support`` (times expected) and ``correct`` (the assistant ran
        it, without failing, at that position of its turn)."""
        counts: dict[str, dict[str, int]] = {}
        for result in self.results:
            for turn in result.turns:
                for i, name in enumerate(turn.expected_actions):
                    entry = counts.setdefault(name, {"support": 0, "correct": 0})
                    entry["support"] += 1
                    got = turn.actual_actions[i] if i < len(turn.actual_actions) else None
                    if got == name and name not in turn.failed_actions:
                        entry["correct"] += 1
        return dict(sorted(counts.items()))

    def action_accuracy(self) -> float:
        counts = self.action_counts().values()
        support = sum(c["support"] for c in counts)
        return sum(c["correct"] for c in counts) / support if support else 0.0

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "passed": self.num_passed,
            "failed": self.num_failed,
            "conversation_accuracy": round(self.accuracy, 4),
            "action_accuracy": round(self.action_accuracy(), 4),
            "actions": self.action_counts(),
            "failed_stories": [r.to_dict() for r in sorted(self.failed, key=lambda r: _order(r.source))],
            "passed_stories": [r.to_dict() for r in sorted(self.passed, key=lambda r: _order(r.source))],
        }


def _order(source: str) -> tuple[str, int]:
    path, _, line = source.rpartition(":")
    return (path, int(line)) if line.isdigit() else (source, 0)


# ---------------------------------------------------------------------- rendering steps


def _text_lines(key: str, text: str, indent: str) -> list[str]:
    if "\n" in text:
        return [f"{indent}{key}: |-"] + [f"{indent}  {line}" for line in text.splitlines()]
    return [f"{indent}{key}: {_scalar(text)}"]


def _scalar(value: Any) -> str:
    """A value as a plain YAML scalar where that reads back the same, else JSON (valid YAML)."""
    if value is ANY_VALUE:
        return ""
    if isinstance(value, str):
        import yaml

        try:
            plain = (
                value
                and value.strip() == value
                and not any(c in value for c in ":#{}[],&*!|>'\"%@`")
                and yaml.safe_load(value) == value
            )
        except yaml.YAMLError:
            plain = False
        return value if plain else json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False)


def _user_lines(step: UserStep, intent: str | None) -> list[str]:
    """The lines of a user step, with ``intent`` (the story's or the predicted one)."""
    lines = []
    if step.intent is not None or step.user is None:
        lines.append(f"{_INDENT}- intent: {'null' if intent is None else intent}")
        if step.user is not None:
            lines += _text_lines("user", step.user, _INDENT + "  ")
    else:
        lines += _text_lines("- user", step.user, _INDENT)
    if step.user is None and step.entities:
        lines += _entity_lines(step.entities, _INDENT + "  ")
    return lines


def _entity_lines(entities: list[dict], indent: str) -> list[str]:
    """The ``entities:`` block of a user step written without text."""
    lines = [f"{indent}entities:"]
    for entity in entities:
        value = f": {_scalar(entity['value'])}" if "value" in entity else ""
        lines.append(f"{indent}- {entity['entity']}{value}")
    return lines


def _item_line(kind: str, value: Any) -> str:
    if kind == "active_loop":
        return f"{_INDENT}- active_loop: {'null' if value is None else value}"
    if kind == "bot":
        return f"{_INDENT}- bot: {_scalar(value)}"
    return f"{_INDENT}- {kind}: {value}"


def _slot_lines(slots: Mapping[str, Any]) -> list[str]:
    lines = [f"{_INDENT}- slot_was_set:"]
    for name, value in slots.items():
        lines.append(f"{_INDENT}  - {name}" if value is ANY_VALUE else f"{_INDENT}  - {name}: {_scalar(value)}")
    return lines


# ---------------------------------------------------------------------- running


@dataclass
class _ExpectedTurn:
    user: UserStep | None
    items: list[tuple[str, Any, int | None]] = field(default_factory=list)  # kind, value, line


@dataclass
class _ActualItem:
    kind: str  # action | active_loop
    name: str | None
    texts: list[str] = field(default_factory=list)
    failure: str | None = None  # how the action failed (it did not do its job)

    def line(self) -> str:
        return _item_line(self.kind, self.name) + (f"  # {self.failure}" if self.failure else "")


def _split_turns(story: Story, skipped: list[str]) -> list[_ExpectedTurn]:
    turns: list[_ExpectedTurn] = []
    for step in story.steps:
        if isinstance(step, OrStep):
            users = [s for s in step.alternatives if isinstance(s, UserStep)]
            if users:
                if len(step.alternatives) > 1:
                    skipped.append(f"line {step.line}: `or` step: only the first user alternative is sent")
                step = users[0]
            else:
                skipped.append(f"line {step.line}: `or` of slot events: not checked")
                continue
        if isinstance(step, UserStep):
            turns.append(_ExpectedTurn(step))
            continue
        if isinstance(step, CheckpointStep):
            skipped.append(f"line {step.line}: checkpoint {step.name!r}: not run")
            continue
        if not turns:
            skipped.append(f"line {step.line}: a step before the first user message cannot be tested")
            continue
        if isinstance(step, ActionStep):
            turns[-1].items.append(("action", step.name, step.line))
        elif isinstance(step, BotStep):
            turns[-1].items.append(("bot", step.text, step.line))
        elif isinstance(step, ActiveLoopStep):
            turns[-1].items.append(("active_loop", step.name, step.line))
        elif isinstance(step, SlotWasSetStep):
            turns[-1].items.append(("slots", step.slots, step.line))
    return turns


def _message_text(step: UserStep, placeholders: Mapping[str, Callable[[], str]]) -> str:
    if step.user is not None:
        text = step.user
        for name, resolve in placeholders.items():
            if f"{{{name}}}" in text:
                text = text.replace(f"{{{name}}}", resolve())
        return text
    entities: dict[str, Any] = {}
    for entity in step.entities:
        if "value" not in entity:
            continue  # an entity without a value cannot be sent
        name = entity["entity"]
        if name in entities:
            previous = entities[name]
            entities[name] = (previous if isinstance(previous, list) else [previous]) + [entity["value"]]
        else:
            entities[name] = entity["value"]
    payload = json.dumps(entities, ensure_ascii=False) if entities else ""
    return f"/{step.intent}{payload}"


def _actual_turn(events: list[dict]) -> tuple[str | None, list[_ActualItem], list[tuple[str, Any]]]:
    """The predicted intent, the actions and loop events, and the slot events after the
    latest user message of ``events``."""
    start = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    intent = None
    if start >= 0:
        intent = ((events[start].get("parse_data") or {}).get("intent") or {}).get("name")
    items: list[_ActualItem] = []
    slots: list[tuple[str, Any]] = []
    last_action: _ActualItem | None = None
    for event in events[start + 1:]:
        kind = event.get("event")
        if kind == "action":
            if event.get("name") in _UNWRITTEN_ACTIONS:
                last_action = None
                continue
            last_action = _ActualItem("action", event.get("name"))
            items.append(last_action)
        elif kind == "bot" and last_action is not None:
            failure = (event.get("metadata") or {}).get(FAILURE_METADATA_KEY)
            if isinstance(failure, Mapping):
                failed = failure.get("action")
                who = "" if failed == last_action.name else f"{failed} "
                last_action.failure = f"{who}failed ({failure.get('reason')})"
            elif event.get("text") is not None:
                last_action.texts.append(event["text"])
        elif kind == "active_loop":
            items.append(_ActualItem("active_loop", event.get("name")))
        elif kind == "slot":
            slots.append((event.get("name"), event.get("value")))
    return intent, items, slots


def _slot_matches(expected: Any, actual: Any) -> bool:
    if expected is ANY_VALUE:
        return actual is not None
    if expected == actual:
        return True
    return (
        isinstance(actual, str) and not isinstance(expected, (str, bool)) and expected is not None
        and actual == str(expected)
    )


def _compare_turn(
    index: int, expected: _ExpectedTurn, intent: str | None, items: list[_ActualItem],
    slot_events: list[tuple[str, Any]], end_slots: Mapping[str, Any],
) -> TurnResult:
    step = expected.user
    assert step is not None
    problems: list[str] = []
    expected_lines = _user_lines(step, step.intent)
    if step.user is not None and step.intent is not None:
        actual_lines = _user_lines(step, intent)
        if intent != step.intent:
            problems.append(f"intent {step.intent!r} expected, {intent!r} predicted")
    else:  # a payload's intent is the story's; text alone is not checked
        actual_lines = list(expected_lines)

    sequence = [(kind, value, line) for kind, value, line in expected.items if kind != "slots"]
    with_loops = any(kind == "active_loop" for kind, _, _ in sequence)
    actual = [item for item in items if with_loops or item.kind == "action"]

    def matches(wanted: tuple[str, Any, int | None], got: _ActualItem) -> bool:
        kind, value, _ = wanted
        if got.failure:
            return False
        if kind == "bot":
            return got.kind == "action" and value in got.texts
        return got.kind == kind and got.name == value

    rendered: list[str] = []
    for i, got in enumerate(actual):
        if i < len(sequence) and matches(sequence[i], got):
            rendered.append(_item_line(sequence[i][0], sequence[i][1]))
        else:
            rendered.append(got.line())
    for i in range(max(len(sequence), len(actual))):
        wanted = sequence[i] if i < len(sequence) else None
        got = actual[i] if i < len(actual) else None
        if wanted is not None and got is not None and matches(wanted, got):
            continue
        what = "nothing" if got is None else f"{got.kind} {got.name!r}" + (f" ({got.failure})" if got.failure else "")
        if wanted is None:
            problems.append(f"unexpected {what} after the story's last step of the turn")
        else:
            where = f" (line {wanted[2]})" if wanted[2] else ""
            problems.append(f"{wanted[0]} {wanted[1]!r}{where} expected, {what} happened")
        break  # one divergence per turn: what follows is shifted by it

    # Slots: checked against the tracker, shown where the story writes them.
    expected_body: list[str] = []
    actual_body = list(rendered)
    inserted = 0
    position = 0
    for kind, value, line in expected.items:
        if kind != "slots":
            expected_body.append(_item_line(kind, value))
            position += 1
            continue
        expected_body += _slot_lines(value)
        seen = {}
        for name, set_value in slot_events:
            seen.setdefault(name, []).append(set_value)
        shown = {}
        for name, wanted in value.items():
            candidates = seen.get(name, []) + [end_slots.get(name)]
            if any(_slot_matches(wanted, c) for c in candidates):
                shown[name] = wanted
            else:
                got = seen[name][-1] if name in seen else end_slots.get(name)
                shown[name] = got
                where = f" (line {line})" if line else ""
                problems.append(f"slot {name!r}{where}: {_scalar(wanted) or 'a value'} expected, {json.dumps(got)} found")
        at = min(position, len(rendered)) + inserted
        lines = _slot_lines(shown)
        actual_body[at:at] = lines
        inserted += len(lines)
    return TurnResult(
        index=index,
        line=step.line,
        expected=expected_lines + expected_body,
        actual=actual_lines + actual_body,
        problems=problems,
        predicted_intent=intent,
        expected_actions=[value for kind, value, _ in expected.items if kind == "action"],
        actual_actions=[item.name for item in items if item.kind == "action"],
        failed_actions=[item.name for item in items if item.kind == "action" and item.failure],
    )


def _display(source) -> str:
    """``file:line``, the file relative to the current directory when it lies below it."""
    path = Path(source.path)
    with contextlib.suppress(ValueError):
        path = path.resolve().relative_to(Path.cwd())
    return f"{path}:{source.line}"


async def _run_story(
    assistant, story: Story, sender_id: str, placeholders: Mapping[str, Callable[[], str]]
) -> StoryResult:
    from dialogue.engine import UserMessage

    result = StoryResult(story.name, _display(story.source), sender_id, _story=story)
    turns = _split_turns(story, result.skipped_steps)
    if not turns:
        result.error = "the story has no user step"
        return result
    count = 0
    for index, expected in enumerate(turns, start=1):
        assert expected.user is not None
        try:
            text = _message_text(expected.user, placeholders)
            await assistant.handle_message(UserMessage(text, sender_id, input_channel="test"))
        except Exception as exc:  # a broken conversation fails this story, not the run
            logger.exception("test story %r: turn %d failed", story.name, index)
            result.error = f"turn {index}: the assistant raised {type(exc).__name__}: {exc}"
            return result
        state = await assistant.tracker_state(sender_id, "all")
        events = (state or {}).get("events") or []
        intent, items, slot_events = _actual_turn(events[count:])
        count = len(events)
        result.turns.append(_compare_turn(index, expected, intent, items, slot_events, (state or {}).get("slots") or {}))
    return result


async def arun_test_stories(
    assistant,
    stories: StoryData | Iterable[Story] | str | Path,
    *,
    fail_fast: bool = False,
    placeholders: Mapping[str, Callable[[], str]] | None = None,
) -> StoryTestReport:
    """Run test stories against ``assistant`` (an :class:`~dialogue.engine.Assistant`), each in
    a new conversation, and compare what happened with what the stories say (module
    docstring). ``stories``: stories, a ``StoryData``, or a test file or directory.
    ``fail_fast``: stop after the first failed story. ``placeholders``: ``{name}`` in user
    texts -> what gives its value when the message is sent."""
    report = StoryTestReport()
    run_id = uuid.uuid4().hex[:8]
    for number, story in enumerate(_as_stories(stories), start=1):
        result = await _run_story(assistant, story, f"test-story-{run_id}-{number}", placeholders or {})
        (report.passed if result.passed else report.failed).append(result)
        if fail_fast and not result.passed:
            break
    return report


def run_test_stories(
    assistant, stories: StoryData | Iterable[Story] | str | Path, *, fail_fast: bool = False
) -> StoryTestReport:
    """:func:`arun_test_stories` from synchronous code (in its own event loop). An assistant
    that talks to an action server keeps its HTTP client in the loop that first used it: run
    such an assistant's stories and :meth:`~dialogue.engine.Assistant.aclose` in one loop
    (``await arun_test_stories(...)``)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(arun_test_stories(assistant, stories, fail_fast=fail_fast))
    raise RuntimeError("run_test_stories() called from a running event loop: await arun_test_stories() instead")


# ---------------------------------------------------------------------- writing and printing


def _failed_story_yaml(result: StoryResult) -> list[str]:
    """The story's steps as written, every wrong step marked ``# predicted: ...``."""
    story = result._story
    lines = [f"- story: {_scalar(f'{result.name} ({result.source})')}", "  steps:"]
    if story is None:
        return lines
    turns = {turn.line: turn for turn in result.turns}
    actual_by_line: dict[int | None, str] = {}
    extra_after: dict[int | None, list[str]] = {}
    current = None
    steps_in_turn: list[Any] = []

    def flush_turn() -> None:
        if current is None:
            return
        expected = [s for s in steps_in_turn if isinstance(s, (ActionStep, BotStep))]
        actual = current.actual_actions
        for i, step in enumerate(expected):
            got = actual[i] if i < len(actual) else "action_listen"
            wanted = step.name if isinstance(step, ActionStep) else None
            if wanted is not None and got != wanted:
                actual_by_line[step.line] = got
        if len(actual) > len(expected):
            last = steps_in_turn[-1].line if steps_in_turn else current.line
            extra_after[last] = actual[len(expected):]

    for step in story.steps:
        if isinstance(step, UserStep) and step.line in turns:
            flush_turn()
            current = turns[step.line]
            steps_in_turn = []
        elif current is not None:
            steps_in_turn.append(step)
    flush_turn()

    for step in story.steps:
        lines += _story_step_yaml(step, turns.get(step.line) if isinstance(step, UserStep) else None,
                                  actual_by_line.get(step.line))
        for name in extra_after.get(step.line, []):
            lines.append(f"  # predicted: {name} (not in the story)")
    return lines


def _story_step_yaml(step: Any, turn: TurnResult | None, predicted: str | None) -> list[str]:
    mark = f"  # predicted: {predicted}" if predicted else ""
    if isinstance(step, UserStep):
        intent_mark = ""
        if turn is not None and step.user is not None and step.intent is not None and turn.predicted_intent != step.intent:
            intent_mark = f"  # predicted: {turn.predicted_intent}"
        lines = []
        if step.intent is not None:
            lines.append(f"  - intent: {step.intent}{intent_mark}")
            if step.user is not None:
                lines += _text_lines("user", step.user, "    ")
        else:
            lines += _text_lines("- user", step.user or "", "  ")
        if step.user is None and step.entities:
            lines += _entity_lines(step.entities, "    ")
        return lines
    if isinstance(step, ActionStep):
        return [f"  - action: {step.name}{mark}"]
    if isinstance(step, BotStep):
        return [f"  - bot: {json.dumps(step.text, ensure_ascii=False)}"]
    if isinstance(step, ActiveLoopStep):
        return [f"  - active_loop: {'null' if step.name is None else step.name}"]
    if isinstance(step, SlotWasSetStep):
        return ["  " + line.strip() if i == 0 else "    " + line.strip() for i, line in enumerate(_slot_lines(step.slots))]
    if isinstance(step, CheckpointStep):
        return [f"  - checkpoint: {step.name}"]
    if isinstance(step, OrStep):
        lines = ["  - or:"]
        for alternative in step.alternatives:
            if isinstance(alternative, UserStep):
                lines.append(f"    - intent: {alternative.intent}")
            else:
                lines += ["    " + line.strip() for line in _slot_lines(alternative.slots)[:1]]
        return lines
    return []


def write_results(report: StoryTestReport, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``story_report.json`` and ``failed_test_stories.yml`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / REPORT_FILE
    report_path.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    failed_path = out / FAILED_STORIES_FILE
    if report.failed:
        lines = ['version: "3.1"', "stories:"]
        for result in sorted(report.failed, key=lambda r: _order(r.source)):
            lines += _failed_story_yaml(result)
    else:
        lines = ["# None of the test stories failed - all good!"]
    failed_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return report_path, failed_path


def print_report(report: StoryTestReport, console=None, *, diffs: bool = True) -> None:
    """A summary table, then each failed story's problems and diff."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console(soft_wrap=True)
    if diffs:
        for result in sorted(report.failed, key=lambda r: _order(r.source)):
            console.print(f"\nFAILED: {result.name} ({result.source})", style="bold red", markup=False, highlight=False)
            for problem in result.problems:
                console.print(f"  {problem}", markup=False, highlight=False)
            if result.skipped_steps:
                console.print(f"  not tested: {'; '.join(result.skipped_steps)}", markup=False, highlight=False)
            diff = result.diff()
            if diff:
                console.print(diff, markup=False, highlight=False)
    table = Table(title=f"Test stories (n={report.total})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_row("stories passed", str(report.num_passed))
    table.add_row("stories failed", str(report.num_failed))
    table.add_row("conversation accuracy", f"{report.accuracy:.3f}")
    table.add_row("action accuracy", f"{report.action_accuracy():.3f}")
    console.print(table)


# ---------------------------------------------------------------------- the project, for `desk test`


@dataclass
class ProjectActionServer:
    """The action server a test run talks to: its webhook URL (None: there is none) and the
    placeholders its back office fills in (see :func:`arun_test_stories`)."""

    url: str | None
    placeholders: dict[str, Callable[[], str]] = field(default_factory=dict)


@contextlib.contextmanager
def action_server_for(
    project_dir: str | Path, endpoints: Mapping[str, Any], default_port: int = 5055
) -> Iterator[ProjectActionServer]:
    """The project's action server, started as a child process (``python -m rasa_sdk
    --actions actions``) for the duration when the project has action code and nothing
    answers where ``endpoints.yml`` points (see :func:`dialogue.server.plan_action_server`).

    A child of a project with a demo back office runs on a fresh, seeded one
    (:class:`~dialogue.scratch_backoffice.ScratchBackoffice`), removed afterwards, whose
    ``{verification_code}`` the stories can type."""
    from dialogue.scratch_backoffice import ScratchBackoffice, has_backoffice
    from dialogue.server import plan_action_server

    project_dir = Path(project_dir)
    child, url = plan_action_server(project_dir, endpoints, default_port)
    if child is None:
        if url and has_backoffice(project_dir):
            print(f"Using the action server already running at {url}: the stories run on its back office, "
                  "and {verification_code} is not filled in.", flush=True)
        yield ProjectActionServer(url)
        return
    with contextlib.ExitStack() as stack:
        placeholders: dict[str, Callable[[], str]] = {}
        if has_backoffice(project_dir):
            print("Seeding a fresh back office for the test run ...", flush=True)
            backoffice = stack.enter_context(ScratchBackoffice(project_dir))
            stack.enter_context(backoffice.serving())
            placeholders = backoffice.placeholders()
        print(f"Starting the action server (python -m rasa_sdk --actions {child.actions} --port {child.port}) ...", flush=True)
        child.start()
        stack.callback(child.stop)
        yield ProjectActionServer(url, placeholders)


def load_test_assistant(
    project_dir: str | Path,
    model_path: str | Path | None = None,
    endpoints: Mapping[str, Any] | None = None,
    action_server_url: str | None = None,
):
    """The project's assistant with in-memory tracker and lock stores (a test run leaves no
    conversations behind), the project's action server (or ``action_server_url``). A test
    waits up to :data:`TEST_ACTION_TIMEOUT` seconds for a custom action (or the project's
    longer timeout): a freshly started action server may still be loading models, and a story
    is about what the assistant does, not how fast."""
    from dialogue.project import load_assistant, load_endpoints

    project_dir = Path(project_dir)
    found = dict(endpoints) if endpoints is not None else load_endpoints(project_dir / "endpoints.yml")
    found["tracker_store"] = {"type": "in_memory"}
    found["lock_store"] = {"type": "in_memory"}
    section = found.get("action_endpoint")
    if isinstance(section, Mapping) or section is None:
        timeout = (section or {}).get("timeout")
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout < TEST_ACTION_TIMEOUT:
            found["action_endpoint"] = {**(section or {}), "timeout": TEST_ACTION_TIMEOUT}
    return load_assistant(project_dir, Path(model_path) if model_path else None, found, action_server_url)


def _resolve(path: str | Path, project: Path) -> Path:
    """A path as given, or relative to the project when it only exists there."""
    path = Path(path)
    if path.is_absolute() or path.exists() or not (project / path).exists():
        return path
    return project / path


def run_project_stories(
    project: str | Path = ".",
    stories: str | Path | None = None,
    model: str | Path | None = None,
    endpoints: str | Path | None = None,
    actions_port: int = 5055,
    out: str | Path = "results",
    fail_fast: bool = False,
) -> int:
    """``desk test stories``: run a project's test stories; 0 when all pass, 1 otherwise.

    ``stories``: a file or directory (default: the project's ``tests/``); relative paths that
    do not exist from the current directory are taken from the project. ``model``: the NLU
    model (default: the newest in the project's ``models/``, trained when there is none).
    ``endpoints``: default the project's ``endpoints.yml``. Results go to ``out``.
    """
    from dialogue.project import load_endpoints

    project_dir = Path(project).resolve()
    if not project_dir.is_dir():
        raise ValueError(f"{project}: no such project directory")
    stories_path = _resolve(stories, project_dir) if stories is not None else project_dir / DEFAULT_TESTS
    test_stories = load_test_stories(stories_path)
    if not test_stories:
        raise ValueError(f"{stories_path}: no test stories (files named {TEST_FILE_PREFIX}*.yml with `stories:`)")
    found = load_endpoints(_resolve(endpoints, project_dir) if endpoints else project_dir / "endpoints.yml")
    model_path = _resolve(model, project_dir) if model else None
    if model_path is None and not any((project_dir / "models").glob("nlu-*.tar.gz")):
        print(f"No trained model in {project_dir / 'models'}; training one first.", flush=True)

    with action_server_for(project_dir, found, actions_port) as server:
        assistant = load_test_assistant(project_dir, model_path, found, server.url)

        async def main() -> StoryTestReport:
            try:
                return await arun_test_stories(
                    assistant, test_stories, fail_fast=fail_fast, placeholders=server.placeholders
                )
            finally:
                await assistant.aclose()

        print(f"Running {len(test_stories)} test stories from {stories_path} ...", flush=True)
        report = asyncio.run(main())
    print_report(report)
    report_path, failed_path = write_results(report, out)
    print(f"Results written to {report_path} and {failed_path}")
    return 1 if report.failed else 0
