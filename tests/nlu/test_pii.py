"""Personal-data recognition and masking (Presidio with the spaCy wheel, and our patterns)."""

import pytest

from nlu.pii import ALWAYS_MASKED, MaskingPolicy

PATTERNS = {"patterns": {"ORDER_ID": [r"\b[Oo][Rr][Dd]-?\d{5}\b"], "INVOICE_ID": [r"\b[Ii][Nn][Vv]-?\d{6}\b"]}}


@pytest.fixture(scope="module")
def policy(pii_masker):
    return MaskingPolicy.from_config({**PATTERNS, "mask": {"llm": ["EMAIL_ADDRESS", "PERSON", "ORDER_ID", "PHONE_NUMBER"]}})


def test_each_destination_masks_its_types(policy):
    text = "I'm Jane Doe, jane.doe@example.com, +1 503 555 0199, about ORD-58213"
    assert policy.mask_text(text, "store") == "I'm Jane Doe, <EMAIL_ADDRESS>, <PHONE_NUMBER>, about ORD-58213"
    assert policy.mask_text(text, "llm") == "I'm <PERSON>, <EMAIL_ADDRESS>, <PHONE_NUMBER>, about <ORDER_ID>"


def test_cards_and_government_ids_are_masked_everywhere(policy):
    assert ALWAYS_MASKED <= policy.types("store") and ALWAYS_MASKED <= policy.types("logs")
    text = "card 4111 1111 1111 1111, ssn 536-22-8741"
    for destination in ("store", "logs", "audit", "export", "llm"):
        assert policy.mask_text(text, destination) == "card <CREDIT_CARD>, ssn <US_SSN>"
    assert policy.mask_text("card 4111 1111 1111 1112", "store") == "card 4111 1111 1111 1112"  # fails the Luhn check


@pytest.mark.parametrize("text, masked", [
    ("exp 11/29 cvv 737", "exp 11/29 cvv <CARD_SECURITY_CODE>"),
    ("CVC: 1234, thanks", "CVC: <CARD_SECURITY_CODE>, thanks"),
    ("the security code is 042", "the security code is <CARD_SECURITY_CODE>"),
    ("cid=3714", "cid=<CARD_SECURITY_CODE>"),
    ("cvv 73737 and order 737", "cvv 73737 and order 737"),  # not 3-4 digits, no keyword
])
def test_card_security_codes_are_masked_everywhere(policy, text, masked):
    for destination in ("store", "logs", "llm"):
        assert policy.mask_text(text, destination) == masked


def test_our_identifiers_are_not_taken_for_phone_numbers(policy):
    assert policy.mask_text("invoice INV-339010 please", "store") == "invoice INV-339010 please"
    assert policy.mask_text("a street: 42 Elm Street, Portland", "store") == "a street: <STREET_ADDRESS>, Portland"


def test_values_masked_already_are_left_alone(policy):
    assert policy.mask_text("sent to j***@example.com, card ****1111", "store") == "sent to j***@example.com, card ****1111"


def test_masking_nested_values(policy):
    assert policy.mask_values({"a": ["x@example.com", 3], "b": None}, "store") == {"a": ["<EMAIL_ADDRESS>", 3], "b": None}


@pytest.mark.parametrize("section, message", [
    ("nope", "privacy must be a mapping"),
    ({"mask": {"database": []}}, "unknown destination 'database'"),
    ({"mask": {"store": ["EMAIL"]}}, "unknown entity type(s) EMAIL"),
    ({"mask": {"store": "EMAIL_ADDRESS"}}, "privacy.mask.store must be a list"),
    ({"patterns": {"order": ["x"]}}, "'order' is not an upper-case type name"),
    ({"patterns": {"ORDER_ID": ["(unclosed"]}}, "privacy.patterns.ORDER_ID: bad regular expression"),
])
def test_bad_settings_name_the_file(section, message):
    with pytest.raises(ValueError) as caught:
        MaskingPolicy.from_config(section, "project/config.yml")
    assert str(caught.value).startswith("project/config.yml: ") and message in str(caught.value)
