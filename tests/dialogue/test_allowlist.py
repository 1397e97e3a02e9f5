"""The engine's tool allowlist (policy.yml): a custom action runs only where an intent or form lists it."""

import pytest
from test_engine_support import ASK_ORDER_ID, action_server, kinds, run, texts

from dialogue.actions import ACTION_FAILURE_TEXT
from dialogue.allowlist import ToolAllowlist

SHIPPED = "Order ORD-12345 has shipped and arrives in 2 days."
FORMS = frozenset({"track_order_form", "cancel_order_form"})


@pytest.fixture(scope="module")
def server():
    return action_server()


def track_an_order(allowlist):
    async def scenario(a):
        a.allowlist = allowlist
        assert await texts(a, "u1", "where is my order") == [ASK_ORDER_ID]
        replies = await texts(a, "u1", "it is ORD-12345")
        return replies, kinds((await a.tracker_state("u1"))["events"])

    return scenario


def test_a_listed_tool_runs(tmp_path, server):
    allowlist = ToolAllowlist({"track_order_form": ["action_track_order"]}, FORMS)
    replies, events = run(tmp_path, track_an_order(allowlist), url=server.url)
    assert replies == [SHIPPED]
    # the form's own validate_track_order_form needed no entry
    assert "slot:order_id=ORD-12345" in events


def test_an_unlisted_tool_is_refused_before_the_action_server_is_called(tmp_path, server):
    allowlist = ToolAllowlist({"track_order_form": ["action_cancel_order"]}, FORMS)
    replies, events = run(tmp_path, track_an_order(allowlist), url=server.url)
    assert replies == [ACTION_FAILURE_TEXT]
    assert SHIPPED not in replies


def test_no_policy_file_means_no_allowlist(tmp_path):
    assert ToolAllowlist.load(tmp_path) is None
    (tmp_path / "policy.yml").write_text("allowlist:\n  track_order: [action_track_order]\n")
    loaded = ToolAllowlist.load(tmp_path, FORMS)
    assert loaded.rules == {"track_order": frozenset({"action_track_order"})}


def test_a_malformed_allowlist_is_a_clear_error(tmp_path):
    (tmp_path / "policy.yml").write_text("allowlist:\n  track_order: action_track_order\n")
    with pytest.raises(ValueError, match="policy.yml: `allowlist` maps intents and forms to lists"):
        ToolAllowlist.load(tmp_path)
