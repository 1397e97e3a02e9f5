"""Loading a Rasa 3.x project directory into an :class:`~dialogue.engine.Assistant`.

Layout (as Rasa's)::

    domain.yml  (or domain/ with several files)
    config.yml      language, pipeline (NLU), policies, assistant_id, escalation
    data/           NLU data, rules and stories, in any YAML files below it
    endpoints.yml   action_endpoint, tracker_store, lock_store
    models/         trained NLU models (nlu-*.tar.gz); one is trained when there is none

``config.yml``: ``pipeline`` is read by :mod:`nlu.config`; ``policies`` by
:mod:`dialogue.policies.ensemble`; ``escalation`` by :mod:`dialogue.handoff` (the handoff
triggers and thresholds); ``assistant_id`` is stamped on events with the NLU model's id.

``endpoints.yml`` (``${NAME}`` is replaced by the environment variable ``NAME``)::

    action_endpoint:
      url: http://localhost:5055/webhook   # the rasa-sdk action server
      timeout: 10                          # seconds per call (default 10)
    tracker_store:                         # see dialogue.stores; absent: SQLite desk.db in the
      type: sql                            # project; a relative SQLite `db` is relative to
      db: desk.db                          # the project too
    lock_store:
      type: in_memory                      # the only kind; others fall back to it, with a warning

With ``action_answer_from_knowledge`` in the domain or the rules and stories, the assistant
answers help-centre questions from the project's knowledge index (``models/knowledge``, or the
``knowledge: index_dir`` of config.yml), loaded at the first question; without an index that
action says ``utter_default``.

``guardrails`` (message limits, rate limits, prompt-injection screening) is read by
:mod:`dialogue.guardrails.config`; the injection classifier is the newest ``models/guard-*.tar.gz``
(``desk train guard``), else one trained in memory on the examples shipped with Desk.

``privacy`` (personal data: masking before storage, logs and the LLM; card numbers; the output
rail) is read by :mod:`dialogue.guardrails.personal_data`; the root logger's handlers mask
personal data in log lines once an assistant is loaded.

Handoff records go to a ``handoffs`` table of the tracker store's database (an SQL tracker
store), else stay in memory.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from dialogue.action_client import ActionServerClient
from dialogue.actions import ACTION_ANSWER_FROM_KNOWLEDGE
from dialogue.allowlist import ToolAllowlist
from dialogue.domain import Domain
from dialogue.engine import Assistant
from dialogue.guardrails.config import GuardrailsConfig
from dialogue.guardrails.injection import load_rail
from dialogue.guardrails.personal_data import PersonalDataRail
from dialogue.guardrails.privacy import install_log_masking
from dialogue.handoff import EscalationConfig
from dialogue.policies import PolicyEnsemble
from dialogue.story_data import StoryData, load_story_data
from dialogue.stores import (
    InMemoryLockStore,
    LockStore,
    SQLTrackerStore,
    TrackerStore,
    create_tracker_store,
)
from dialogue.stores.handoff import HandoffStore, InMemoryHandoffStore, SQLHandoffStore

logger = logging.getLogger(__name__)

DEFAULT_ACTION_TIMEOUT = 10.0
_ENV = re.compile(r"\$\{([^}]+)\}")


class ProjectError(ValueError):
    """A project file is missing or wrong (the message names the file)."""


@dataclass
class Project:
    """A project's files, read and checked (no model, no stores)."""

    path: Path
    domain: Domain
    story_data: StoryData
    config: dict = field(default_factory=dict)
    endpoints: dict = field(default_factory=dict)

    @property
    def config_path(self) -> Path | None:
        path = self.path / "config.yml"
        return path if path.is_file() else None

    def policies(self) -> PolicyEnsemble:
        return PolicyEnsemble.from_config(self.domain, self.story_data, self.config.get("policies"))

    def escalation(self) -> EscalationConfig:
        return EscalationConfig.from_config(self.config.get("escalation"), str(self.config_path or "config.yml"))

    def guardrails(self) -> GuardrailsConfig:
        """The ``guardrails:`` section of config.yml (see :mod:`dialogue.guardrails.config`)."""
        return GuardrailsConfig.from_config(self.config.get("guardrails"), str(self.config_path or "config.yml"))

    def privacy(self) -> PersonalDataRail:
        """The ``privacy:`` section of config.yml (see :mod:`dialogue.guardrails.privacy`)."""
        templates = {name: [v.get("text") for v in variations if isinstance(v, Mapping) and isinstance(v.get("text"), str)]
                     for name, variations in self.domain.responses.items()}
        return PersonalDataRail.from_config(self.config.get("privacy"), templates, str(self.config_path or "config.yml"))


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ProjectError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from None


def load_config_file(path: str | Path) -> dict:
    """``config.yml`` as a dict (``{}`` when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return {}
    data = _read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: a config file is a mapping")
    return data


def _expand_env(value: Any, path: Path) -> Any:
    if isinstance(value, str):
        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ProjectError(f"{path}: environment variable {name!r} is not set")
            return os.environ[name]

        return _ENV.sub(replace, value)
    if isinstance(value, dict):
        return {k: _expand_env(v, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, path) for v in value]
    return value


def load_endpoints(path: str | Path) -> dict:
    """``endpoints.yml`` as a dict with environment variables filled in (``{}`` when absent)."""
    path = Path(path)
    if not path.is_file():
        return {}
    data = _read_yaml(path) or {}
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: an endpoints file is a mapping")
    return _expand_env(data, path)


def _domain_path(project_dir: Path) -> Path:
    for candidate in (project_dir / "domain.yml", project_dir / "domain.yaml", project_dir / "domain"):
        if candidate.exists():
            return candidate
    raise ProjectError(f"{project_dir}: no domain.yml (or domain/ directory)")


def load_project(project_dir: str | Path, endpoints: Mapping[str, Any] | None = None) -> Project:
    """Read a project's domain, rules and stories, config and endpoints (``endpoints`` given
    here replaces the file's)."""
    project_dir = Path(project_dir)
    if not project_dir.is_dir():
        raise ProjectError(f"{project_dir}: not a directory")
    domain = Domain.load(_domain_path(project_dir))
    data_dir = project_dir / "data"
    story_data = load_story_data(data_dir) if data_dir.is_dir() else StoryData()
    config = load_config_file(project_dir / "config.yml")
    found = dict(endpoints) if endpoints is not None else load_endpoints(project_dir / "endpoints.yml")
    return Project(project_dir, domain, story_data, config, found)


def _tracker_store(project: Project) -> TrackerStore:
    section = project.endpoints.get("tracker_store")
    slot_defaults = {name: slot.initial_value for name, slot in project.domain.slots.items()}
    if not section:
        section = {"type": "sql", "dialect": "sqlite", "db": "desk.db"}
    if not isinstance(section, Mapping):
        raise ProjectError("endpoints.yml: `tracker_store` must be a mapping")
    section = dict(section)
    kind = str(section.get("type") or "sql").lower()
    dialect = str(section.get("dialect") or "sqlite").lower()
    url = section.get("url")
    if kind in ("sql", "sqltrackerstore") and dialect == "sqlite" and not (isinstance(url, str) and "://" in url):
        db = section.get("db") or "desk.db"
        if db != ":memory:" and not Path(db).is_absolute():
            section["db"] = str(project.path / db)
    return create_tracker_store(section, slot_defaults)


def _lock_store(project: Project) -> LockStore:
    section = project.endpoints.get("lock_store") or {}
    kind = str(section.get("type") or "in_memory").lower() if isinstance(section, Mapping) else "in_memory"
    if kind not in ("in_memory", "inmemory", "memory", "inmemorylockstore"):
        logger.warning("lock_store type %r is not supported; using in-process locks (run one server process)", kind)
    return InMemoryLockStore()


def _handoff_store(store: TrackerStore) -> HandoffStore:
    if isinstance(store, SQLTrackerStore):
        return SQLHandoffStore(engine=store.engine, lock=getattr(store, "_serial", None))
    return InMemoryHandoffStore()


def _action_client(project: Project, domain: Domain, url: str | None) -> ActionServerClient | None:
    section = project.endpoints.get("action_endpoint") or {}
    if not isinstance(section, Mapping):
        raise ProjectError("endpoints.yml: `action_endpoint` must be a mapping with `url`")
    url = url or section.get("url")
    if not url:
        return None
    timeout = section.get("timeout", DEFAULT_ACTION_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ProjectError("endpoints.yml: `action_endpoint.timeout` must be a positive number of seconds")
    return ActionServerClient(url, domain.as_dict(), domain.fingerprint(), timeout=float(timeout))


def uses_knowledge(project: Project) -> bool:
    """Whether the domain, rules or stories name ``action_answer_from_knowledge``."""
    if ACTION_ANSWER_FROM_KNOWLEDGE in project.domain.actions:
        return True
    for item in project.story_data.rules + project.story_data.stories:
        if any(getattr(step, "name", None) == ACTION_ANSWER_FROM_KNOWLEDGE for step in item.steps):
            return True
    return False


class LazyKnowledgeAnswerer:
    """A project's :class:`knowledge.answer.KnowledgeAnswerer`, built at its first question
    (so start-up does not load the index or the encoder)."""

    def __init__(self, project_dir: str | Path, encoder: Any = None) -> None:
        self.project_dir = Path(project_dir)
        self.encoder = encoder
        self._answerer = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._answerer is None:
                from knowledge.answer import KnowledgeAnswerer

                self._answerer = KnowledgeAnswerer.from_project(self.project_dir, encoder=self.encoder)
            return self._answerer

    def answer(self, question: str, filters: dict | None = None):
        return self.get().answer(question, filters)

    async def answer_async(self, question: str, filters: dict | None = None):
        import asyncio

        return await asyncio.to_thread(self.answer, question, filters)


def _index_dir(project: Project) -> Path:
    section = project.config.get("knowledge")
    index_dir = section.get("index_dir") if isinstance(section, Mapping) else None
    return project.path / (index_dir or "models/knowledge")


def knowledge_answerer(project: Project, encoder: Any = None) -> LazyKnowledgeAnswerer | None:
    """The answerer of ``action_answer_from_knowledge``: ``None`` when no rule, story or domain
    action uses it, or when the project has no knowledge index (with a warning)."""
    if not uses_knowledge(project):
        return None
    index_dir = _index_dir(project)
    if not index_dir.is_dir():
        logger.warning("%s is used but there is no knowledge index in %s (run `desk index`); it will say "
                       "utter_default", ACTION_ANSWER_FROM_KNOWLEDGE, index_dir)
        return None
    return LazyKnowledgeAnswerer(project.path, encoder)


def load_nlu(project: Project, model_path: str | Path | None = None):
    """The NLU model: ``model_path``, else the newest in ``models/``, else one trained now."""
    from nlu import load_model, train
    from nlu.model import ModelNotFoundError, resolve_model_path

    if model_path is not None:
        return load_model(model_path)
    models = project.path / "models"
    try:
        return load_model(resolve_model_path(models))
    except (ModelNotFoundError, FileNotFoundError):
        logger.info("no NLU model in %s; training one", models)
        path, _ = train(project.path / "data", project.config_path, models)
        return load_model(path)


def load_assistant(
    project_dir: Path,
    model_path: Path | None = None,
    endpoints: dict | None = None,
    action_server_url: str | None = None,
) -> Assistant:
    """An assistant for a project directory (see the module docstring)."""
    project = load_project(project_dir, endpoints)
    privacy = project.privacy()
    privacy.warm_up()
    install_log_masking(privacy.masker)
    nlu = load_nlu(project, model_path)
    tracker_store = _tracker_store(project)
    return Assistant(
        project.domain,
        nlu=nlu,
        policies=project.policies(),
        tracker_store=tracker_store,
        lock_store=_lock_store(project),
        action_client=_action_client(project, project.domain, action_server_url),
        escalation=project.escalation(),
        handoff_store=_handoff_store(tracker_store),
        model_id=getattr(nlu, "metadata", {}).get("fingerprint", "")[:32] or None,
        assistant_id=project.config.get("assistant_id"),
        allowlist=ToolAllowlist.load(project_dir, project.domain.forms),
        knowledge=knowledge_answerer(project),
        privacy=privacy,
        input_rail=load_rail(project.guardrails().injection, project.path / "models"),
    )
