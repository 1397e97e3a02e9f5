import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


@pytest.fixture(scope="session")
def shop_nlu() -> Path:
    return FIXTURES / "shop" / "nlu.yml"


@pytest.fixture(scope="session")
def sparse_config() -> dict:
    """The default pipeline without the sentence encoder: trains in a second."""
    from nlu.config import default_config

    config = default_config()
    config["pipeline"] = [c for c in config["pipeline"] if c["name"] != "SentenceEmbeddingFeaturizer"]
    for component in config["pipeline"]:
        component.pop("similarity_threshold", None)  # needs sentence embeddings
    return config


@pytest.fixture(scope="session")
def trained_model_path(shop_nlu, tmp_path_factory) -> Path:
    """A model trained with the full default pipeline, shared by the tests that only read it."""
    from nlu import train

    path, trained = train(shop_nlu, None, tmp_path_factory.mktemp("models"))
    assert trained
    return path


@pytest.fixture(scope="session")
def pii_masker():
    """Presidio with spaCy, loaded once per test run (it takes seconds)."""
    from nlu.pii import get_masker

    return get_masker()
