"""NLU evaluation: every reported number is checked against counts done by hand."""

from __future__ import annotations

import json
from collections import Counter
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from nlu.evaluation import (
    cross_validate,
    entity_metrics,
    evaluate,
    fold_assignment,
    intent_metrics,
    out_of_fold_parses,
    parse_all,
    print_summary,
)
from nlu.training_data import Entity, Example, TrainingData

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def span(text: str, part: str, entity: str, **extra) -> Entity:
    start = text.index(part)
    return Entity(start, start + len(part), part, entity, **extra)


def ent_dict(text: str, part: str, entity: str, **extra) -> dict:
    return span(text, part, entity, **extra).as_dict()


def parse(text: str, intent: str, confidence: float, entities: list[dict] = ()) -> dict:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": [
            {**e, "confidence": 0.9, "extractor": "FakeExtractor"} for e in entities
        ],
        "intent_ranking": [{"name": intent, "confidence": confidence}],
    }


class FakeParser:
    """Answers from a fixed text -> parse table; remembers what it was asked."""

    def __init__(self, table: dict[str, dict]):
        self.table = table
        self.seen: list[str] = []

    def parse_batch(self, texts: list[str]) -> list[dict]:
        self.seen.extend(texts)
        return [self.table[t] for t in texts]


# --------------------------------------------------------------------------- shop fixture

T0 = "where is my order 12345"
T1 = "track order 98765"
T2 = "has my package shipped yet"
T3 = "i want to return the blue jacket and the red scarf"
T4 = "how do i send back these shoes"
T5 = "refund for my broken lamp"
T6 = "hello there"
T7 = "hi"
T8 = "good morning"
T9 = "can i return order 55555"

SHOP = TrainingData(
    examples=[
        Example(T0, "order_status", (span(T0, "12345", "order_id"),)),
        Example(T1, "order_status", (span(T1, "98765", "order_id"),)),
        Example(T2, "order_status"),
        Example(
            T3,
            "return_item",
            (span(T3, "blue jacket", "product"), span(T3, "red scarf", "product")),
        ),
        Example(T4, "return_item", (span(T4, "shoes", "product"),)),
        Example(T5, "return_item", (span(T5, "lamp", "product"),)),
        Example(T6, "greet"),
        Example(T7, "greet"),
        Example(T8, "greet"),
        Example(T9, "return_item", (span(T9, "55555", "order_id"),)),
    ]
)

SHOP_PARSES = {
    T0: parse(T0, "order_status", 0.95, [ent_dict(T0, "12345", "order_id")]),
    T1: parse(T1, "order_status", 0.90, [ent_dict(T1, "98765", "order_id")]),
    T2: parse(T2, "return_item", 0.60),  # wrong intent
    T3: parse(
        T3,
        "return_item",
        0.85,
        [ent_dict(T3, "blue jacket", "product"), ent_dict(T3, "red scarf", "product")],
    ),
    T4: parse(T4, "order_status", 0.55, [ent_dict(T4, "these shoes", "product")]),  # wrong
    T5: parse(T5, "return_item", 0.80),  # lamp missed
    T6: parse(T6, "greet", 0.99),
    T7: parse(T7, "greet", 0.97, [ent_dict(T7, "hi", "product")]),  # spurious entity
    T8: parse(T8, "nlu_fallback", 0.30),  # fallback, no out_of_scope intent in the data
    T9: parse(T9, "return_item", 0.88),  # order id missed
}


@pytest.fixture(scope="module")
def shop_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("shop") / "results"  # does not exist yet
    parser = FakeParser(SHOP_PARSES)
    summary = evaluate(parser, SHOP, out, plots=True)
    return out, summary, parser


def load(out: Path, name: str):
    return json.loads((out / name).read_text(encoding="utf-8"))


def assert_row(row: dict, precision, recall, f1, support):
    assert row["precision"] == pytest.approx(precision)
    assert row["recall"] == pytest.approx(recall)
    assert row["f1-score"] == pytest.approx(f1)
    assert row["support"] == support


def test_every_example_is_parsed_once(shop_run):
    _, summary, parser = shop_run
    assert sorted(parser.seen) == sorted(SHOP.texts)
    assert summary["n"] == 10


def test_intent_report_matches_hand_counts(shop_run):
    out, summary, _ = shop_run
    report = load(out, "intent_report.json")

    # gold:      order_status = {T0, T1, T2}, return_item = {T3, T4, T5, T9}, greet = {T6, T7, T8}
    # predicted: order_status = {T0, T1, T4}, return_item = {T2, T3, T5, T9}, greet = {T6, T7},
    #            nlu_fallback = {T8}
    # order_status: tp 2 (T0, T1) of 3 predicted, 3 gold -> P 2/3, R 2/3, F1 2/3
    assert_row(report["order_status"], 2 / 3, 2 / 3, 2 / 3, 3)
    # return_item: tp 3 (T3, T5, T9) of 4 predicted, 4 gold -> P 3/4, R 3/4, F1 3/4
    assert_row(report["return_item"], 3 / 4, 3 / 4, 3 / 4, 4)
    # greet: tp 2 (T6, T7) of 2 predicted, 3 gold -> P 1, R 2/3, F1 2*(2/3)/(5/3) = 4/5
    assert_row(report["greet"], 1, 2 / 3, 4 / 5, 3)

    # Rows are the gold intents only (as in Rasa): the fallback has no row of its own.
    assert set(report) == {
        "order_status", "return_item", "greet",
        "accuracy", "micro avg", "macro avg", "weighted avg",
    }  # fmt: skip
    # accuracy: 7 correct (T0 T1 T3 T5 T6 T7 T9) of 10
    assert report["accuracy"] == pytest.approx(7 / 10)
    # micro avg over the gold labels: 7 tp among the 9 predictions that are gold labels,
    # 7 of 10 gold found -> P 7/9, R 7/10, F1 = 2*(7/9)*(7/10)/(7/9 + 7/10) = 14/19
    assert_row(report["micro avg"], 7 / 9, 7 / 10, 14 / 19, 10)
    # macro: P (2/3 + 3/4 + 1)/3 = 29/36, R (2/3 + 3/4 + 2/3)/3 = 25/36,
    #        F1 (2/3 + 3/4 + 4/5)/3 = 133/180
    assert_row(report["macro avg"], 29 / 36, 25 / 36, 133 / 180, 10)
    # weighted (supports 3, 4, 3): P (3*2/3 + 4*3/4 + 3*1)/10 = 8/10,
    #   R (2 + 3 + 2)/10 = 7/10, F1 (3*2/3 + 4*3/4 + 3*4/5)/10 = 37/50
    assert_row(report["weighted avg"], 8 / 10, 7 / 10, 37 / 50, 10)

    # confused_with: what each gold intent was predicted as instead
    assert report["order_status"]["confused_with"] == {"return_item": 1}  # T2
    assert report["return_item"]["confused_with"] == {"order_status": 1}  # T4
    assert report["greet"]["confused_with"] == {"nlu_fallback": 1}  # T8

    assert "in_scope_accuracy" not in report
    assert summary["intent"] == pytest.approx(
        {"accuracy": 7 / 10, "macro_f1": 133 / 180, "weighted_f1": 37 / 50}
    )


def test_intent_errors(shop_run):
    out, _, _ = shop_run
    assert load(out, "intent_errors.json") == [
        {"text": T2, "intent": "order_status",
         "intent_prediction": {"name": "return_item", "confidence": 0.60}},
        {"text": T4, "intent": "return_item",
         "intent_prediction": {"name": "order_status", "confidence": 0.55}},
        {"text": T8, "intent": "greet",
         "intent_prediction": {"name": "nlu_fallback", "confidence": 0.30}},
    ]  # fmt: skip


def test_entity_report_matches_hand_counts(shop_run):
    out, summary, _ = shop_run
    report = load(out, "entity_report.json")

    # order_id: gold T0, T1, T9; predicted T0, T1 (both exact) -> tp 2, fp 0, fn 1
    #   P 2/2 = 1, R 2/3, F1 = 2*(2/3)/(5/3) = 4/5
    assert_row(report["order_id"], 1, 2 / 3, 4 / 5, 3)
    # product: gold jacket, scarf (T3), shoes (T4), lamp (T5)
    #   predicted jacket, scarf (tp), "these shoes" (wrong span: fp, and shoes is fn),
    #   "hi" (T7, spurious: fp); lamp missed (fn) -> tp 2, fp 2, fn 2
    #   P 2/4, R 2/4, F1 1/2
    assert_row(report["product"], 1 / 2, 1 / 2, 1 / 2, 4)
    # micro: tp 4, fp 2, fn 3 -> P 4/6 = 2/3, R 4/7, F1 = 2*(2/3)*(4/7)/(2/3 + 4/7) = 8/13
    assert_row(report["micro avg"], 2 / 3, 4 / 7, 8 / 13, 7)
    # macro: P (1 + 1/2)/2 = 3/4, R (2/3 + 1/2)/2 = 7/12, F1 (4/5 + 1/2)/2 = 13/20
    assert_row(report["macro avg"], 3 / 4, 7 / 12, 13 / 20, 7)
    # weighted (supports 3, 4): P (3*1 + 4*1/2)/7 = 5/7, R (3*2/3 + 4*1/2)/7 = 4/7,
    #   F1 (3*4/5 + 4*1/2)/7 = 22/35
    assert_row(report["weighted avg"], 5 / 7, 4 / 7, 22 / 35, 7)
    assert set(report) == {"order_id", "product", "micro avg", "macro avg", "weighted avg"}

    assert summary["entity"] == pytest.approx({"micro_f1": 8 / 13, "macro_f1": 13 / 20})


def test_entity_errors(shop_run):
    out, _, _ = shop_run
    errors = load(out, "entity_errors.json")
    # T4 wrong span, T5 missed lamp, T7 spurious "hi", T9 missed order id; T2 has nothing on
    # either side and the others are exact.
    assert [e["text"] for e in errors] == [T4, T5, T7, T9]
    by_text = {e["text"]: e for e in errors}
    assert by_text[T4]["entities"] == [ent_dict(T4, "shoes", "product")]
    assert by_text[T4]["predicted_entities"] == SHOP_PARSES[T4]["entities"]
    assert by_text[T9]["predicted_entities"] == []


def test_plots_are_png_files(shop_run):
    out, _, _ = shop_run
    for name in ("intent_confusion_matrix.png", "intent_histogram.png"):
        data = (out / name).read_bytes()
        assert len(data) > len(PNG_MAGIC)
        assert data.startswith(PNG_MAGIC)


def test_no_plots_and_no_entities(tmp_path):
    data = TrainingData(examples=[e for e in SHOP.examples if not e.entities])
    summary = evaluate(FakeParser(SHOP_PARSES), data, tmp_path, plots=False)
    assert summary["entity"] is None
    assert not (tmp_path / "entity_report.json").exists()
    assert not list(tmp_path.glob("*.png"))
    # T2 (wrong), T6, T7 (right), T8 (fallback) -> 2/4
    assert summary["intent"]["accuracy"] == pytest.approx(2 / 4)


# ----------------------------------------------------------------- out of scope (CLINC150)

OOS = [
    ("where is my order", "order_status", "order_status", 0.9),  # right
    ("track my parcel", "order_status", "nlu_fallback", 0.2),  # fallback -> out_of_scope: wrong
    ("return these shoes", "return_item", "return_item", 0.8),  # right
    ("send back the lamp", "return_item", "return_item", 0.9),  # right
    ("what is the weather like", "out_of_scope", "nlu_fallback", 0.1),  # fallback = oos: right
    ("tell me a joke", "out_of_scope", "out_of_scope", 0.7),  # right
    ("who won the game", "out_of_scope", "return_item", 0.5),  # wrong
]


def test_fallback_counts_as_out_of_scope(tmp_path):
    data = TrainingData(examples=[Example(t, g) for t, g, _, _ in OOS])
    parser = FakeParser({t: parse(t, p, c) for t, _, p, c in OOS})
    summary = evaluate(parser, data, tmp_path, plots=False)
    report = load(tmp_path, "intent_report.json")

    # in scope: 4 examples, 3 right (the fallback on "track my parcel" is an error) -> 3/4
    assert report["in_scope_accuracy"] == pytest.approx(3 / 4)
    # out of scope: 3 examples, 2 predicted out_of_scope or fallback -> 2/3
    assert report["out_of_scope_recall"] == pytest.approx(2 / 3)
    # overall: 5 of 7
    assert report["accuracy"] == pytest.approx(5 / 7)
    assert "nlu_fallback" not in report
    # out_of_scope predicted for "track my parcel", "weather", "joke": tp 2 of 3 -> P 2/3;
    # gold oos found 2 of 3 -> R 2/3, F1 2/3
    assert_row(report["out_of_scope"], 2 / 3, 2 / 3, 2 / 3, 3)
    # order_status: predicted only for "where is my order" -> P 1/1, R 1/2, F1 2/3
    assert_row(report["order_status"], 1, 1 / 2, 2 / 3, 2)
    assert report["order_status"]["confused_with"] == {"out_of_scope": 1}
    assert report["out_of_scope"]["confused_with"] == {"return_item": 1}

    assert summary["intent"]["in_scope_accuracy"] == pytest.approx(3 / 4)
    assert summary["intent"]["out_of_scope_recall"] == pytest.approx(2 / 3)
    assert load(tmp_path, "intent_errors.json") == [
        {"text": "track my parcel", "intent": "order_status",
         "intent_prediction": {"name": "out_of_scope", "confidence": 0.2}},
        {"text": "who won the game", "intent": "out_of_scope",
         "intent_prediction": {"name": "return_item", "confidence": 0.5}},
    ]  # fmt: skip


def test_fallback_is_an_error_without_out_of_scope():
    gold = ["greet", "greet", "order_status"]
    predicted = ["greet", "nlu_fallback", "order_status"]
    report = intent_metrics(gold, predicted)
    assert report["accuracy"] == pytest.approx(2 / 3)
    # greet: 1 of 2 found; predicted once, correctly -> P 1, R 1/2, F1 2/3
    assert_row(report["greet"], 1, 1 / 2, 2 / 3, 2)
    assert report["greet"]["confused_with"] == {"nlu_fallback": 1}
    assert "in_scope_accuracy" not in report


def test_confused_with_keeps_the_two_most_frequent():
    # gold "a" x7, predicted: a x3, b x2, c x1, d x1 -> top cells a(3), b(2), then c/d tie;
    # the diagonal is among the top three, so two labels are kept: b (2) and one of c/d (1).
    gold = ["a"] * 7 + ["b", "c", "d"]
    predicted = ["a"] * 3 + ["b"] * 2 + ["c", "d"] + ["b", "c", "d"]
    confused = intent_metrics(gold, predicted)["a"]["confused_with"]
    assert len(confused) == 2
    assert confused["b"] == 2
    assert set(confused) - {"b"} <= {"c", "d"}
    # diagonal not in the top three -> three labels
    gold = ["a"] * 7 + ["b", "c", "d"]
    predicted = ["a"] + ["b"] * 2 + ["c"] * 2 + ["d"] * 2 + ["b", "c", "d"]
    assert intent_metrics(gold, predicted)["a"]["confused_with"] == {"b": 2, "c": 2, "d": 2}


def test_entity_roles_and_groups_must_match_when_annotated():
    text = "ship from berlin to paris"
    gold = [
        [
            ent_dict(text, "berlin", "city", role="departure"),
            ent_dict(text, "paris", "city", role="destination", group="1"),
        ]
    ]
    predicted = [
        [
            ent_dict(text, "berlin", "city", role="destination"),  # wrong role: fp + fn
            ent_dict(text, "paris", "city", role="destination", group="1"),  # right
        ]
    ]
    # city: tp 1, fp 1, fn 1 -> P 1/2, R 1/2, F1 1/2
    assert_row(entity_metrics(gold, predicted)["city"], 1 / 2, 1 / 2, 1 / 2, 2)

    # A role or group that only the prediction carries is not held against it.
    gold = [[ent_dict(text, "paris", "city")]]
    predicted = [[ent_dict(text, "paris", "city", role="destination", group="2")]]
    assert_row(entity_metrics(gold, predicted)["city"], 1, 1, 1, 1)


def test_entity_wrong_type_counts_on_both_types():
    text = "order 12345"
    gold = [[ent_dict(text, "12345", "order_id")]]
    predicted = [[ent_dict(text, "12345", "phone")]]
    report = entity_metrics(gold, predicted)
    assert_row(report["order_id"], 0, 0, 0, 1)  # tp 0, fn 1
    assert_row(report["phone"], 0, 0, 0, 0)  # tp 0, fp 1, nothing to find
    assert_row(report["micro avg"], 0, 0, 0, 1)


def test_print_summary_renders_a_table(shop_run):
    _, summary, _ = shop_run
    buffer = StringIO()
    print_summary(summary, console=Console(file=buffer, width=100))
    text = buffer.getvalue()
    assert "intent accuracy" in text and "0.7000" in text
    assert "entity micro F1" in text


# ----------------------------------------------------------------------- cross-validation

CV_TEXTS = {
    "order_status": [
        "where is my order", "track my order please", "order status for 123",
        "when will my order arrive",
    ],
    "return_item": [
        "i want to return this", "how do i return shoes", "return the jacket",
        "start a return for my lamp",
    ],
    "greet": ["hello", "hello there shop", "hi hello", "good morning hello"],
}  # fmt: skip
CV_DATA = TrainingData(
    examples=[Example(t, intent) for intent, texts in CV_TEXTS.items() for t in texts]
)


class KeywordParser:
    """Predicts the intent whose training words overlap most with the text."""

    def __init__(self, data: TrainingData, log: list[str]):
        self.words: dict[str, Counter] = {}
        for e in data.examples:
            self.words.setdefault(e.intent, Counter()).update(e.text.split())
        self.log = log

    def parse_batch(self, texts: list[str]) -> list[dict]:
        self.log.extend(texts)
        out = []
        for text in texts:
            scores = {
                intent: sum(words[w] for w in text.split())
                for intent, words in sorted(self.words.items())
            }
            best = max(scores, key=scores.get)
            total = sum(scores.values()) or 1
            out.append(parse(text, best, scores[best] / total))
        return out


def test_cross_validate_predicts_every_example_once(tmp_path):
    parsed: list[str] = []
    train_sets: list[set[str]] = []

    def train(fold_data: TrainingData) -> KeywordParser:
        train_sets.append(set(fold_data.texts))
        return KeywordParser(fold_data, parsed)

    summary = cross_validate(CV_DATA, 3, train, tmp_path, seed=0)

    assert len(train_sets) == 3
    assert sorted(parsed) == sorted(CV_DATA.texts)  # each example parsed exactly once
    assert len(summary["folds"]) == 3
    assert summary["n"] == len(CV_DATA.examples)
    # each fold trains on the other two thirds: 12 - 4 examples, none of its test texts
    assert all(len(s) == 8 for s in train_sets)
    # every text is in the training part of exactly two folds (held out in the third)
    assert Counter(t for s in train_sets for t in s) == {t: 2 for t in CV_DATA.texts}
    report = load(tmp_path, "intent_report.json")
    assert sum(report[i]["support"] for i in CV_TEXTS) == 12
    assert summary["intent"]["accuracy"] == pytest.approx(report["accuracy"])
    mean = sum(summary["folds"]) / 3
    assert summary["fold_accuracy_mean"] == pytest.approx(mean)
    assert summary["fold_accuracy_std"] >= 0
    assert (tmp_path / "intent_confusion_matrix.png").read_bytes().startswith(PNG_MAGIC)

    # stratified: every fold holds out 4 examples, one or two of each intent
    fold_of = fold_assignment(CV_DATA, 3, seed=0)
    assert Counter(fold_of) == {0: 4, 1: 4, 2: 4}
    for k in range(3):
        held = Counter(e.intent for e, f in zip(CV_DATA.examples, fold_of) if f == k)
        assert set(held) == set(CV_TEXTS)

    parses, fold_of2 = out_of_fold_parses(CV_DATA, 3, lambda d: KeywordParser(d, []), seed=0)
    assert fold_of2 == fold_of
    assert [p["text"] for p in parses] == CV_DATA.texts


def test_cross_validate_fold_accuracies_are_exact(tmp_path):
    # A parser that always answers "greet": each fold holds out 4 examples, and the
    # greet ones among them are the only correct answers.
    def train(_data: TrainingData):
        return FakeParser({t: parse(t, "greet", 1.0) for t in CV_DATA.texts})

    summary = cross_validate(CV_DATA, 4, train, tmp_path, plots=False)
    fold_of = fold_assignment(CV_DATA, 4, seed=0)
    # 4 folds of 3 examples, one per intent (4 examples per intent) -> 1/3 each
    assert Counter(fold_of) == {0: 3, 1: 3, 2: 3, 3: 3}
    assert summary["folds"] == pytest.approx([1 / 3] * 4)
    assert summary["fold_accuracy_std"] == pytest.approx(0)
    assert summary["intent"]["accuracy"] == pytest.approx(4 / 12)


def test_cross_validate_rejects_too_many_folds(tmp_path):
    with pytest.raises(ValueError, match="at most 4 folds"):
        cross_validate(CV_DATA, 5, lambda d: KeywordParser(d, []), tmp_path)


def test_cross_validate_rejects_single_example_intents(tmp_path):
    data = TrainingData(examples=CV_DATA.examples + [Example("cancel it", "cancel")])
    with pytest.raises(ValueError, match="at least 2 examples per intent.*cancel"):
        cross_validate(data, 2, lambda d: KeywordParser(d, []), tmp_path)


def test_parse_all_batches_in_order(capsys):
    sizes: list[int] = []

    class Recording(FakeParser):
        def parse_batch(self, texts):
            sizes.append(len(texts))
            return super().parse_batch(texts)

    parses = parse_all(Recording(SHOP_PARSES), SHOP.texts, batch_size=3, show_progress=True)
    assert sizes == [3, 3, 3, 1]
    assert [p["text"] for p in parses] == SHOP.texts

    class Short(FakeParser):
        def parse_batch(self, texts):
            return super().parse_batch(texts)[:-1]

    with pytest.raises(ValueError, match="2 results for 3 texts"):
        parse_all(Short(SHOP_PARSES), SHOP.texts[:3])
