"""The reference assistant at the repository root loads as a project: what `make run` trains on."""

from pathlib import Path

from dialogue.validation import validate_project
from nlu import load_data

ROOT = Path(__file__).resolve().parents[1]


def test_data_directory_is_readable_as_nlu_training_data():
    data = load_data(ROOT / "data")
    assert len(data.intent_counts()) >= 40
    assert min(data.intent_counts().values()) >= 40


def test_project_validates_without_errors():
    problems = validate_project(ROOT / "domain.yml", [ROOT / "data"])
    assert [str(p) for p in problems if p.severity == "error"] == []
