"""Cross-checks of a project's domain, NLU data, stories and rules (``desk data validate``).

Errors are mistakes that break or silently disable behaviour (an action the domain lacks,
rules that contradict each other); warnings are gaps worth a look (an intent no story uses).
A file that cannot be read at all is one error and stops the checks.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from dialogue.domain import DEFAULT_INTENTS, Domain
from dialogue.story_data import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    CheckpointStep,
    OrStep,
    Rule,
    SlotWasSetStep,
    StoryData,
    UserStep,
    load_story_data,
    read_story_file,
)
from dialogue.yaml_lines import YAML_SUFFIXES, Source
from nlu.readers import _READERS, _read, load_data
from nlu.readers.errors import TrainingDataError
from nlu.training_data import TrainingData


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    severity: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.severity}: {self.message}"


def validate_project(domain_path: str | Path, data_paths: Iterable[str | Path]) -> list[Problem]:
    """Every problem found, sorted by file and line."""
    try:
        domain = Domain.load(domain_path)
        nlu, stories = TrainingData(), StoryData()
        for path in data_paths:
            more_nlu, more_stories = _load(Path(path))
            nlu, stories = nlu.merge(more_nlu), stories.merge(more_stories)
    except TrainingDataError as e:  # DomainError and StoryDataError too
        return [Problem(e.path, e.line, "error", e.message)]
    check = _Checks(domain, nlu, stories)
    for run in (
        check.intents,
        check.actions_and_loops,
        check.slot_events,
        check.forms,
        check.slot_mappings,
        check.response_conditions,
        check.rule_contradictions,
        check.duplicate_examples,
        check.entities,
    ):
        run()
    return sorted(check.problems, key=lambda p: (p.path, p.line or 0, p.severity, p.message))


def _load(path: Path) -> tuple[TrainingData, StoryData]:
    """NLU data and stories/rules from a directory, or from one file holding either."""
    if path.is_dir():
        return load_data(path), load_story_data(path)
    if not path.exists():
        raise TrainingDataError(str(path), None, "no such file or directory")
    nlu = _read(path) if path.suffix.lower() in _READERS else None
    stories = read_story_file(path) if path.suffix.lower() in YAML_SUFFIXES else None
    if nlu is None and stories is None:
        raise TrainingDataError(str(path), None, "no `nlu:`, `stories:` or `rules:` section")
    return nlu or TrainingData(), stories or StoryData()


def _example_source(source: str) -> tuple[str, int | None]:
    path, _, line = source.rpartition(":")
    return (path, int(line)) if line.isdigit() else (source, None)


class _Checks:
    def __init__(self, domain: Domain, nlu: TrainingData, stories: StoryData) -> None:
        self.domain = domain
        self.nlu = nlu
        self.data = stories
        self.problems: list[Problem] = []

    def report(self, where: Source | None, severity: str, message: str) -> None:
        self.problems.append(
            Problem(where.path if where else "domain", where.line if where else None, severity, message)
        )

    def steps(self) -> Iterator[tuple[Source, Any]]:
        """Every step of every story and rule, conditions and `or` alternatives included."""
        for item in [*self.data.stories, *self.data.rules]:
            steps = [*getattr(item, "condition", []), *item.steps]
            for step in steps:
                for part in step.alternatives if isinstance(step, OrStep) else [step]:
                    yield Source(item.source.path, part.line), part

    def intents(self) -> None:
        known = set(self.domain.intents)
        first: dict[str, str] = {}
        for example in self.nlu.intent_examples:
            first.setdefault(example.intent, example.source)
        counts = self.nlu.intent_counts()
        for intent, source in first.items():
            if intent not in known:
                message = f"intent {intent!r} has {counts[intent]} NLU example(s) but is not in the domain"
                self.report(Source(*_example_source(source)), "error", message)
        used = set()
        for where, step in self.steps():
            if isinstance(step, UserStep) and step.intent:
                used.add(step.intent)
                if step.intent not in known:
                    self.report(where, "error", f"intent {step.intent!r} is not in the domain")
        for slot in self.domain.slots.values():
            for mapping in slot.mappings:
                used.update(mapping.get("intent", []))
        for intent in self.domain.intents:
            if intent in DEFAULT_INTENTS:
                continue
            where = self.domain.source("intent", intent)
            if counts and intent not in counts:
                message = f"intent {intent!r} has no NLU examples: only a '/{intent}' message can trigger it"
                self.report(where, "warning", message)
            if (self.data.stories or self.data.rules) and intent not in used:
                self.report(where, "warning", f"intent {intent!r} is not used in any story, rule or slot mapping")

    def actions_and_loops(self) -> None:
        actions = set(self.domain.action_names)
        for where, step in self.steps():
            if isinstance(step, ActionStep) and step.name not in actions:
                if step.name.startswith("utter_"):
                    message = f"response {step.name!r} is not defined in the domain"
                else:
                    message = f"action {step.name!r} is not in the domain"
                self.report(where, "error", message)
            if isinstance(step, ActiveLoopStep) and step.name is not None and step.name not in actions:
                self.report(where, "error", f"active_loop {step.name!r} is not a form or action in the domain")

    def slot_events(self) -> None:
        for where, step in self.steps():
            if not isinstance(step, (SlotWasSetStep, CheckpointStep)):
                continue
            for name, value in step.slots.items():
                slot = self.domain.slots.get(name)
                if slot is None:
                    self.report(where, "error", f"slot {name!r} is not in the domain")
                elif value is not None and value is not ANY_VALUE and slot.coerce(value) is None:
                    message = f"{value!r} is not a valid value of the {slot.type} slot {name!r}"
                    self.report(where, "warning", message)

    def forms(self) -> None:
        responses, actions = self.domain.responses, set(self.domain.actions)
        for form in self.domain.forms.values():
            for index, name in enumerate(form.required_slots):
                where = self.domain.source("required_slot", form.name, index)
                mappings = self.domain.slots[name].mappings
                fillable = any(m["type"] != "custom" or m.get("action") for m in mappings)
                if not fillable and f"validate_{form.name}" not in actions:
                    message = (
                        f"form {form.name!r} requires slot {name!r}, which has no mapping that fills it"
                        f" and there is no 'validate_{form.name}' action"
                    )
                    self.report(where, "error", message)
                ask = (f"utter_ask_{form.name}_{name}", f"utter_ask_{name}")
                ask_actions = (f"action_ask_{form.name}_{name}", f"action_ask_{name}")
                if not any(r in responses for r in ask) and not any(a in actions for a in ask_actions):
                    message = f"form {form.name!r} has no {ask[0]!r} or {ask[1]!r} response to ask for slot {name!r}"
                    self.report(where, "warning", message)

    def slot_mappings(self) -> None:
        intents, entities, forms = set(self.domain.intents), set(self.domain.entities), self.domain.forms
        for slot in self.domain.slots.values():
            for index, mapping in enumerate(slot.mappings):
                where = self.domain.source("mapping", slot.name, index)
                entity = mapping.get("entity")
                if mapping["type"] == "from_entity" and entity not in entities:
                    message = f"slot {slot.name!r} is filled from entity {entity!r}, which is not in the domain"
                    self.report(where, "error", message)
                for intent in mapping.get("intent", []) + mapping.get("not_intent", []):
                    if intent not in intents:
                        message = f"a mapping of slot {slot.name!r} names intent {intent!r}, which is not in the domain"
                        self.report(where, "warning", message)
                for condition in mapping.get("conditions") or []:
                    loop = condition.get("active_loop")
                    if loop is None:
                        continue
                    if loop not in forms:
                        message = f"a mapping of slot {slot.name!r} is conditioned on active_loop {loop!r}"
                        self.report(where, "error", message + ", which is not a form")
                    elif slot.name not in forms[loop].required_slots and mapping["type"] != "from_trigger_intent":
                        message = f"slot {slot.name!r} has a mapping conditioned on form {loop!r}"
                        self.report(where, "warning", message + ", which does not require it")

    def response_conditions(self) -> None:
        for name, variations in self.domain.responses.items():
            for variation in variations:
                for condition in variation.get("condition") or []:
                    if condition["name"] not in self.domain.slots:
                        slot = condition["name"]
                        message = f"response {name!r} has a condition on slot {slot!r}, which is not in the domain"
                        self.report(self.domain.source("response", name), "error", message)

    def rule_contradictions(self) -> None:
        seen: dict[tuple, tuple[str, Rule]] = {}
        reported = set()
        for rule in self.data.rules:
            for key, action, line in _rule_predictions(rule, self.domain):
                other_action, other = seen.setdefault(key, (action, rule))
                if other_action != action and (rule.name, line, other.name) not in reported:
                    reported.add((rule.name, line, other.name))
                    message = (
                        f"rule {rule.name!r} predicts {action!r} here, but rule {other.name!r}"
                        f" ({other.source}) predicts {other_action!r} in the same situation"
                    )
                    self.report(Source(rule.source.path, line), "error", message)

    def duplicate_examples(self) -> None:
        first: dict[str, Any] = {}
        for example in self.nlu.intent_examples:
            earlier = first.setdefault(example.text, example)
            if earlier.intent != example.intent:
                message = (
                    f"example {example.text!r} is labelled {example.intent!r} here"
                    f" and {earlier.intent!r} at {earlier.source}"
                )
                self.report(Source(*_example_source(example.source)), "error", message)

    def entities(self) -> None:
        known = set(self.domain.entities)
        first: dict[str, str] = {}
        counts: dict[str, int] = defaultdict(int)
        for example in self.nlu.examples:
            for entity in example.entities:
                first.setdefault(entity.entity, example.source)
                counts[entity.entity] += 1
        for entity, source in first.items():
            if entity not in known:
                message = f"entity {entity!r} is annotated {counts[entity]} time(s) in NLU data"
                message += " but is not in the domain"
                self.report(Source(*_example_source(source)), "error", message)
        for where, step in self.steps():
            if isinstance(step, UserStep):
                for entity in step.entities:
                    if entity["entity"] not in known:
                        self.report(where, "error", f"entity {entity['entity']!r} is not in the domain")


# -- rules as Rasa's rule policy sees them ------------------------------------------------------

_NOT_SET = "<not set>"  # a condition that a slot or loop is unset


def _rule_predictions(rule: Rule, domain: Domain) -> Iterator[tuple[tuple, str, int | None]]:
    """``(state history, predicted action, line)`` for each action a rule predicts.

    A state is what the rule policy conditions on before an action: the previous action,
    the last user turn (intent and the entities the domain lets through), featurized slots
    and the active loop. History starts after the rule's opening ``...`` (every rule but a
    ``conversation_start`` one), so an action before the first user turn is context, not a
    prediction. Each ``or`` alternative is a rule of its own.
    """
    choices = [step.alternatives if isinstance(step, OrStep) else [step] for step in rule.steps]
    for steps in itertools.product(*choices):
        slots: dict[str, Any] = {}
        loop: str | None = None
        for item in rule.condition:
            if isinstance(item, ActiveLoopStep):
                loop = item.name or _NOT_SET
            else:
                for name, value in item.slots.items():
                    _set_slot(slots, domain, name, _NOT_SET if value is None else value)
        history: list[tuple] = []
        prev = None if rule.conversation_start else "..."
        user = None

        def predict(action: str, line: int | None):
            nonlocal prev
            if prev != "...":
                history.append((prev, user, frozenset(slots.items()), loop))
                yield tuple([rule.conversation_start, *history]), action, line
            prev = action

        line = rule.source.line
        for step in steps:
            line = step.line
            if isinstance(step, UserStep):
                if prev != "action_listen":
                    yield from predict("action_listen", line)
                labels = set()
                for entity in step.entities:
                    labels.add(entity["entity"])
                    labels.update(f"{entity['entity']}#{entity[k]}" for k in ("role", "group") if k in entity)
                user = (step.intent, frozenset(labels & domain.used_entities(step.intent or "")))
            elif isinstance(step, ActionStep):
                yield from predict(step.name, line)
            elif isinstance(step, ActiveLoopStep):
                loop = step.name
            elif isinstance(step, SlotWasSetStep):
                for name, value in step.slots.items():
                    _set_slot(slots, domain, name, value)
        if rule.wait_for_user_input and prev != "action_listen":
            yield from predict("action_listen", line)


def _set_slot(slots: dict[str, Any], domain: Domain, name: str, value: Any) -> None:
    """Record a slot as the policy sees it: only slots that influence the conversation, by
    their feature (set or not for text and list slots, the value for the others)."""
    slot = domain.slots.get(name)
    if slot is not None and not slot.influence_conversation:
        return
    if value is None:
        slots.pop(name, None)
    elif value is _NOT_SET or slot is None:
        slots[name] = value if value is _NOT_SET else repr(value)
    elif value is ANY_VALUE or slot.type in ("text", "list"):
        slots[name] = True if slot.type == "bool" else "set"
    else:
        coerced = slot.coerce(value)
        slots[name] = str(coerced).casefold() if slot.type == "categorical" else coerced
