"""The training-data readers fed garbage and broken files (hypothesis).

Whatever the input (random text or bytes, or a valid file with a few lines deleted, re-indented
or spliced with the format's own syntax), a reader either returns training data or raises
``TrainingDataError`` naming the file: never another exception.
"""

from __future__ import annotations

import json

import pytest
import yaml
from fuzz_inputs import FUZZ, JSON_TOKENS, as_bytes, json_mutated, mutated, yaml_mutated
from hypothesis import example, given
from hypothesis import strategies as st
from test_readers import NLU_YAML, RASA_JSON

from nlu.readers import TrainingDataError, jsonl, load_data, rasa_json, rasa_yaml

JSONL = "\n".join(
    json.dumps(line)
    for line in [
        {"text": "hi there", "intent": "greet"},
        {"text": "fly to Paris", "intent": "book", "entities": [{"start": 7, "end": 12, "value": "Paris", "entity": "city"}]},
    ]
)


def reads_or_fails_cleanly(read, text: str, path: str) -> None:
    try:
        read(text, path)
    except TrainingDataError as e:
        assert e.path == path and e.message
        assert e.line is None or e.line >= 1


@FUZZ
@given(text=st.one_of(st.text(), mutated(NLU_YAML), yaml_mutated(yaml.safe_load(NLU_YAML))))
@example(text="a: &a [*a]\nnlu: *a")
def test_yaml_reader(text):
    reads_or_fails_cleanly(rasa_yaml.read, text, "nlu.yml")


ANNOTATION_SYNTAX = ["[", "]", "(", ")", "{", "}", '"', ":", ",", "@", "a", " ", "\\", '"entity"', '"value"', '"role"',
                     '"group"', '"synonym"', "1", "null", "[]", "{}", "é", "\u200b"]


@FUZZ
@given(examples=st.lists(st.lists(st.sampled_from(ANNOTATION_SYNTAX), max_size=20).map("".join), min_size=1, max_size=5))
def test_annotated_examples(examples):
    block = "".join(f"    - {example}\n" for example in examples)
    reads_or_fails_cleanly(rasa_yaml.read, f"nlu:\n- intent: a\n  examples: |\n{block}", "nlu.yml")


@FUZZ
@given(text=st.one_of(st.text(), json_mutated(json.loads(RASA_JSON)), mutated(RASA_JSON, JSON_TOKENS)))
@example(text='{"rasa_nlu_data": {"common_examples": [{"text": "hi", "intent": ' + "9" * 5000 + "}]}}")
def test_rasa_json_reader(text):
    reads_or_fails_cleanly(rasa_json.read, text, "nlu.json")


@FUZZ
@given(text=st.one_of(st.text(), mutated(JSONL, JSON_TOKENS), json_mutated({"text": "hi", "intent": "greet"})))
@example(text='{"text": "hi", "intent": ' + "9" * 5000 + "}")
def test_jsonl_reader(text):
    reads_or_fails_cleanly(jsonl.read, text, "nlu.jsonl")


@pytest.mark.parametrize("name", ["nlu.yml", "nlu.json", "nlu.jsonl"])
def test_any_file_bytes(tmp_path, name):
    path = tmp_path / name

    @FUZZ
    @given(content=st.one_of(st.binary(), st.text().map(as_bytes), mutated(NLU_YAML).map(as_bytes)))
    def load(content):
        path.write_bytes(content)
        try:
            load_data(path)
        except TrainingDataError as e:
            assert e.path == str(path)

    load()
