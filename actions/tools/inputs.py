"""Checking what the customer typed before any system is asked.

Each function returns the value in normal form or raises :class:`Invalid` with the sentence to
say to the customer. The same checks back the form validation actions (:mod:`.forms`) and the
tools themselves, so a value that reaches a tool through any path has been checked.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from actions.backoffice.sql import normalise_phone


class ToolFailure(Exception):
    """Ends a tool call with ``message`` said to the customer; ``outcome`` goes to the audit log."""

    def __init__(self, message: str, outcome: str = "invalid", *, events: list | None = None, escalate: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.outcome = outcome
        self.events = list(events or [])
        self.escalate = escalate


class Invalid(ToolFailure):
    """The customer's input does not have the right form."""

    def __init__(self, message: str) -> None:
        super().__init__(message, "invalid")


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else ""
    return "" if value is None else str(value).strip()


def _ident(value: Any, prefix: str, digits: int, message: str) -> str:
    text = re.sub(r"\s+", "", _text(value)).upper()
    match = re.fullmatch(rf"{prefix}[-_]?(\d{{{digits}}})", text)
    if not match:
        raise Invalid(message)
    return f"{prefix}-{match.group(1)}"


def order_id(value: Any) -> str:
    """``ORD-12345`` (any case, the dash optional)."""
    return _ident(value, "ORD", 5, "That doesn't look like an order number. Order numbers look like ORD-12345; "
                                   "you'll find yours in your order confirmation e-mail.")


def invoice_id(value: Any) -> str:
    return _ident(value, "INV", 6, "That doesn't look like an invoice number. Invoice numbers look like INV-123456.")


def ticket_id(value: Any) -> str:
    return _ident(value, "TCK", 5, "That doesn't look like a ticket number. Ticket numbers look like TCK-12345.")


def appointment_id(value: Any) -> str:
    return _ident(value, "APT", 5, "That doesn't look like an appointment reference. They look like APT-12345 "
                                   "and are in your confirmation e-mail.")


_EMAIL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$")


def email(value: Any) -> str:
    text = _text(value).lower()
    if not _EMAIL.match(text) or ".." in text or len(text) > 254:
        raise Invalid("That doesn't look like an e-mail address. Could you type it again, like name@example.com?")
    return text


def phone(value: Any, region: str = "US") -> str:
    """E.164 (``+15035550142``); numbers without a country code are read as ``region``'s."""
    e164 = normalise_phone(_text(value), region) if _text(value) else None
    if e164 is None:
        raise Invalid("That doesn't look like a phone number. Could you type it with the area code, like 503 555 0142?")
    return e164


def amount(value: Any) -> Decimal:
    """A positive amount of money, rounded to cents (``$49.90``, ``49,90`` and ``49.9`` all work)."""
    if isinstance(value, dict):  # a Duckling-style value object
        value = value.get("value")
    text = _text(value).replace("\u00a0", "").replace(" ", "")
    text = re.sub(r"^(US\$|C\$|[$€£]|USD|CAD|GBP|EUR)|(USD|CAD|GBP|EUR|dollars?)$", "", text, flags=re.I)
    if re.fullmatch(r"\d+,\d{1,2}", text):
        text = text.replace(",", ".")
    text = text.replace(",", "")
    try:
        result = Decimal(text)
    except (InvalidOperation, ValueError):
        raise Invalid("That doesn't look like an amount. Could you give it as a number, like 49.90?") from None
    if not result.is_finite() or result <= 0:
        raise Invalid("The amount has to be more than zero.")
    return result.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def name(value: Any) -> str:
    text = " ".join(_text(value).split())
    if not 2 <= len(text) <= 200 or not re.search(r"[^\W\d_]", text) or re.search(r"[<>@{}\[\]\\/|]|\d{3,}", text):
        raise Invalid("That doesn't look like a name. Could you type the full name as it should appear on the account?")
    return text


_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]


def _month(word: str) -> int | None:
    word = word.lower().rstrip(".")
    for n, month in enumerate(_MONTHS, start=1):
        if len(word) >= 3 and month.startswith(word):
            return n
    return None


def parse_date(value: Any, today: date) -> date:
    """``2026-12-01`` (or an ISO date-time), ``12/01/2026``, ``today``, ``tomorrow``, ``friday``,
    ``next friday``, ``Dec 1``, ``1 December``; a date without a year is the next one to come."""
    text = _text(value).lower().rstrip(".")
    text = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    bad = Invalid("I didn't understand that date. Could you give it like 2026-12-01 or 'next Friday'?")
    if not text:
        raise bad
    try:
        return datetime.fromisoformat(text.replace("z", "+00:00")).date()
    except ValueError:
        pass
    if text in ("today", "tomorrow"):
        return today + timedelta(days=text == "tomorrow")
    words = text.replace(",", " ").split()
    if words and words[0] in ("next", "this", "on"):
        words = words[1:]
    if len(words) == 1 and words[0] in _WEEKDAYS:
        ahead = (_WEEKDAYS.index(words[0]) - today.weekday()) % 7 or 7
        return today + timedelta(days=ahead)
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?", text)  # US style month/day
    if match:
        month, day, year = int(match.group(1)), int(match.group(2)), match.group(3)
        return _dated(int(year) + (2000 if year and len(year) == 2 else 0) if year else None, month, day, today, bad)
    if len(words) in (2, 3):
        year = int(words[2]) if len(words) == 3 and words[2].isdigit() else None
        if words[0].isdigit() and _month(words[1]):
            return _dated(year, _month(words[1]), int(words[0]), today, bad)
        if _month(words[0]) and words[1].isdigit():
            return _dated(year, _month(words[0]), int(words[1]), today, bad)
    raise bad


def _dated(year: int | None, month: int, day: int, today: date, bad: Invalid) -> date:
    try:
        if year is not None:
            return date(year, month, day)
        candidate = date(today.year, month, day)
        return candidate if candidate >= today else date(today.year + 1, month, day)
    except ValueError:
        raise bad from None


def future_date(value: Any, today: date) -> date:
    """A date from today on (:func:`parse_date`); a past date is refused."""
    when = parse_date(value, today)
    if when < today:
        raise Invalid(f"{when:%A %-d %B %Y} is in the past. Which day from today on would suit you?")
    return when


def time_of_day(value: Any) -> time:
    """``14:00``, ``2pm``, ``2:30 pm``, ``10``, or the time part of an ISO date-time."""
    text = _text(value).lower().replace(".", "")
    bad = Invalid("I didn't understand that time. Could you give it like 10:00 or 2:30 pm?")
    if "t" in text and re.match(r"\d{4}-\d{2}-\d{2}t", text):
        try:
            return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).time().replace(tzinfo=None)
        except ValueError:
            raise bad from None
    match = re.fullmatch(r"(\d{1,2})(?:[:h](\d{2}))?\s*(am|pm)?", text.replace("noon", "12pm"))
    if not match:
        raise bad
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half == "pm" and hour < 12:
        hour += 12
    elif half == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        raise bad
    return time(hour, minute)


COUNTRIES = {
    "us": "US", "usa": "US", "united states": "US", "united states of america": "US", "america": "US",
    "ca": "CA", "canada": "CA",
    "gb": "GB", "uk": "GB", "united kingdom": "GB", "great britain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "northern ireland": "GB",
    "at": "AT", "austria": "AT", "be": "BE", "belgium": "BE", "bg": "BG", "bulgaria": "BG", "hr": "HR",
    "croatia": "HR", "cy": "CY", "cyprus": "CY", "cz": "CZ", "czechia": "CZ", "czech republic": "CZ",
    "dk": "DK", "denmark": "DK", "ee": "EE", "estonia": "EE", "fi": "FI", "finland": "FI", "fr": "FR",
    "france": "FR", "de": "DE", "germany": "DE", "gr": "GR", "greece": "GR", "hu": "HU", "hungary": "HU",
    "ie": "IE", "ireland": "IE", "it": "IT", "italy": "IT", "lv": "LV", "latvia": "LV", "lt": "LT",
    "lithuania": "LT", "lu": "LU", "luxembourg": "LU", "mt": "MT", "malta": "MT", "nl": "NL",
    "netherlands": "NL", "the netherlands": "NL", "pl": "PL", "poland": "PL", "pt": "PT", "portugal": "PT",
    "ro": "RO", "romania": "RO", "sk": "SK", "slovakia": "SK", "si": "SI", "slovenia": "SI", "es": "ES",
    "spain": "ES", "se": "SE", "sweden": "SE",
}


def country(value: Any) -> str:
    """An ISO code of a country we ship to (the US, Canada, the UK and the EU)."""
    code = COUNTRIES.get(" ".join(_text(value).lower().replace(".", "").split()))
    if code is None:
        raise Invalid("We ship to the US, Canada, the UK and the EU. Which of those countries should it go to?")
    return code


def postal_code(value: Any) -> str:
    text = " ".join(_text(value).upper().split())
    if not re.fullmatch(r"[A-Z0-9][A-Z0-9 -]{1,8}[A-Z0-9]", text):
        raise Invalid("That doesn't look like a postal code. Could you type it again?")
    return text


def street(value: Any) -> str:
    text = " ".join(_text(value).split())
    if not 3 <= len(text) <= 200 or not re.search(r"[^\W\d_]", text):
        raise Invalid("Could you give me the street address, like 1200 NW Everett St?")
    return text


def city(value: Any) -> str:
    text = " ".join(_text(value).split())
    if not 2 <= len(text) <= 100 or not re.fullmatch(r"[^\W\d_][\w .'-]*", text):
        raise Invalid("That doesn't look like a town or city. Could you type it again?")
    return text


def text(value: Any, what: str, *, limit: int = 2000) -> str:
    result = _text(value)
    if not result:
        raise Invalid(f"Could you tell me the {what}?")
    return result[:limit]
