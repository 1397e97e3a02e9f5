"""Order tools: ``action_order_status``, ``action_cancel_order``, ``action_change_shipping_address``.

Slots read: ``order_id``; ``cancel_reason`` (optional); the new address in ``address_line1``,
``address_line2`` (optional), ``city``, ``region`` (optional), ``postal_code``, ``country``.
Slot set: ``order_id`` (normalised).
"""

from __future__ import annotations

from decimal import Decimal

from actions.backoffice.interfaces import Order
from actions.tools import inputs
from actions.tools.base import Call, Tool, day, local, money
from actions.tools.billing import refund_message, refund_or_hold, refund_with_key, reserved
from actions.tools.inputs import ToolFailure

NOT_SHIPPED = ("pending", "paid", "processing")
RETURN_INSTEAD = "You can return it within {days} days of delivery instead, and return shipping is free."


def order_number(call: Call, question: str) -> str:
    return call.identifier("order_id", inputs.order_id, question)


def describe(call: Call, order: Order) -> str:
    placed = day(local(call, order.placed_at))
    status = order.status
    if status == "pending":
        return f"Order {order.id} (placed {placed}) is waiting for payment."
    if status in ("paid", "processing"):
        return f"Order {order.id} (placed {placed}) is being prepared in our warehouse and hasn't shipped yet."
    if status == "cancelled":
        when = day(local(call, order.cancelled_at)) if order.cancelled_at else "earlier"
        return f"Order {order.id} was cancelled on {when}."
    tracking = call.bo.orders.tracking(order.id)
    if status == "returned":
        return f"Order {order.id} was returned to us, and its refund has been issued."
    if tracking is None:
        return f"Order {order.id} (placed {placed}) is {status.replace('_', ' ')}."
    if status == "delivered" or tracking.delivered_at:
        when = day(local(call, tracking.delivered_at)) if tracking.delivered_at else "recently"
        return f"Order {order.id} was delivered on {when} ({tracking.carrier}, tracking number {tracking.tracking_number})."
    text = f"Order {order.id} has shipped with {tracking.carrier}; the tracking number is {tracking.tracking_number}."
    latest = tracking.latest
    if latest is not None:
        where = f" in {latest.location}" if latest.location else ""
        text += f" Latest update: {latest.description}{where} on {day(local(call, latest.time))} at {local(call, latest.time):%H:%M}."
    if tracking.estimated_delivery:
        text += f" Expected delivery: {day(tracking.estimated_delivery)}."
    return text


class OrderStatus(Tool):
    """Status and tracking of one of the customer's orders (their latest orders without a number)."""

    def name(self) -> str:
        return "action_order_status"

    def execute(self, call: Call) -> None:
        if call.value("order_id") is None:
            orders = call.bo.orders.list_orders(call.customer_id, limit=3)
            if not orders:
                call.say("I can't see any orders on your account yet.")
                return
            lines = [f"- {o.id}, placed {day(local(call, o.placed_at))}: {o.status.replace('_', ' ')}" for o in orders]
            call.say("Here are your latest orders:\n" + "\n".join(lines) + "\nWhich one would you like to know more about?")
            call.outcome = "listed"
            return
        order = call.order(order_number(call, "Which order? Order numbers look like ORD-12345."))
        call.say(describe(call, order))


class CancelOrder(Tool):
    """Cancel an order that hasn't shipped; what was paid (less the policy's fee) is refunded."""

    def name(self) -> str:
        return "action_cancel_order"

    def execute(self, call: Call) -> None:
        order_id = order_number(call, "Which order would you like to cancel? Order numbers look like ORD-12345.")
        order = call.order(order_id)
        days = call.policy.refund_window_days
        if order.status not in NOT_SHIPPED + ("cancelled",):
            if order.status == "returned":
                raise ToolFailure(f"Order {order.id} has already been returned, so there's nothing to cancel.", "not_allowed")
            raise ToolFailure(
                f"Order {order.id} has already shipped, so it can't be cancelled any more. " + RETURN_INSTEAD.format(days=days),
                "not_allowed",
            )
        reason = inputs.text(call.slot("cancel_reason"), "reason", limit=500) if call.slot("cancel_reason") else "Cancelled by the customer in chat"
        if order.status != "cancelled":
            order = call.bo.orders.cancel_order(order.id, reason=reason)
        # refund what was paid and not yet refunded (a retried call finds its own refund again)
        key = call.key(order_id=order.id, purpose="cancellation refund")
        fee = call.policy.cancellation_fee
        refund = refund_with_key(call, order.id, key)
        if refund is not None:
            refund, approval = refund_or_hold(call, order, refund.amount, refund.reason, key)
        else:
            paid = call.bo.billing.payment_status(order.id).amount_paid
            amount = paid - reserved(call, order.id) - fee
            refund, approval = (None, None)
            if amount > 0:
                refund, approval = refund_or_hold(call, order, amount, f"Order cancelled: {reason}", key)
            else:  # a concurrent delivery of this same call may just have refunded it
                refund = refund_with_key(call, order.id, key)
                if refund is not None:
                    refund, approval = refund_or_hold(call, order, refund.amount, refund.reason, key)
        call.params.update({"fee": fee, "refund": refund.amount if refund else Decimal("0")})
        text = f"Done: order {order.id} is cancelled."
        if fee > 0 and refund is not None:
            text += f" A cancellation fee of {money(fee, order.currency)} applies."
        if refund is not None:
            text += " " + refund_message(call, order, refund, approval)
            call.outcome = "pending_approval" if approval else "ok"
        call.say(text)


class ChangeShippingAddress(Tool):
    """Send an order that hasn't shipped to a new address."""

    def name(self) -> str:
        return "action_change_shipping_address"

    QUESTIONS = {
        "address_line1": "What's the new street address?",
        "city": "Which town or city is the new address in?",
        "postal_code": "What's the postal code of the new address?",
        "country": "Which country is the new address in?",
    }

    def execute(self, call: Call) -> None:
        order_id = order_number(call, "Which order should go to a new address? Order numbers look like ORD-12345.")
        for slot, question in self.QUESTIONS.items():
            if call.slot(slot) is None:
                raise ToolFailure(question, "missing")
        address = {
            "line1": inputs.street(call.slot("address_line1")),
            "line2": inputs.street(call.slot("address_line2")) if call.slot("address_line2") else None,
            "city": inputs.city(call.slot("city")),
            "region": str(call.slot("region")).strip()[:100] if call.slot("region") else None,
            "postal_code": inputs.postal_code(call.slot("postal_code")),
            "country": inputs.country(call.slot("country")),
        }
        call.params.update({"city": address["city"], "country": address["country"]})
        order = call.order(order_id)
        if order.status not in NOT_SHIPPED:
            if order.status in ("cancelled", "returned"):
                raise ToolFailure(f"Order {order.id} has been {order.status}, so its address can't be changed.", "not_allowed")
            raise ToolFailure(
                f"Order {order.id} has already shipped, so I can't change its address any more. The carrier's tracking "
                "page sometimes offers a redirect; if you need help with that, type \"agent\".",
                "not_allowed",
            )
        order = call.bo.orders.change_address(order.id, address)
        call.say(f"Done: order {order.id} will now go to {order.shipping_address.one_line()}.")
