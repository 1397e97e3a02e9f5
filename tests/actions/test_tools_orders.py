"""Order tools through a real action server: status and tracking, cancellation and change of
address, each with its validation failures, another customer's order and retries."""

import re
import uuid

ORDER_OF = "SELECT o.id AS order_id, o.customer_id, o.total, o.status FROM orders o JOIN customers c ON c.id = o.customer_id " \
           "WHERE c.status = 'active' AND {where} ORDER BY o.id"


def sender():
    return f"conv-{uuid.uuid4().hex[:12]}"


def verified(shop, row):
    conv = sender()
    shop.verify(conv, row["customer_id"])
    return conv


def test_status_and_tracking_of_a_shipped_order(tools_shop):
    row = tools_shop.pick(ORDER_OF.format(where="o.status IN ('in_transit', 'shipped')"), claim=False)
    shipment = tools_shop.one("SELECT carrier, tracking_number FROM shipments WHERE order_id = :o", o=row["order_id"])
    conv = verified(tools_shop, row)
    reply = tools_shop.call("action_order_status", conv, intent="track_order", text=f"where is {row['order_id'].lower()}",
                            entities={"order_id": row["order_id"].lower()})
    assert f"Order {row['order_id']} has shipped with {shipment['carrier']}" in reply.text
    assert shipment["tracking_number"] in reply.text and "Latest update:" in reply.text
    assert reply.slots == {"order_id": row["order_id"]}
    record = tools_shop.audit(conv)[-1]
    assert (record["tool"], record["outcome"], record["customer_id"]) == ("action_order_status", "ok", row["customer_id"])
    assert record["parameters"] == {"order_id": row["order_id"]}


def test_status_of_delivered_and_unshipped_orders_and_the_latest_orders(tools_shop):
    row = tools_shop.pick(ORDER_OF.format(where="o.status = 'delivered'"), claim=False)
    conv = verified(tools_shop, row)
    reply = tools_shop.call("action_order_status", conv, intent="track_order", slots={"order_id": row["order_id"]})
    assert f"Order {row['order_id']} was delivered on" in reply.text
    listed = tools_shop.call("action_order_status", conv, intent="track_order", text="my orders")
    assert "Here are your latest orders" in listed.text and row["customer_id"] not in listed.text

    row = tools_shop.pick(ORDER_OF.format(where="o.status = 'processing'"), claim=False)
    conv = verified(tools_shop, row)
    reply = tools_shop.call("action_order_status", conv, intent="track_order", slots={"order_id": row["order_id"]})
    assert "hasn't shipped yet" in reply.text


def test_another_customers_order_reveals_nothing(tools_shop):
    mine = tools_shop.pick(ORDER_OF.format(where="o.status = 'delivered'"), claim=False)
    theirs = tools_shop.one(ORDER_OF.format(where="o.customer_id <> :c AND o.status = 'paid'") + " LIMIT 1", c=mine["customer_id"])
    conv = verified(tools_shop, mine)
    other = tools_shop.call("action_order_status", conv, intent="track_order", entities={"order_id": theirs["order_id"]})
    missing = tools_shop.call("action_order_status", conv, intent="track_order", entities={"order_id": "ORD-99999"})
    assert other.text == f"I couldn't find order {theirs['order_id']} on your account. Could you check the number?"
    assert other.text.replace(theirs["order_id"], "X") == missing.text.replace("ORD-99999", "X")
    cancel = tools_shop.call("action_cancel_order", conv, intent="cancel_order", entities={"order_id": theirs["order_id"]})
    assert "couldn't find order" in cancel.text
    assert tools_shop.one("SELECT status FROM orders WHERE id = :o", o=theirs["order_id"])["status"] == "paid"
    assert [r["outcome"] for r in tools_shop.audit(conv)][-3:] == ["not_found", "not_found", "not_found"]


def test_order_number_format_is_checked(tools_shop):
    row = tools_shop.pick(ORDER_OF.format(where="o.status = 'delivered'"), claim=False)
    conv = verified(tools_shop, row)
    for action, intent in [("action_order_status", "track_order"), ("action_cancel_order", "cancel_order"),
                           ("action_change_shipping_address", "change_shipping_address")]:
        for bad in ["ORD-123", "12345", "INV-100001", "ORD-123456", "ORD-1234a"]:
            reply = tools_shop.call(action, conv, intent=intent, entities={"order_id": bad})
            assert "doesn't look like an order number" in reply.text and "ORD-12345" in reply.text, (action, bad)
            assert tools_shop.audit(conv)[-1]["outcome"] == "invalid"


def test_cancel_a_paid_order_refunds_it_once_even_when_retried(tools_shop):
    row = tools_shop.pick(ORDER_OF.format(where="o.status IN ('paid', 'processing') AND o.total <= 200"))
    conv = verified(tools_shop, row)
    request = tools_shop.request("action_cancel_order", conv, intent="cancel_order", text=f"cancel {row['order_id']}",
                                 entities={"order_id": row["order_id"]}, message_id="m-cancel-1")
    first = tools_shop.post(request)
    assert first.text.startswith(f"Done: order {row['order_id']} is cancelled.") and "I've approved a refund" in first.text
    second = tools_shop.post(request)  # the same call delivered again
    assert second.text == first.text
    order = tools_shop.one("SELECT status, cancel_reason FROM orders WHERE id = :o", o=row["order_id"])
    assert order["status"] == "cancelled"
    refunds = tools_shop.rows("SELECT amount, status FROM refunds WHERE order_id = :o", o=row["order_id"])
    assert [(str(r["amount"]), r["status"]) for r in refunds] == [(str(row["total"]), "approved")]
    # the customer asks again in a new message: nothing more to refund
    third = tools_shop.call("action_cancel_order", conv, intent="cancel_order", entities={"order_id": row["order_id"]})
    assert "is cancelled" in third.text
    assert len(tools_shop.rows("SELECT id FROM refunds WHERE order_id = :o", o=row["order_id"])) == 1


def test_cancel_above_the_threshold_holds_the_refund_for_approval(tools_shop):
    row = tools_shop.pick(ORDER_OF.format(where="o.status IN ('paid', 'processing') AND o.total > 200"))
    conv = verified(tools_shop, row)
    reply = tools_shop.call("action_cancel_order", conv, intent="cancel_order", entities={"order_id": row["order_id"]})
    assert "is cancelled" in reply.text and "need a quick review" in reply.text
    refund = tools_shop.one("SELECT id, status FROM refunds WHERE order_id = :o", o=row["order_id"])
    assert refund["status"] == "pending_approval"
    approval = tools_shop.one("SELECT id, status, tool FROM approval_requests WHERE customer_id = :c", c=row["customer_id"])
    assert approval["status"] == "pending" and reply.slots["approval_id"] == approval["id"]
    assert tools_shop.audit(conv)[-1]["outcome"] == "pending_approval"


def test_cancel_an_unpaid_order_voids_its_invoice(tools_shop):
    row = tools_shop.pick(ORDER_OF.format(where="o.status = 'pending'"))
    conv = verified(tools_shop, row)
    reply = tools_shop.call("action_cancel_order", conv, intent="cancel_order", entities={"order_id": row["order_id"]})
    assert reply.text == f"Done: order {row['order_id']} is cancelled."
    assert tools_shop.one("SELECT status FROM invoices WHERE order_id = :o", o=row["order_id"])["status"] == "void"
    assert not tools_shop.rows("SELECT id FROM refunds WHERE order_id = :o", o=row["order_id"])


def test_a_shipped_order_cannot_be_cancelled_or_readdressed(tools_shop):
    row = tools_shop.pick(ORDER_OF.format(where="o.status IN ('shipped', 'in_transit')"))
    conv = verified(tools_shop, row)
    cancel = tools_shop.call("action_cancel_order", conv, intent="cancel_order", entities={"order_id": row["order_id"]})
    assert "already shipped, so it can't be cancelled" in cancel.text and "30 days" in cancel.text
    address = {"address_line1": "12 Harbour Road", "city": "Portland", "postal_code": "97209", "country": "US"}
    moved = tools_shop.call("action_change_shipping_address", conv, intent="change_shipping_address",
                            slots={"order_id": row["order_id"], **address})
    assert "already shipped, so I can't change its address" in moved.text
    assert tools_shop.one("SELECT status FROM orders WHERE id = :o", o=row["order_id"])["status"] == row["status"]
    assert [r["outcome"] for r in tools_shop.audit(conv)][-2:] == ["not_allowed", "not_allowed"]


def test_change_the_address_of_an_unshipped_order(tools_shop):
    row = tools_shop.pick(ORDER_OF.format(where="o.status IN ('paid', 'processing', 'pending')"))
    conv = verified(tools_shop, row)
    slots = {"order_id": row["order_id"], "address_line1": "455 Alder St", "address_line2": "Apt 4", "city": "Seattle",
             "region": "WA", "postal_code": "98101"}
    missing = tools_shop.call("action_change_shipping_address", conv, intent="change_shipping_address", slots=slots)
    assert missing.text == "Which country is the new address in?"
    wrong = tools_shop.call("action_change_shipping_address", conv, intent="change_shipping_address",
                            slots={**slots, "country": "Atlantis"})
    assert "We ship to the US, Canada, the UK and the EU" in wrong.text
    done = tools_shop.call("action_change_shipping_address", conv, intent="change_shipping_address",
                           slots={**slots, "country": "United States"})
    assert done.text == f"Done: order {row['order_id']} will now go to 455 Alder St, Apt 4, Seattle, WA 98101, US."
    order = tools_shop.one("SELECT ship_line1, ship_city, ship_country FROM orders WHERE id = :o", o=row["order_id"])
    assert order == {"ship_line1": "455 Alder St", "ship_city": "Seattle", "ship_country": "US"}
    record = tools_shop.audit(conv)[-1]
    assert record["outcome"] == "ok" and "455 Alder St" not in str(record["parameters"])


def test_bad_postal_code_is_explained(tools_shop):
    row = tools_shop.pick(ORDER_OF.format(where="o.status IN ('paid', 'processing', 'pending')"), claim=False)
    conv = verified(tools_shop, row)
    reply = tools_shop.call("action_change_shipping_address", conv, intent="change_shipping_address",
                            slots={"order_id": row["order_id"], "address_line1": "1 Main St", "city": "Boise",
                                   "postal_code": "!!", "country": "US"})
    assert re.search(r"doesn't look like a postal code", reply.text)
