"""Conversations out of the store: a customer's export and erasure (``desk gdpr export|erase
--customer ID``), and every conversation for analytics (``desk export conversations``).

The back office knows which conversations were about a customer (verification, tools, tickets,
refunds: the ``conversation_ids`` of ``python -m actions.privacy export``); these functions read
or delete those conversations and their handoff records from the tracker store. The customer's
messages are exported as stored, that is masked as ``privacy.mask.store`` says: the export is
for the customer. :func:`export_for_analytics` masks the ``privacy.mask.export`` types on top.
"""

from __future__ import annotations

import json
from typing import IO, Iterable

import sqlalchemy as sa

from dialogue.stores import SQLTrackerStore, TrackerStore
from dialogue.stores.handoff import SQLHandoffStore, handoffs


def _handoff_rows(store: TrackerStore, sender_ids: list[str], delete: bool) -> list[dict] | int:
    if not isinstance(store, SQLTrackerStore) or not sa.inspect(store.engine).has_table(handoffs.name):
        return 0 if delete else []
    where = handoffs.c.sender_id.in_(sender_ids)
    with store.engine.begin() as conn:
        if delete:
            return conn.execute(sa.delete(handoffs).where(where)).rowcount
        return [SQLHandoffStore.row_to_record(row) for row in conn.execute(sa.select(handoffs).where(where).order_by(handoffs.c.id))]


def export_conversations(store: TrackerStore, sender_ids: Iterable[str]) -> list[dict]:
    """Each known conversation as Rasa's tracker JSON (all events), with its handoff records."""
    out = []
    for sender_id in sorted(set(sender_ids)):
        tracker = store.retrieve_full(sender_id)
        if tracker is None:
            continue
        state = tracker.current_state(events="all")
        state["handoffs"] = _handoff_rows(store, [sender_id], delete=False)
        out.append(state)
    return out


def erase_conversations(store: TrackerStore, sender_ids: Iterable[str]) -> dict[str, int]:
    """Delete the conversations and their handoff records; returns how many were deleted."""
    ids = sorted(set(sender_ids))
    deleted = sum(1 for sender_id in ids if store.delete(sender_id))
    return {"conversations": deleted, "handoffs": _handoff_rows(store, ids, delete=True) if ids else 0}


def export_for_analytics(store: TrackerStore, masker, out: IO[str]) -> int:
    """Write every conversation as one line of tracker JSON with its events masked for
    ``export`` (``masker``: a :class:`dialogue.guardrails.privacy.ConversationMasker`); returns
    how many were written."""
    written = 0
    for sender_id in store.keys():
        tracker = store.retrieve_full(sender_id)
        if tracker is None:
            continue
        state = tracker.current_state(events="all")
        state["events"] = masker.events(state["events"], "export")
        state["slots"] = masker.policy.mask_values(state["slots"], "export")
        latest = masker.event({"event": "user", "parse_data": state.get("latest_message") or {}}, "export")
        state["latest_message"] = latest["parse_data"]
        out.write(json.dumps(state, ensure_ascii=False) + "\n")
        written += 1
    return written
