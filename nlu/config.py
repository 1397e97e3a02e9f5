"""Reading ``config.yml``: the language, the NLU pipeline and its thresholds.

Rasa projects load unchanged: Rasa-only components (tokenizers, DIET, spaCy featurizers...)
have no one-to-one equivalent here, so a pipeline naming them is replaced by Desk's default
pipeline, keeping the settings that do carry over (fallback thresholds, Duckling dimensions).
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import yaml

logger = logging.getLogger(__name__)

DEFAULT_PIPELINE: list[dict] = [
    {"name": "WordNgramFeaturizer"},
    {"name": "CharNgramFeaturizer"},
    {"name": "SentenceEmbeddingFeaturizer"},
    {"name": "LogisticRegressionIntentClassifier"},
    {"name": "CRFEntityExtractor"},
    {"name": "RegexEntityExtractor"},
    {"name": "LookupEntityExtractor"},
    {"name": "ValueExtractor"},
    {"name": "EntitySynonymMapper"},
    # Chosen on CLINC150's validation split and a held-out fifth of BANKING77's training set:
    # the confidence threshold catches half of the out-of-scope messages while costing in-scope
    # accuracy almost nothing; the similarity floor is the one that fewer than 0.5 % of
    # CLINC150's in-scope validation messages fall under.
    {"name": "FallbackClassifier", "threshold": 0.25, "ambiguity_threshold": 0.0, "similarity_threshold": 0.40},
]

# Rasa components whose job Desk's default pipeline does in its own way.
RASA_ONLY = {
    "WhitespaceTokenizer", "SpacyTokenizer", "JiebaTokenizer", "MitieTokenizer", "SpacyNLP", "MitieNLP",
    "RegexFeaturizer", "LexicalSyntacticFeaturizer", "CountVectorsFeaturizer", "ConveRTFeaturizer",
    "LanguageModelFeaturizer", "SpacyFeaturizer", "MitieFeaturizer", "DIETClassifier", "ResponseSelector",
    "SklearnIntentClassifier", "KeywordIntentClassifier", "MitieIntentClassifier", "MitieEntityExtractor",
    "SpacyEntityExtractor", "LogisticRegressionClassifier",
}
# Settings that mean the same here.
CARRIED_OVER = {"FallbackClassifier", "DucklingEntityExtractor", "EntitySynonymMapper", "RegexEntityExtractor"}


class ConfigError(ValueError):
    pass


def default_config() -> dict:
    return {"language": "en", "pipeline": copy.deepcopy(DEFAULT_PIPELINE)}


def load_config(path: str | Path | None) -> dict:
    """The NLU part of a config file, or the default config when ``path`` is None."""
    if path is None:
        return default_config()
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{line}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a config file is a mapping with `language` and `pipeline`")
    pipeline = raw.get("pipeline")
    if not pipeline:
        return {**default_config(), "language": raw.get("language", "en")}
    if not isinstance(pipeline, list) or not all(isinstance(c, dict) and "name" in c for c in pipeline):
        raise ConfigError(f"{path}: `pipeline` must be a list of components, each with a `name`")
    return {"language": raw.get("language", "en"), "pipeline": translate_rasa_pipeline(pipeline, path)}


def translate_rasa_pipeline(pipeline: list[dict], path: Path | str = "config.yml") -> list[dict]:
    replaced = [c["name"] for c in pipeline if c["name"] in RASA_ONLY]
    if not replaced:
        return copy.deepcopy(pipeline)
    logger.warning(
        "%s: Rasa components %s have no direct equivalent; using Desk's default pipeline "
        "with this config's fallback, synonym, regex and Duckling settings.",
        path,
        ", ".join(sorted(set(replaced))),
    )
    carried = {c["name"]: {k: v for k, v in c.items() if k != "name"} for c in pipeline if c["name"] in CARRIED_OVER}
    duckling = carried.pop("DucklingEntityExtractor", None)
    result = []
    for component in copy.deepcopy(DEFAULT_PIPELINE):
        name = component["name"]
        if name == "ValueExtractor" and duckling is not None:
            dims = duckling.get("dimensions")
            component.update({"dimensions": dims} if dims else {})
        elif name in carried:
            component.update(_known_params(name, carried[name]))
        result.append(component)
    return result


def _known_params(name: str, params: dict) -> dict:
    """Only the parameters our component accepts (Rasa's may have more)."""
    from nlu import registry

    accepted = registry.get(name)().get_params()
    return {k: v for k, v in params.items() if k in accepted}
