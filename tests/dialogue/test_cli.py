import json
import os
import subprocess
import sys
from pathlib import Path

import yaml


def desk(*args, cwd=None, stdin=None):
    return subprocess.run(
        [sys.executable, "-m", "dialogue.cli", *map(str, args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )


def test_train_parse_and_test_from_the_command_line(shop_nlu, sparse_config, tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(sparse_config))
    models = tmp_path / "models"
    trained = desk("train", "nlu", "--nlu", shop_nlu, "--config", config, "--out", models)
    assert trained.returncode == 0, trained.stderr
    assert "Trained NLU model" in trained.stdout
    again = desk("train", "nlu", "--nlu", shop_nlu, "--config", config, "--out", models)
    assert "Nothing changed" in again.stdout
    assert len(list(models.glob("nlu-*.tar.gz"))) == 1

    parsed = desk("parse", "--model", models, "cancel order ORD-11111")
    assert parsed.returncode == 0, parsed.stderr
    result = json.loads(parsed.stdout)
    assert result["intent"]["name"] == "cancel_order"

    results = tmp_path / "results"
    tested = desk("test", "nlu", "--model", models, "--nlu", shop_nlu, "--out", results)
    assert tested.returncode == 0, tested.stderr
    report = json.loads((results / "intent_report.json").read_text())
    assert report["accuracy"] > 0.9
    assert (results / "entity_report.json").exists()
    assert (results / "intent_confusion_matrix.png").stat().st_size > 0


def test_a_bad_data_file_names_file_and_line_exits_2_and_writes_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n    - hello [there]{"entity": oops}\n'
        '- intent: bye\n  examples: |\n    - bye\n'
    )
    models = tmp_path / "models"
    result = desk("train", "nlu", "--nlu", data, "--out", models)
    assert result.returncode == 2
    assert f"{data / 'nlu.yml'}:6" in result.stderr
    assert "Traceback" not in result.stderr
    assert not models.exists() or not any(models.iterdir())


def test_missing_model_is_a_clear_error(tmp_path):
    result = desk("parse", "--model", tmp_path, "hello")
    assert result.returncode == 2
    assert "desk train nlu" in result.stderr


def test_cross_validation_writes_reports(shop_nlu, sparse_config, tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(sparse_config))
    out = tmp_path / "cv"
    result = desk("test", "nlu", "--nlu", shop_nlu, "--cross-validation", "--folds", "3", "--config", config, "--out", out)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "intent_report.json").read_text())
    assert report["weighted avg"]["support"] == 50
