"""Entity components: taggers, matchers, value parsing, synonym mapping and merging."""

from __future__ import annotations

import ctypes
import datetime as dt
import itertools
import pickle
import string
import threading

import joblib
import pytest

from nlu.entities import (
    CRFEntityExtractor,
    EntitySynonymMapper,
    LookupEntityExtractor,
    RegexEntityExtractor,
    ValueExtractor,
    merge_entities,
)
from nlu.entities._spans import bilou_to_spans, decode_label, encode_label, entities_to_bilou
from nlu.entities.tokenizer import tokenize

OUTPUT_KEYS = {"start", "end", "value", "entity", "confidence", "extractor"}


def spans(entities):
    return [(e["start"], e["end"], e["entity"]) for e in entities]


def annotate(template: str, **slots: tuple) -> tuple[str, list[dict]]:
    """Fill ``{slot}`` placeholders; each slot is ``(text, entity, role, group)`` and gets annotated."""
    text, entities = "", []
    for literal, field, _, _ in string.Formatter().parse(template):
        text += literal
        if field is None:
            continue
        value, entity, role, group = slots[field]
        ent = {"start": len(text), "end": len(text) + len(value), "value": value, "entity": entity}
        if role:
            ent["role"] = role
        if group:
            ent["group"] = group
        entities.append(ent)
        text += value
    return text, entities


CITIES = ["Lisbon", "Berlin", "Madrid", "Oslo", "Vienna", "Prague", "Dublin", "Rome"]
PRODUCTS = ["shirt", "hat", "scarf", "jacket", "sweater"]
SIZES = ["small", "medium", "large"]


def shop_corpus() -> tuple[list[str], list[list[dict]]]:
    """Small shop-assistant sentences with order ids, cities with roles and grouped product specs."""
    X, y = [], []
    pairs = list(itertools.permutations(CITIES[:6], 2))[:18]
    for k, (a, b) in enumerate(pairs):
        template = ["move my parcel from {a} to {b}", "ship it from {a} to {b} please",
                    "send the package from {a} to {b}"][k % 3]
        text, ents = annotate(template, a=(a, "city", "origin", None), b=(b, "city", "destination", None))
        X.append(text)
        y.append(ents)
    for k in range(15):
        s1, p1 = SIZES[k % 3], PRODUCTS[k % 5]
        s2, p2 = SIZES[(k + 1) % 3], PRODUCTS[(k + 2) % 5]
        template = ["i want a {s1} {p1} and a {s2} {p2}", "add a {s1} {p1} and a {s2} {p2} to my cart"][k % 2]
        text, ents = annotate(
            template,
            s1=(s1, "size", None, "1"), p1=(p1, "product", None, "1"),
            s2=(s2, "size", None, "2"), p2=(p2, "product", None, "2"),
        )
        X.append(text)
        y.append(ents)
    for k in range(12):
        order = f"ORD-{10000 + 7919 * k % 90000:05d}"
        template = ["where is order {o}", "cancel {o} please", "has {o} shipped yet", "track {o}"][k % 4]
        text, ents = annotate(template, o=(order, "order_id", None, None))
        X.append(text)
        y.append(ents)
    X += ["hello there", "thanks a lot", "what is your refund policy", "are returns free"]
    y += [[], [], [], []]
    return X, y


@pytest.fixture(scope="module")
def crf():
    X, y = shop_corpus()
    return CRFEntityExtractor().fit(X, y)


# -- tokenizer and tags --------------------------------------------------------------------------


def test_tokenizer_keeps_offsets_and_compound_tokens():
    text = "Order ORD-12345 cost $12.50; mail jo.doe@shop.example, don't wait!"
    tokens = tokenize(text)
    assert all(text[t.start:t.end] == t.text for t in tokens)
    words = [t.text for t in tokens]
    assert "ORD-12345" in words and "$12.50" in words and "jo.doe@shop.example" in words
    assert "don't" in words and words[-1] == "!" and ";" in words
    assert [t.text for t in tokenize("Bob's hat")] == ["Bob", "'s", "hat"]


def test_labels_round_trip_role_and_group():
    ent = {"entity": "city", "role": "origin", "group": "2"}
    assert encode_label(ent) == "city#origin@2"
    assert decode_label("city#origin@2") == ("city", "origin", "2")
    assert decode_label("city@1") == ("city", None, "1")
    assert decode_label("city") == ("city", None, None)


def test_bilou_encoding_and_lenient_decoding():
    text = "ship from New York City to Oslo"
    tokens = tokenize(text)
    ents = [{"start": 10, "end": 23, "entity": "city"}, {"start": 27, "end": 31, "entity": "city"}]
    tags = entities_to_bilou(tokens, ents)
    assert tags == ["O", "O", "B-city", "I-city", "L-city", "O", "U-city"]
    assert bilou_to_spans(tags) == [(2, 5, "city"), (6, 7, "city")]
    # ill-formed sequences still give every tagged token a span
    assert bilou_to_spans(["I-a", "L-a", "B-b", "B-b", "O", "I-c"]) == [(0, 2, "a"), (2, 3, "b"), (3, 4, "b"), (5, 6, "c")]


# -- CRF -----------------------------------------------------------------------------------------


def test_crf_learns_entities_with_roles_and_groups(crf):
    # city pair and product/size combinations not seen together in training
    found = crf.predict(["send the package from Rome to Dublin"])[0]
    by_value = {e["value"]: e for e in found}
    assert by_value["Rome"]["entity"] == "city" and by_value["Rome"]["role"] == "origin"
    assert by_value["Dublin"]["entity"] == "city" and by_value["Dublin"]["role"] == "destination"
    assert "group" not in by_value["Rome"]

    text = "i want a large sweater and a small hat"
    found = crf.predict([text])[0]
    got = {(e["value"], e["entity"], e.get("group")) for e in found}
    assert got == {("large", "size", "1"), ("sweater", "product", "1"), ("small", "size", "2"), ("hat", "product", "2")}
    for e in found:
        assert OUTPUT_KEYS <= set(e)
        assert text[e["start"]:e["end"]] == e["value"]
        assert e["extractor"] == "CRFEntityExtractor"
        assert 0.0 <= e["confidence"] <= 1.0


def test_crf_predicts_nothing_on_chitchat_and_is_confident_on_clear_cases(crf):
    assert crf.predict(["thanks a lot", ""]) == [[], []]
    order = crf.predict(["where is order ORD-55555"])[0]
    assert spans(order) == [(15, 24, "order_id")]
    assert order[0]["confidence"] > 0.5


def test_crf_joblib_round_trip_gives_identical_predictions(crf, tmp_path):
    texts = ["ship it from Vienna to Prague please", "add a medium scarf and a large jacket to my cart", "track ORD-42424"]
    path = tmp_path / "crf.joblib"
    joblib.dump(crf, path)
    loaded = joblib.load(path)
    assert loaded.predict(texts) == crf.predict(texts)
    assert loaded.get_params() == crf.get_params()


def test_crf_training_is_deterministic_while_others_draw_from_the_c_random_generator():
    """ONNX Runtime, loaded with the sentence encoder, calls the C library's ``rand()`` from a
    thread of its own: crfsuite's shuffles must not see those draws."""
    X, y = shop_corpus()
    texts = ["move my parcel from Oslo to Rome", "i want a small jacket and a medium shirt"]
    libc, stop = ctypes.CDLL(None), threading.Event()
    drawing = threading.Thread(target=lambda: [libc.rand() for _ in iter(stop.is_set, True)], daemon=True)
    drawing.start()
    try:
        first = CRFEntityExtractor(random_state=3).fit(X, y).predict(texts)
        second = CRFEntityExtractor(random_state=3).fit(X, y).predict(texts)
    finally:
        stop.set()
        drawing.join()
    assert first == second  # confidences included: the same weights, not only the same tags


SONGS = ["Thriller", "Yesterday", "Imagine", "Hallelujah", "Vogue", "Creep", "Jolene", "Roxanne", "Wonderwall", "Respect"]
FILMS = ["Casablanca", "Vertigo", "Alien", "Jaws", "Psycho", "Rocky", "Amadeus", "Fargo", "Heat", "Gladiator"]


def requests_far_from_their_cue():
    """Two intents whose entities are phrased alike: only a word beyond the tagger's window tells
    whether the title is a song or a film."""
    X, y, intents = [], [], []
    for kind, entity, titles in (("music", "song", SONGS), ("cinema", "film", FILMS)):
        for k, title in enumerate(titles):
            opener = ["some", "any", "good"][k % 3]
            text, ents = annotate(f"{opener} {kind} tonight , i really want {{t}}", t=(title, entity, None, None))
            X.append(text)
            y.append(ents)
            intents.append(f"ask_{kind}")
    return X, y, intents


def test_crf_intent_features_tell_apart_entities_phrased_alike():
    X, y, intents = requests_far_from_their_cue()
    texts = ["good music tonight , i really want Zombie", "some cinema tonight , i really want Zombie"]
    found = CRFEntityExtractor().fit(X, y, intents=intents).predict(texts)
    assert [[(e["value"], e["entity"]) for e in f] for f in found] == [[("Zombie", "song")], [("Zombie", "film")]]
    # Without them the two messages look the same to the tagger where it matters: one is wrong.
    blind = CRFEntityExtractor(intent_features=False).fit(X, y, intents=intents).predict(texts)
    assert blind[0][0]["entity"] == blind[1][0]["entity"]


def test_intent_cues_need_two_intents_with_two_examples_each():
    from nlu.entities.intent_cues import IntentCues

    assert IntentCues().fit_out_of_fold(["a b", "c d", "e f"], ["x", "x", "y"]) is None
    X, _, intents = requests_far_from_their_cue()
    cues = IntentCues().fit_out_of_fold(X + ["no intent here"], intents + [None])
    assert cues[-1] == {}  # an example without an intent (entities only) gets no cues
    assert max(cues[0], key=cues[0].get) == "intent=ask_music"
    assert all(0.05 <= p <= 1 for c in cues[:-1] for p in c.values())


def test_crf_saved_before_intent_features_still_predicts():
    X, y, intents = requests_far_from_their_cue()
    model = CRFEntityExtractor(intent_features=False).fit(X, y)
    old = pickle.loads(pickle.dumps(model))
    for attribute in ("intent_features", "intent_cues_"):  # what older code did not set
        vars(old).pop(attribute, None)
    assert old.get_params()["intent_features"] is False
    assert old.predict(["some music tonight , i really want Zombie"]) == model.predict(["some music tonight , i really want Zombie"])


def test_crf_uses_lookup_tables_as_features():
    X = ["i live in Lisbon", "ship to Berlin", "i'm in Madrid now", "hello", "send it to Oslo today"]
    y = [[{"start": 10, "end": 16, "value": "Lisbon", "entity": "city"}],
         [{"start": 8, "end": 14, "value": "Berlin", "entity": "city"}],
         [{"start": 7, "end": 13, "value": "Madrid", "entity": "city"}],
         [],
         [{"start": 11, "end": 15, "value": "Oslo", "entity": "city"}]]
    tables = {"city": ["Lisbon", "Berlin", "Madrid", "Oslo", "Quito"]}
    model = CRFEntityExtractor(tables=tables).fit(X * 3, y * 3)
    found = model.predict(["i live in Quito"])[0]
    assert [(e["value"], e["entity"]) for e in found] == [("Quito", "city")]


def test_crf_without_annotations_predicts_nothing_and_needs_fit():
    with pytest.raises(RuntimeError, match="not fitted"):
        CRFEntityExtractor().predict(["hi"])
    model = CRFEntityExtractor().fit(["hello", "bye"], [[], []])
    assert model.predict(["hello"]) == [[]]
    with pytest.raises(ValueError, match="different lengths"):
        CRFEntityExtractor().fit(["a", "b"], [[]])


def test_spacy_ner_alternative_learns_and_round_trips(tmp_path):
    from nlu.entities import SpacyNEREntityExtractor

    X, y = shop_corpus()
    model = SpacyNEREntityExtractor(epochs=15, max_seconds=60).fit(X, y)
    texts = ["where is order ORD-12345", "ship it from Lisbon to Berlin please"]
    found = model.predict(texts)
    assert [(e["value"], e["entity"]) for e in found[0]] == [("ORD-12345", "order_id")]
    cities = {(e["value"], e.get("role")) for e in found[1]}
    assert cities == {("Lisbon", "origin"), ("Berlin", "destination")}
    assert all(0.0 <= e["confidence"] <= 1.0 and e["extractor"] == "SpacyNEREntityExtractor" for f in found for e in f)
    path = tmp_path / "ner.joblib"
    joblib.dump(model, path)
    assert joblib.load(path).predict(texts) == found


# -- regex and lookup ----------------------------------------------------------------------------


def test_regex_extractor_finds_all_matches():
    extractor = RegexEntityExtractor(patterns=[("order_id", r"\bORD-\d{5}\b"), ("zip", r"\b\d{5}\b")]).fit()
    text = "swap ORD-12345 for ORD-67890, zip 10115"
    found = extractor.predict([text])[0]
    assert spans(found) == [(5, 14, "order_id"), (9, 14, "zip"), (19, 28, "order_id"), (23, 28, "zip"), (34, 39, "zip")]
    assert all(e["confidence"] == 1.0 and e["extractor"] == "RegexEntityExtractor" for e in found)
    assert found[0]["value"] == "ORD-12345"
    assert extractor.predict(["nothing here"]) == [[]]


def test_regex_extractor_rejects_invalid_pattern_naming_it():
    with pytest.raises(ValueError, match=r"invalid regex '\(ORD-\[0-9\+' for 'order_id'"):
        RegexEntityExtractor(patterns=[("order_id", "(ORD-[0-9+")]).fit()


def test_lookup_extractor_whole_words_case_insensitive_longest_match():
    tables = {"city": ["York", "New York", "New York City", "Oslo"], "country": ["Norway"]}
    extractor = LookupEntityExtractor(tables=tables).fit()
    text = "from new  YORK city via Yorkshire to oslo, norway"
    found = extractor.predict([text])[0]
    assert [(e["value"], e["entity"]) for e in found] == [("new  YORK city", "city"), ("oslo", "city"), ("norway", "country")]
    assert all(e["confidence"] == 1.0 and e["extractor"] == "LookupEntityExtractor" for e in found)


def test_lookup_extractor_scales_to_many_values():
    values = [f"store {i}" for i in range(5000)] + ["Central Park Store"]
    extractor = LookupEntityExtractor(tables={"store": values}).fit()
    found = extractor.predict(["pick up at store 4321 or central park store"])[0]
    assert [e["value"] for e in found] == ["store 4321", "central park store"]


# -- synonyms ------------------------------------------------------------------------------------


def test_synonym_mapper_replaces_value_and_keeps_span():
    mapper = EntitySynonymMapper(synonyms={"nyc": "New York", "big apple": "New York"}).fit()
    text = "ship from NYC to Oslo"
    entities = [[{"start": 10, "end": 13, "value": "NYC", "entity": "city", "confidence": 0.9, "extractor": "x"},
                 {"start": 17, "end": 21, "value": "Oslo", "entity": "city", "confidence": 0.9, "extractor": "x"}]]
    out = mapper.process([text], entities)
    assert out[0][0]["value"] == "New York" and (out[0][0]["start"], out[0][0]["end"]) == (10, 13)
    assert out[0][0]["processors"] == ["EntitySynonymMapper"]
    assert out[0][1]["value"] == "Oslo" and "processors" not in out[0][1]
    assert entities[0][0]["value"] == "NYC"  # input left untouched


def test_synonym_mapper_learns_from_annotations_and_skips_non_strings():
    X = ["my size is XL", "order two"]
    y = [[{"start": 11, "end": 13, "value": "extra large", "entity": "size"}], []]
    mapper = EntitySynonymMapper().fit(X, y)
    out = mapper.process(["xl please", "2"], [
        [{"start": 0, "end": 2, "value": "xl", "entity": "size"}],
        [{"start": 0, "end": 1, "value": 2, "entity": "number"}],
    ])
    assert out[0][0]["value"] == "extra large"
    assert out[1][0]["value"] == 2


# -- values --------------------------------------------------------------------------------------

BASE = dt.datetime(2024, 5, 1, 10, 0)  # a Wednesday


@pytest.fixture(scope="module")
def values():
    return ValueExtractor(relative_base=BASE).fit()


def only(found, dim):
    return [e for e in found if e["entity"] == dim]


def test_value_phone_numbers_in_e164(values):
    text = "call me on (415) 555-2671 or +44 20 7946 0958"
    found = only(values.predict([text])[0], "phone-number")
    assert [e["value"] for e in found] == ["+14155552671", "+442079460958"]
    assert text[found[0]["start"]:found[0]["end"]] == "(415) 555-2671"
    assert found[1]["additional_info"]["region"] == "GB"
    german = ValueExtractor(dimensions=["phone-number"], region="DE").predict(["ruf 030 1234567 an"])[0]
    assert [e["value"] for e in german] == ["+49301234567"]


def test_value_money_amount_and_unit(values):
    text = "it was $12.50, the boots €1,250.00 and the belt 40 dollars"
    found = only(values.predict([text])[0], "amount-of-money")
    assert [(text[e["start"]:e["end"]], e["value"], e["additional_info"]["unit"]) for e in found] == [
        ("$12.50", 12.5, "USD"), ("€1,250.00", 1250, "EUR"), ("40 dollars", 40, "USD")]
    assert found[0]["additional_info"]["value"] == 12.5
    assert not only(values.predict([text])[0], "number")  # digits inside prices are not numbers too


def test_value_relative_dates_use_the_fixed_base(values):
    found = only(values.predict(["can it arrive tomorrow?"])[0], "time")
    assert [(e["value"], e["additional_info"]["grain"]) for e in found] == [("2024-05-02T00:00:00", "day")]
    text = "return it next monday at 5pm"
    found = only(values.predict([text])[0], "time")
    assert [(text[e["start"]:e["end"]], e["value"]) for e in found] == [("next monday at 5pm", "2024-05-06T17:00:00")]
    assert only(values.predict(["ordered 3 days ago"])[0], "time")[0]["value"] == "2024-04-28T00:00:00"


def test_value_dates_are_not_read_into_plain_words_or_ids(values):
    found = values.predict(["I may return order ORD-12345 if it does not fit"])[0]
    assert only(found, "time") == []
    found = values.predict(["order ORD-12345 from May 5"])[0]
    assert [e["value"] for e in only(found, "time")] == ["2024-05-05T00:00:00"]


def test_value_email_and_url(values):
    text = "write to jane.doe+shop@mail.example.com or see https://shop.example.com/returns."
    found = values.predict([text])[0]
    assert [(e["entity"], e["value"]) for e in found] == [
        ("email", "jane.doe+shop@mail.example.com"), ("url", "https://shop.example.com/returns")]
    assert found[0]["additional_info"]["domain"] == "mail.example.com"
    assert values.predict(["not an address: jane@localhost or @handle"])[0] == []


def test_value_numbers_digits_and_words(values):
    text = "a table for two, 3 bags, 1,250 points and twenty-one guests"
    found = only(values.predict([text])[0], "number")
    assert [(text[e["start"]:e["end"]], e["value"]) for e in found] == [
        ("two", 2), ("3", 3), ("1,250", 1250), ("twenty-one", 21)]
    assert only(values.predict(["order ORD-12345"])[0], "number") == []


def test_value_dimensions_filter_and_validation():
    extractor = ValueExtractor(dimensions=["number"], relative_base=BASE)
    found = extractor.predict(["tomorrow I need 2 shirts, mail me at a@b.example"])[0]
    assert {e["entity"] for e in found} == {"number"}
    assert found[0]["extractor"] == "ValueExtractor" and found[0]["confidence"] == 1.0
    with pytest.raises(ValueError, match="unknown dimension"):
        ValueExtractor(dimensions=["distance"]).fit()


def test_duckling_name_accepts_rasa_settings():
    from nlu import registry
    from nlu.entities import DucklingEntityExtractor

    assert registry.get("DucklingEntityExtractor") is DucklingEntityExtractor
    assert registry.get("ValueExtractor.v1") is ValueExtractor
    assert registry.get("SpacyNEREntityExtractor") is registry.get("SpacyNEREntityExtractor.v1")
    extractor = DucklingEntityExtractor(url="http://localhost:8000", locale="en_GB", timezone="Europe/London",
                                        dimensions=["phone-number"], timeout=3).fit()
    found = extractor.predict(["ring 020 7946 0958"])[0]
    assert [(e["value"], e["extractor"]) for e in found] == [("+442079460958", "DucklingEntityExtractor")]


def test_value_extractor_is_typical_message_fast(values):
    import time

    texts = ["where is my order ORD-12345", "i want to return the boots", "ship it to Lisbon please",
             "can you deliver tomorrow at 5pm?", "my email is jo@example.org", "cancel it, it cost $40"] * 20
    times = []
    for text in texts:
        start = time.perf_counter()
        values.predict([text])
        times.append(time.perf_counter() - start)
    times.sort()
    assert times[len(times) // 2] < 0.02  # p50 is ~1 ms; a loose bound for busy machines


# -- merging -------------------------------------------------------------------------------------


def ent(start, end, entity, confidence, extractor):
    return {"start": start, "end": end, "value": "x", "entity": entity, "confidence": confidence, "extractor": extractor}


def test_merge_first_extractor_wins_overlaps():
    crf_found = [ent(5, 14, "order_id", 0.7, "crf"), ent(20, 26, "city", 0.9, "crf")]
    regex_found = [ent(0, 3, "greeting", 1.0, "regex"), ent(10, 14, "zip", 1.0, "regex")]
    merged = merge_entities([crf_found, regex_found])
    assert [(e["start"], e["entity"], e["extractor"]) for e in merged] == [
        (0, "greeting", "regex"), (5, "order_id", "crf"), (20, "city", "crf")]


def test_merge_identical_span_and_type_keeps_highest_confidence():
    crf_found = [ent(5, 14, "order_id", 0.7, "crf")]
    regex_found = [ent(5, 14, "order_id", 1.0, "regex"), ent(30, 34, "city", 1.0, "regex")]
    lookup_found = [ent(5, 14, "product", 1.0, "lookup")]
    merged = merge_entities([crf_found, regex_found, lookup_found])
    assert [(e["start"], e["entity"], e["extractor"]) for e in merged] == [(5, "order_id", "regex"), (30, "city", "regex")]
    # the same span with another type does not displace the first extractor's entity
    merged = merge_entities([[ent(5, 14, "order_id", 0.2, "crf")], [ent(5, 14, "product", 0.99, "lookup")]])
    assert [e["extractor"] for e in merged] == ["crf"]
    assert merge_entities([[], []]) == []
