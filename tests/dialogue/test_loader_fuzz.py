"""The domain, stories/rules and project-validation loaders fed garbage and broken files.

Random text and bytes, and the shop project's own files with a few lines deleted, re-indented or
spliced with YAML syntax (anchors, aliases, tags, flow collections, odd scalars), or with a part
of their tree replaced by a random value. Loading either
succeeds or raises the project's ``TrainingDataError`` (``DomainError``, ``StoryDataError``)
naming the file; ``desk data validate`` reports problems: never another exception.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from fuzz_inputs import FUZZ, as_bytes, mutated, yaml_mutated
from hypothesis import given
from hypothesis import strategies as st

from dialogue.domain import Domain
from dialogue.story_data import load_story_data
from dialogue.validation import validate_project
from nlu.readers import TrainingDataError

SHOP = Path(__file__).resolve().parents[1] / "fixtures" / "shop_project"
DOMAIN = (SHOP / "domain.yml").read_text(encoding="utf-8")
STORIES = (SHOP / "data" / "stories.yml").read_text(encoding="utf-8")
RULES = (SHOP / "data" / "rules.yml").read_text(encoding="utf-8")
NLU = (SHOP / "data" / "nlu.yml").read_text(encoding="utf-8")
# Alias expansions that never end or explode, at places each loader reads in depth.
LAUGHS = "".join(f"  - &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]\n" for i in range(6))
DOMAIN_ALIASES = [
    "version: '3.1'\nresponses:\n  utter_x: &a\n  - text: hi\n    buttons: *a\n",
    "version: '3.1'\nintents:\n  - &a [x, x, x, x, x, x, x, x, x, x]\n" + LAUGHS,
    "version: '3.1'\nintents: " + "[" * 150 + "]" * 150 + "\n",
]
STORY_ALIASES = [
    "rules:\n- rule: x\n  condition: &a\n  - slot_was_set: *a\n  steps:\n  - intent: greet\n",
    "stories:\n- story: x\n  steps:\n  - intent: greet\n  - slot_was_set: &a\n    - x: *a\n",
    "stories:\n- story: x\n  steps:\n  - intent: greet\n    entities: &a\n    - x: *a\n",
]


def garbage_or(*valid: str) -> st.SearchStrategy[str]:
    trees = [yaml_mutated(yaml.safe_load(text)) for text in valid]
    return st.one_of(st.text(), *(mutated(text) for text in valid), *trees)


def loads_or_fails_cleanly(load, path: Path, content: str) -> None:
    path.write_bytes(as_bytes(content))
    try:
        load(path)
    except TrainingDataError as e:
        assert e.path == str(path) and e.message
        assert e.line is None or e.line >= 1


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("loader-fuzz")


def test_domain(workdir):
    @FUZZ
    @given(content=st.one_of(garbage_or(DOMAIN), st.sampled_from(DOMAIN_ALIASES)))
    def load(content):
        loads_or_fails_cleanly(Domain.load, workdir / "domain.yml", content)

    load()


def test_stories_and_rules(workdir):
    @FUZZ
    @given(content=st.one_of(garbage_or(STORIES, RULES), st.sampled_from(STORY_ALIASES)))
    def load(content):
        loads_or_fails_cleanly(load_story_data, workdir / "stories.yml", content)

    load()


def test_validation_reports_problems(workdir):
    project = workdir / "project"
    shutil.copytree(SHOP, project, ignore=shutil.ignore_patterns("models", "actions", "tests"))
    files = {"domain.yml": DOMAIN, "data/stories.yml": STORIES, "data/rules.yml": RULES, "data/nlu.yml": NLU}

    @FUZZ
    @given(name=st.sampled_from(sorted(files)), data=st.data())
    def validate(name, data):
        content = data.draw(garbage_or(files[name]))
        (project / name).write_bytes(as_bytes(content))
        try:
            problems = validate_project(project / "domain.yml", [project / "data"])
        finally:
            (project / name).write_text(files[name], encoding="utf-8")
        assert all(p.severity in ("error", "warning") and p.path for p in problems)

    validate()
