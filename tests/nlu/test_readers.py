"""Training-data readers: Rasa YAML, Rasa JSON, JSON Lines, directories, and bad files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nlu.readers import TrainingDataError, load_data
from nlu.training_data import Entity, Example, TrainingData

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
FINANCIAL_DEMO = DATASETS / "rasa" / "financial-demo"

INTENT = "nlu:\n- intent: greet\n  examples: |\n    - hi\n"  # 4 lines
RASA_JSON_START = '{"rasa_nlu_data": {"common_examples": [\n'


def write(directory: Path, name: str, content: str | bytes) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


NLU_YAML = """\
version: "3.1"
nlu:
- intent: book_flight
  metadata:
    sentiment: neutral
  examples: |
    - fly from [Berlin]{"entity": "city", "role": "from"} to [LA]{"entity": "city", "role": "to", "value": "Los Angeles"}
    - [two](count) tickets for [me]{"entity": "person", "group": "1"}
    -   press [enter] to book

    - a [NYC](city:New York) flight
- intent: greet
  examples:
  - text: |
      hello [there](addressee)
    metadata:
      channel: web
  - text: hi
- synonym: credit
  examples: |
    - Credit Card
    - credit account
- regex: zipcode
  examples: |
    - [0-9]{5}
- lookup: city
  examples: |
    - Paris
    - Rome
- lookup: city
  examples: |
    - Oslo
responses:
  utter_greet:
  - text: hello
"""


def test_rasa_yaml(tmp_path):
    path = write(tmp_path, "nlu.yml", NLU_YAML)
    data = load_data(path)
    src = f"{path}:"
    assert data.examples == [
        Example(
            "fly from Berlin to LA",
            "book_flight",
            (
                Entity(9, 15, "Berlin", "city", role="from"),
                Entity(19, 21, "Los Angeles", "city", role="to"),
            ),
            src + "7",
        ),
        Example(
            "two tickets for me",
            "book_flight",
            (Entity(0, 3, "two", "count"), Entity(16, 18, "me", "person", group="1")),
            src + "8",
        ),
        Example("press [enter] to book", "book_flight", (), src + "9"),
        Example("a NYC flight", "book_flight", (Entity(2, 5, "New York", "city"),), src + "11"),
        Example("hello there", "greet", (Entity(6, 11, "there", "addressee"),), src + "15"),
        Example("hi", "greet", (), src + "18"),
    ]
    assert data.synonyms == {
        "la": "Los Angeles",
        "nyc": "New York",
        "credit card": "credit",
        "credit account": "credit",
    }
    assert data.regexes == [("zipcode", "[0-9]{5}")]
    assert data.lookups == {"city": ["Paris", "Rome", "Oslo"]}


def test_rasa_yaml_keeps_scalars_as_written(tmp_path):
    # YAML 1.1 would read these names as a boolean and a float.
    content = "nlu:\n- intent: yes\n  examples: |\n    - sure\n"
    content += "- lookup: 1.0\n  examples: |\n    - no\n"
    path = write(tmp_path, "nlu.yml", content)
    data = load_data(path)
    assert data.intents == ["yes"]
    assert data.lookups == {"1.0": ["no"]}


def test_rasa_yaml_empty_nlu_section(tmp_path):
    assert load_data(write(tmp_path, "nlu.yml", 'version: "3.1"\nnlu:\n')) == TrainingData()


def test_rasa_yaml_crlf_line_numbers(tmp_path):
    content = b"nlu:\r\n- intent: a\r\n  examples: |\r\n    - one\r\n    - two\r\n"
    path = write(tmp_path, "nlu.yml", content)
    assert [e.source for e in load_data(path).examples] == [f"{path}:4", f"{path}:5"]


RASA_JSON = """\
{
  "rasa_nlu_data": {
    "common_examples": [
      {"text": "hey", "intent": "greet"},
      {
        "text": "fly to NYC with Ann",
        "intent": "book_flight",
        "metadata": {"source": "log"},
        "entities": [
          {"start": 7, "end": 10, "value": "New York", "entity": "city", "role": "to"},
          {"start": 16, "end": 19, "value": "Ann", "entity": "person", "group": "1"}
        ]
      },
      {"text": "Berlin", "entities": [{"start": 0, "end": 6, "entity": "city"}]}
    ],
    "entity_synonyms": [{"value": "credit", "synonyms": ["Credit Card", "credit account"]}],
    "regex_features": [{"name": "zipcode", "pattern": "[0-9]{5}"}],
    "lookup_tables": [{"name": "city", "elements": ["Paris", "Rome"]}]
  }
}
"""


def test_rasa_json(tmp_path):
    path = write(tmp_path, "nlu.json", RASA_JSON)
    data = load_data(path)
    assert data.examples == [
        Example("hey", "greet", (), f"{path}:4"),
        Example(
            "fly to NYC with Ann",
            "book_flight",
            (
                Entity(7, 10, "New York", "city", role="to"),
                Entity(16, 19, "Ann", "person", group="1"),
            ),
            f"{path}:5",
        ),
        # As in Rasa, an example may carry entities only.
        Example("Berlin", None, (Entity(0, 6, "Berlin", "city"),), f"{path}:14"),
    ]
    assert data.synonyms == {"nyc": "New York", "credit card": "credit", "credit account": "credit"}
    assert data.regexes == [("zipcode", "[0-9]{5}")]
    assert data.lookups == {"city": ["Paris", "Rome"]}


def test_jsonl(tmp_path):
    lines = [
        {
            "text": "play jazz",
            "intent": "PlayMusic",
            "entities": [{"start": 5, "end": 9, "value": "jazz", "entity": "genre"}],
        },
        {
            "text": "from A to B",
            "intent": "Route",
            "entities": [
                {"start": 5, "end": 6, "value": "A", "entity": "city", "role": "from", "group": "g"},
                {"start": 10, "end": 11, "value": "B", "entity": "city", "role": "to"},
            ],
        },
        {"text": "hello", "intent": "greet"},
    ]
    text = "\n".join(json.dumps(line) for line in lines[:2]) + "\n\n" + json.dumps(lines[2]) + "\n"
    path = write(tmp_path, "train.jsonl", text)
    data = load_data(path)
    assert data.examples == [
        Example("play jazz", "PlayMusic", (Entity(5, 9, "jazz", "genre"),), f"{path}:1"),
        Example(
            "from A to B",
            "Route",
            (Entity(5, 6, "A", "city", "from", "g"), Entity(10, 11, "B", "city", "to")),
            f"{path}:2",
        ),
        Example("hello", "greet", (), f"{path}:4"),
    ]
    assert data.synonyms == {}


def test_empty_jsonl(tmp_path):
    assert load_data(write(tmp_path, "empty.jsonl", "")) == TrainingData()


def test_directory_is_read_recursively_in_order(tmp_path):
    write(tmp_path, "b/nlu.yml", "nlu:\n- intent: b\n  examples: |\n    - from b\n")
    write(tmp_path, "a/deeper/train.jsonl", '{"text": "from jsonl", "intent": "a"}\n')
    write(tmp_path, "a/nlu.json", RASA_JSON_START + '{"text": "from json", "intent": "a"}]}}')
    write(tmp_path, "c.yaml", "nlu:\n- synonym: x\n  examples: |\n    - y\n")
    # Skipped: Rasa stories, rules and domain files, other file types, hidden folders.
    write(tmp_path, "b/stories.yml", "stories:\n- story: s\n  steps:\n  - intent: b\n")
    write(tmp_path, "rules.yml", "rules:\n- rule: r\n  steps:\n  - intent: b\n")
    write(tmp_path, "domain.yml", "intents:\n- b\nresponses:\n  utter_b:\n  - text: b\n")
    write(tmp_path, "README.md", "- [not](data)\n")
    write(tmp_path, "notes.txt", "not data\n")
    write(tmp_path, ".cache/broken.yml", "nlu: [\n")
    data = load_data(tmp_path)
    assert data.texts == ["from jsonl", "from json", "from b"]
    assert data.synonyms == {"y": "x"}
    assert load_data(str(tmp_path)) == data


@pytest.mark.parametrize(
    "content", ["stories:\n- story: s\n  steps: []\n", 'version: "3.1"\n', "", "- a list\n"]
)
def test_explicit_yaml_file_must_hold_nlu_data(tmp_path, content):
    path = write(tmp_path, "data.yml", content)
    with pytest.raises(TrainingDataError) as info:
        load_data(path)
    assert (info.value.path, info.value.line) == (str(path), None)
    assert info.value.message == "no `nlu:` section"


def test_explicit_file_of_unsupported_type(tmp_path):
    path = write(tmp_path, "nlu.md", "## intent:greet\n- hi\n")
    with pytest.raises(TrainingDataError, match="unsupported file type"):
        load_data(path)


def test_missing_path(tmp_path):
    with pytest.raises(TrainingDataError, match="no such file"):
        load_data(tmp_path / "absent.yml")


def test_error_string():
    error = TrainingDataError("data/nlu.yml", 7, "example under no intent")
    assert isinstance(error, ValueError)
    assert str(error) == "data/nlu.yml:7: example under no intent"
    no_line = TrainingDataError("data/nlu.yml", None, "no `nlu:` section")
    assert str(no_line) == "data/nlu.yml: no `nlu:` section"


@pytest.mark.skipif(not FINANCIAL_DEMO.is_dir(), reason="financial-demo dataset not present")
def test_financial_demo():
    nlu_file = load_data(FINANCIAL_DEMO / "data" / "nlu" / "nlu.yml")
    assert len(nlu_file.intent_counts()) > 10
    assert sum(len(e.entities) for e in nlu_file.examples) > 0
    assert nlu_file.synonyms["credit card"] == "credit"
    # The whole project: domain, stories, rules, test stories and config are skipped.
    assert load_data(FINANCIAL_DEMO) == nlu_file


@pytest.mark.parametrize(
    "name, examples, intents",
    [("clinc150", 15100, 151), ("banking77", 10003, 77), ("snips", 13084, 7)],
)
def test_benchmark_train_files(name, examples, intents):
    path = DATASETS / name / "train.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    data = load_data(path)
    assert len(data.examples) == examples
    assert len(data.intent_counts()) == intents
    if name == "snips":
        assert sum(len(e.entities) for e in data.examples) > 0




def bad(name: str, content: str | bytes, line: int, message: str):
    """A bad file: its name, content, the line to report and part of the message."""
    return pytest.param(name, content, line, message, id=name)


BAD_FILES = [
    # Rasa YAML
    bad("syntax.yml", INTENT + "    - hello\n   - bad: [\n", 6, "invalid YAML"),
    bad("control_char.yml", INTENT + "    - he\x07llo\n", 5, "not allowed"),
    bad("bad_utf8.yml", INTENT.encode() + b"    - caf\xe9\n", 5, "not valid UTF-8"),
    bad("top_key.yml", INTENT + "nlu_data:\n- intent: x\n", 5, "unknown top-level key 'nlu_data'"),
    bad("item_key.yml", "nlu:\n- intent: greet\n  exmples: |\n    - hi\n", 3, "key 'exmples'"),
    bad("item_typo.yml", INTENT + "- intnet: bye\n  examples: |\n    - bye\n", 5, "key 'intnet'"),
    bad("two_kinds.yml", INTENT + "- intent: bye\n  synonym: bye\n", 6, "unknown key 'synonym'"),
    bad("duplicate.yml", INTENT + "- intent: bye\n  intent: ciao\n", 6, "duplicate key 'intent'"),
    bad("unclosed.yml", INTENT + "    - fly to [Paris](city\n", 5, "unclosed '('"),
    bad("no_opener.yml", INTENT + "    - fly to Paris](city)\n", 5, "without an opening '['"),
    bad("empty_span.yml", INTENT + "    - fly to [](city)\n", 5, "empty text"),
    bad("no_entity.yml", INTENT + "    - fly to [Paris]()\n", 5, "without an entity name"),
    bad("bad_json.yml", INTENT + '    - ok\n    - [Paris]{"entity": city}\n', 6, "invalid JSON"),
    bad("json_no_entity.yml", INTENT + '    - [Paris]{"value": "paris"}\n', 5, "without 'entity'"),
    bad("json_key.yml", INTENT + '    - [Paris]{"entity": "city", "rol": "to"}\n', 5, "key 'rol'"),
    bad("no_intent.yml", INTENT + "- hello\n", 5, "example under no intent"),
    bad("no_intent_block.yml", INTENT + "- examples: |\n    - hey\n", 5, "example under no intent"),
    bad("empty_example.yml", INTENT + "    -\n", 5, "empty example"),
    bad("no_dash.yml", INTENT + "    hello\n", 5, "must start with '- '"),
    bad("no_examples.yml", INTENT + "- intent: bye\n", 5, "has no examples"),
    bad("empty_text.yml", "nlu:\n- intent: a\n  examples:\n  - text: ''\n", 4, "empty example"),
    bad("bad_regex.yml", INTENT + "- regex: z\n  examples: |\n    - \\d\n    - [0-9\n", 8, "regex"),
    # JSON Lines
    bad(
        "offsets.jsonl",
        '{"text": "hi", "intent": "a"}\n'
        '{"text": "fly to NYC", "intent": "b", '
        '"entities": [{"start": 7, "end": 9, "value": "NYC", "entity": "city"}]}\n',
        2,
        "entity offsets do not match the text",
    ),
    bad(
        "range.jsonl",
        '{"text": "fly", "intent": "b", "entities": [{"start": 1, "end": 9, "entity": "c"}]}\n',
        1,
        "outside the text",
    ),
    bad("no_intent.jsonl", '{"text": "hi", "intent": "a"}\n\n{"text": "hey"}\n', 3, "no intent"),
    bad("key.jsonl", '{"text": "hi", "intent": "a", "label": 1}\n', 1, "unknown key 'label'"),
    bad("syntax.jsonl", '{"text": "hi", "intent": "a"}\n{"text": "hi",\n', 2, "invalid JSON"),
    bad("not_object.jsonl", '["hi", "a"]\n', 1, "expected a JSON object"),
    bad("bad_utf8.jsonl", b'{"text": "hi", "intent": "a"}\n{"text": "\xc3"}\n', 2, "UTF-8"),
    # Rasa JSON
    bad("syntax.json", RASA_JSON_START + '    {"text": "hi"},\n  ]\n}}\n', 3, "invalid JSON"),
    bad("empty.json", "", 1, "invalid JSON"),
    bad("no_data.json", '\n{"common_examples": []}\n', 2, "unknown key 'common_examples'"),
    bad(
        "example_key.json",
        RASA_JSON_START + '  {"text": "hi"},\n  {"text": "yo", "intnt": "a"}\n]}}\n',
        3,
        "unknown key 'intnt'",
    ),
    bad(
        "range.json",
        RASA_JSON_START
        + '  {"text": "hi", "entities": [\n    {"start": 0, "end": 5, "entity": "x"}]}]}}\n',
        3,
        "outside the text",
    ),
]


@pytest.mark.parametrize("name, content, line, message", BAD_FILES)
def test_bad_file(tmp_path, name, content, line, message):
    path = write(tmp_path, name, content)
    with pytest.raises(TrainingDataError) as info:
        load_data(path)
    assert info.value.path == str(path)
    assert info.value.line == line
    assert message in info.value.message
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_bad_file_in_directory_names_that_file(tmp_path):
    write(tmp_path, "a/good.yml", INTENT)
    bad = write(tmp_path, "b/bad.yml", INTENT + "- hello\n")
    with pytest.raises(TrainingDataError) as info:
        load_data(tmp_path)
    assert (info.value.path, info.value.line) == (str(bad), 5)


def _mutate(rng: random.Random, data: bytes) -> bytes:
    """One to four random byte flips, truncations, deletions or insertions of markup characters."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(out) + 1)
        op = rng.random()
        if op < 0.3 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif op < 0.4:
            del out[pos:]
        elif op < 0.5:
            del out[pos : pos + rng.randint(1, 5)]
        else:
            out.insert(pos, rng.choice(b'[](){}:-\n" |'))
    return bytes(out)


FUZZ_SEEDS = {
    "nlu.yml": NLU_YAML,
    "train.jsonl": '{"text": "from A to B", "intent": "Route", "entities": '
    '[{"start": 5, "end": 6, "value": "A", "entity": "city", "role": "from"}]}\n'
    '{"text": "play jazz", "intent": "PlayMusic"}\n',
    "nlu.json": RASA_JSON,
}


@pytest.mark.parametrize("name", list(FUZZ_SEEDS))
def test_mutated_files_raise_only_training_data_errors(tmp_path, name):
    seed = FUZZ_SEEDS[name].encode()
    rng = random.Random(0)
    path = tmp_path / name
    for _ in range(300):
        mutated = _mutate(rng, seed)
        path.write_bytes(mutated)
        try:
            assert isinstance(load_data(path), TrainingData)
        except TrainingDataError as e:
            assert e.path == str(path)
            lines = mutated.replace(b"\r\n", b"\n").replace(b"\r", b"\n").count(b"\n") + 1
            assert e.line is None or 1 <= e.line <= lines
