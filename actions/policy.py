"""The shop's business rules for the tools, read from ``policy.yml`` at the repository root.

The file is the single source of the numbers the tools apply (refund window and approval
threshold, cancellation fee, verification code lifetime and attempts, how long a verification
lasts) and of the tool allowlist. ``DESK_POLICY_FILE`` names another file. :func:`current`
re-reads the file when it changes, so an edit takes effect without restarting the action server;
a file that does not parse keeps the previous rules in force (and is logged).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Mapping

import yaml

logger = logging.getLogger(__name__)

POLICY_ENV = "DESK_POLICY_FILE"
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "policy.yml"


class PolicyError(ValueError):
    """The policy file is missing, malformed or holds an impossible value."""


@dataclass(frozen=True)
class Verification:
    code_length: int = 6
    code_ttl_minutes: float = 5
    max_attempts: int = 3
    valid_for_minutes: float = 15
    max_codes_per_hour: int = 5
    lockout_minutes: float = 30


@dataclass(frozen=True)
class Policy:
    refund_window_days: int
    refund_eligible_item_states: tuple[str, ...]
    refund_approval_threshold: Decimal
    cancellation_fee: Decimal
    verification: Verification
    payment_link_base_url: str
    payment_link_ttl_minutes: float
    store_timezone: str
    ticket_categories: tuple[str, ...]
    allowlist: Mapping[str, frozenset[str]] = field(default_factory=dict)
    path: str = ""

    def allowed_tools(self, states: set[str]) -> set[str]:
        """The tools that the given intents and forms allow."""
        allowed: set[str] = set()
        for state in states:
            allowed |= self.allowlist.get(state, frozenset())
        return allowed

    def tools(self) -> set[str]:
        """Every tool the allowlist names."""
        return set().union(*self.allowlist.values()) if self.allowlist else set()


def _money(value: Any, name: str, *, allow_zero: bool) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise PolicyError(f"{name} must be an amount, not {value!r}") from None
    if not amount.is_finite() or amount < 0 or (amount == 0 and not allow_zero):
        raise PolicyError(f"{name} must be {'zero or more' if allow_zero else 'more than zero'}")
    return amount.quantize(Decimal("0.01"))


def _number(data: Mapping[str, Any], name: str, default: float, *, integer: bool = False, prefix: str = "") -> Any:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or (integer and int(value) != value):
        raise PolicyError(f"{prefix}{name} must be a positive {'whole ' if integer else ''}number, not {value!r}")
    return int(value) if integer else float(value)


def _names(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise PolicyError(f"{name} must be a list of names")
    return tuple(v.strip() for v in value)


def parse(data: Any, path: str = "policy.yml") -> Policy:
    """Build a :class:`Policy` from the file's parsed YAML; :class:`PolicyError` when it is wrong."""
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a mapping at the top level")
    try:
        raw_verification = data.get("verification") or {}
        if not isinstance(raw_verification, dict):
            raise PolicyError("verification must be a mapping")
        v = "verification."
        verification = Verification(
            code_length=_number(raw_verification, "code_length", 6, integer=True, prefix=v),
            code_ttl_minutes=_number(raw_verification, "code_ttl_minutes", 5, prefix=v),
            max_attempts=_number(raw_verification, "max_attempts", 3, integer=True, prefix=v),
            valid_for_minutes=_number(raw_verification, "valid_for_minutes", 15, prefix=v),
            max_codes_per_hour=_number(raw_verification, "max_codes_per_hour", 5, integer=True, prefix=v),
            lockout_minutes=_number(raw_verification, "lockout_minutes", 30, prefix=v),
        )
        if not 4 <= verification.code_length <= 10:
            raise PolicyError("verification.code_length must be between 4 and 10")
        link = data.get("payment_method_link") or {}
        if not isinstance(link, dict) or not str(link.get("base_url") or "").startswith("https://"):
            raise PolicyError("payment_method_link.base_url must be an https:// URL")
        raw_allowlist = data.get("allowlist") or {}
        if not isinstance(raw_allowlist, dict):
            raise PolicyError("allowlist must map intents and forms to lists of tool names")
        allowlist = {str(k): frozenset(_names(tools, f"allowlist.{k}")) for k, tools in raw_allowlist.items()}
        window = data.get("refund_window_days", 30)
        if isinstance(window, bool) or not isinstance(window, int) or window < 0:
            raise PolicyError("refund_window_days must be a whole number of days")
        timezone = str(data.get("store_timezone") or "America/Los_Angeles")
        from zoneinfo import ZoneInfo

        try:
            ZoneInfo(timezone)
        except Exception:  # ZoneInfoNotFoundError, ValueError for odd names
            raise PolicyError(f"store_timezone: unknown time zone {timezone!r}") from None
        return Policy(
            refund_window_days=window,
            refund_eligible_item_states=_names(data.get("refund_eligible_item_states", ["new", "opened", "damaged"]),
                                               "refund_eligible_item_states"),
            refund_approval_threshold=_money(data.get("refund_approval_threshold", "200.00"), "refund_approval_threshold",
                                             allow_zero=False),
            cancellation_fee=_money(data.get("cancellation_fee", 0), "cancellation_fee", allow_zero=True),
            verification=verification,
            payment_link_base_url=str(link["base_url"]),
            payment_link_ttl_minutes=_number(link, "ttl_minutes", 30, prefix="payment_method_link."),
            store_timezone=timezone,
            ticket_categories=_names(data.get("ticket_categories", ["general"]), "ticket_categories"),
            allowlist=allowlist,
            path=path,
        )
    except PolicyError as exc:
        message = str(exc)
        raise PolicyError(message if message.startswith(path) else f"{path}: {message}") from None


def policy_path() -> Path:
    return Path(os.environ.get(POLICY_ENV) or DEFAULT_PATH)


def load(path: str | Path | None = None) -> Policy:
    """Read and check the policy file (default: :func:`policy_path`)."""
    path = Path(path) if path is not None else policy_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: invalid YAML: {exc}") from None
    return parse(data, str(path))


_lock = threading.Lock()
_cached: tuple[str, float, Policy] | None = None


def current() -> Policy:
    """The policy in force: the file is read again when its path or modification time changes."""
    global _cached
    path = policy_path()
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = -1.0
    with _lock:
        if _cached is not None and _cached[0] == str(path) and _cached[1] == mtime:
            return _cached[2]
        try:
            policy = load(path)
        except PolicyError:
            if _cached is None or _cached[0] != str(path):
                raise
            logger.exception("keeping the previous policy: the changed file cannot be used")
            return _cached[2]
        _cached = (str(path), mtime, policy)
        return policy
