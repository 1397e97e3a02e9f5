"""Billing tools: ``action_invoice_lookup``, ``action_send_invoice``, ``action_payment_status``,
``action_request_refund`` and ``action_payment_method_link``.

Slots read: ``invoice_id``, ``order_id``, ``amount`` (optional: the whole refundable amount by
default), ``refund_reason`` (optional). Slots set: ``invoice_id``, ``order_id``,
``approval_id`` (when a refund waits for a person).

Refunds follow ``policy.yml``: only delivered orders, within ``refund_window_days`` of delivery,
for items in ``refund_eligible_item_states``, never more than was paid and not yet refunded. Up
to ``refund_approval_threshold`` the assistant approves the refund itself; above it the refund
is recorded as ``pending_approval`` and an approval request waits for a person
(:mod:`actions.controls.approvals`). A retried call (same conversation, message and request)
finds its refund by idempotency key and answers as the first call did.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from actions.backoffice.audit import mask_text
from actions.backoffice.interfaces import Invoice, NotAllowed, Order, Refund
from actions.controls import approvals, links
from actions.controls.approvals import Approval
from actions.controls.verification import mask_email
from actions.tools import inputs
from actions.tools.base import Call, Tool, day, local, money
from actions.tools.inputs import ToolFailure

RESERVING = ("requested", "pending_approval", "approved", "issued")
NO_CARDS = "Please don't share card details in this chat; I haven't kept what you typed."


# --------------------------------------------------------------------------- refunds (shared with cancellations)


def reserved(call: Call, order_id: str) -> Decimal:
    """What the order's refunds already take up."""
    return sum((r.amount for r in call.bo.billing.refunds_for_order(order_id) if r.status in RESERVING), Decimal("0.00"))


def refund_with_key(call: Call, order_id: str, key: str) -> Refund | None:
    return next((r for r in call.bo.billing.refunds_for_order(order_id) if r.idempotency_key == key), None)


def refund_or_hold(call: Call, order: Order, amount: Decimal, reason: str, key: str) -> tuple[Refund, Approval | None]:
    """Record a refund: approved at once up to the threshold, else held for a person's approval."""
    billing = call.bo.billing
    held = amount > call.policy.refund_approval_threshold
    try:
        refund = billing.create_refund(order.id, amount, reason, idempotency_key=key, conversation_id=call.sender_id,
                                       status="pending_approval" if held else "requested")
    except NotAllowed:
        # A concurrent delivery of the same call may have recorded the refund between our check and
        # the back office's order lock, which then finds nothing left to refund: answer with that refund.
        refund = refund_with_key(call, order.id, key)
        if refund is None:
            raise
    if held:
        approval, _ = approvals.request(
            call.rt, conversation_id=call.sender_id, customer_id=call.customer_id, tool=call.tool,
            parameters={"kind": approvals.KIND_REFUND, "refund_id": refund.id, "order_id": order.id,
                        "amount": str(refund.amount), "reason": reason},
            dedupe=refund.id, amount=refund.amount, currency=refund.currency,
        )
        call.set("approval_id", approval.id)
        return refund, approval
    if refund.status == "requested":
        refund = billing.set_refund_status(refund.id, "approved")
    return refund, None


def refund_message(call: Call, order: Order, refund: Refund, approval: Approval | None) -> str:
    amount = money(refund.amount, refund.currency)
    if approval is None:
        return (f"I've approved a refund of {amount} (reference {refund.id}); it goes back to your original payment "
                "method within 5 business days, and your bank may take another 3-5 business days to show it.")
    if approval.status == "rejected" or refund.status == "rejected":
        return (f"Your refund request of {amount} for order {order.id} (reference {approval.id}) was reviewed by our "
                "team and not approved; we've e-mailed you the details.")
    if approval.status in ("approved", "executed") or refund.status in ("approved", "issued"):
        return f"Your refund of {amount} for order {order.id} (reference {refund.id}) has been approved."
    threshold = money(call.policy.refund_approval_threshold, refund.currency)
    return (f"Refunds over {threshold} need a quick review by a person on our team, so I've passed on your request "
            f"for a refund of {amount} (reference {approval.id}). We'll e-mail you once it's decided, usually within "
            "one business day.")


class RequestRefund(Tool):
    """Refund a delivered order's eligible items, within the return window."""

    def name(self) -> str:
        return "action_request_refund"

    def execute(self, call: Call) -> None:
        from actions.tools.orders import order_number

        order_id = order_number(call, "Which order would you like a refund for? Order numbers look like ORD-12345.")
        raw_amount = call.value("amount")
        requested = inputs.amount(raw_amount) if raw_amount is not None else None
        order = call.order(order_id)
        if requested is not None and requested > order.total:
            raise inputs.Invalid(f"That's more than order {order.id} cost ({money(order.total, order.currency)}). "
                                 "How much would you like refunded?")
        reason = inputs.text(call.slot("refund_reason"), "reason", limit=500) if call.slot("refund_reason") else "Return requested in chat"
        call.params.update({"amount": requested, "reason": reason})
        key = call.key(order_id=order.id, amount=requested if requested is not None else "all")
        refunds = call.bo.billing.refunds_for_order(order.id)
        refund = next((r for r in refunds if r.idempotency_key == key), None)
        if refund is not None:  # a retry of a call that already went through
            refund, approval = refund_or_hold(call, order, refund.amount, refund.reason, key)
        else:
            eligible = self._eligible(call, order, refunds)
            if requested is not None and requested > eligible:
                raise ToolFailure(f"The most I can refund for order {order.id} now is {money(eligible, order.currency)}.",
                                  "not_eligible")
            refund, approval = refund_or_hold(call, order, eligible if requested is None else requested, reason, key)
        call.params["refund"] = refund.amount
        call.outcome = "pending_approval" if approval and approval.status == "pending" else "ok"
        call.say(refund_message(call, order, refund, approval))

    @staticmethod
    def _eligible(call: Call, order: Order, refunds: list[Refund]) -> Decimal:
        """What can be refunded now; :class:`ToolFailure` with the rule that stands in the way."""
        days = call.policy.refund_window_days
        if order.status in ("pending", "paid", "processing"):
            raise ToolFailure(f"Order {order.id} hasn't shipped yet, so rather than a refund you can cancel it free of "
                              "charge. Would you like me to cancel it?", "not_eligible")
        if order.status in ("shipped", "in_transit"):
            raise ToolFailure(f"Order {order.id} is still on its way. Once it has been delivered you can return it "
                              f"within {days} days for a refund.", "not_eligible")
        if order.status == "cancelled":
            raise ToolFailure(f"Order {order.id} was cancelled; anything paid for it was refunded with the cancellation.",
                              "not_eligible")
        if order.status == "returned":
            raise ToolFailure(f"Order {order.id} has already been returned and refunded.", "not_eligible")
        declined = [r.id for r in refunds if r.status == "rejected"]
        if declined:
            raise ToolFailure(f"A refund request for order {order.id} was reviewed by our team and not approved "
                              f"(reference {declined[-1]}). If you'd like to talk it over, type \"agent\".", "not_eligible")
        tracking = call.bo.orders.tracking(order.id)
        delivered = (tracking.delivered_at if tracking else None) or order.updated_at or order.placed_at
        if call.now() - delivered > timedelta(days=days):
            raise ToolFailure(f"Order {order.id} was delivered on {day(local(call, delivered))}, more than {days} days ago, "
                              f"so it's outside our {days}-day return window. If an item is faulty, type \"agent\" and a "
                              "person on our team will look at it.", "not_eligible")
        states = set(call.policy.refund_eligible_item_states)
        items = sum((item.line_total for item in order.items if item.state in states), Decimal("0.00"))
        if items <= 0:
            raise ToolFailure(f"The items of order {order.id} have already been returned.", "not_eligible")
        paid = call.bo.billing.payment_status(order.id).amount_paid
        under_way = [r for r in refunds if r.status in RESERVING]
        refundable = min(items, paid) - sum((r.amount for r in under_way), Decimal("0.00"))
        if refundable <= 0:
            references = ", ".join(r.id for r in under_way) or "none"
            raise ToolFailure(f"A refund for order {order.id} is already under way ({references}), "
                              "so there's nothing more I can refund.", "not_eligible")
        return refundable.quantize(Decimal("0.01"))


# --------------------------------------------------------------------------- invoices and payments


def _invoice(call: Call, question: str) -> Invoice:
    raw_invoice = call.value("invoice_id")
    if raw_invoice is not None:
        invoice_id = inputs.invoice_id(raw_invoice)
        call.params["invoice_id"] = invoice_id
        call.set("invoice_id", invoice_id)
        return call.invoice(invoice_id)
    if call.value("order_id") is not None:
        from actions.tools.orders import order_number

        order = call.order(order_number(call, question))
        invoices = [i for i in call.bo.billing.list_invoices(call.customer_id) if i.order_id == order.id]
        current = next((i for i in invoices if i.status != "void"), invoices[0] if invoices else None)
        if current is None:
            raise ToolFailure(f"There's no invoice for order {order.id} yet.", "not_found")
        call.set("invoice_id", current.id)
        return current
    raise ToolFailure(question, "missing")


def _invoice_line(call: Call, invoice: Invoice) -> str:
    status = invoice.status.replace("_", " ")
    text = (f"Invoice {invoice.id} for order {invoice.order_id}: {money(invoice.amount, invoice.currency)}, "
            f"issued {day(local(call, invoice.issued_at))}, {status}")
    if invoice.status == "open" and invoice.due_at:
        text += f", due {day(local(call, invoice.due_at))}"
    return text + "."


class InvoiceLookup(Tool):
    """An invoice by number or by order (the latest ones without either)."""

    def name(self) -> str:
        return "action_invoice_lookup"

    def execute(self, call: Call) -> None:
        if call.value("invoice_id") is None and call.value("order_id") is None:
            invoices = call.bo.billing.list_invoices(call.customer_id)[:3]
            if not invoices:
                call.say("I can't see any invoices on your account yet.")
                return
            call.outcome = "listed"
            call.say("Your latest invoices:\n" + "\n".join("- " + _invoice_line(call, i) for i in invoices))
            return
        call.say(_invoice_line(call, _invoice(call, "")))


class SendInvoice(Tool):
    """E-mail a copy of an invoice to the address on file."""

    def name(self) -> str:
        return "action_send_invoice"

    def execute(self, call: Call) -> None:
        invoice = _invoice(call, "Which invoice would you like a copy of? Give me the invoice number (INV-123456) "
                                 "or the order number (ORD-12345).")
        customer = call.customer()
        lines = [_invoice_line(call, invoice), ""]
        order = call.bo.orders.get_order(invoice.order_id)
        for item in order.items if order else ():
            lines.append(f"{item.qty} x {item.name} ({item.sku}): {money(item.line_total, invoice.currency)}")
        lines += ["", f"Total: {money(invoice.amount, invoice.currency)}"]
        body = f"Hello {customer.name},\n\nhere is a copy of your invoice.\n\n" + "\n".join(lines) + "\n\nNorthwind Outfitters\n"
        call.bo.notifier.send("email", customer.email, f"Your invoice {invoice.id}", body)
        call.say(f"I've e-mailed a copy of invoice {invoice.id} to {mask_email(customer.email)}.")


class PaymentStatus(Tool):
    """Where an order's money stands: paid, due, refunded."""

    def name(self) -> str:
        return "action_payment_status"

    def execute(self, call: Call) -> None:
        from actions.tools.orders import order_number

        order = call.order(order_number(call, "Which order is it about? Order numbers look like ORD-12345."))
        status = call.bo.billing.payment_status(order.id)
        cur = status.currency
        texts = {
            "not_invoiced": f"Order {order.id} hasn't been invoiced yet.",
            "unpaid": f"Order {order.id} is waiting for payment: {money(status.amount_due, cur)} is due.",
            "failed": f"The payment for order {order.id} didn't go through, so {money(status.amount_due, cur)} is still "
                      "due. You can pay with another method under My account > Orders.",
            "paid": f"Order {order.id} is paid in full ({money(status.amount_paid, cur)}).",
            "partially_refunded": f"Order {order.id} was paid ({money(status.amount_paid, cur)}) and "
                                  f"{money(status.amount_refunded, cur)} of it has been refunded.",
            "refunded": f"Order {order.id} has been refunded in full ({money(status.amount_refunded, cur)}).",
            "void": f"The invoice for order {order.id} was cancelled, so nothing is due.",
        }
        text = texts.get(status.status, f"The payment status of order {order.id} is {status.status}.")
        pending = [r for r in call.bo.billing.refunds_for_order(order.id) if r.status in ("requested", "pending_approval", "approved")]
        if pending:
            text += " Refunds in progress: " + ", ".join(f"{r.id} ({money(r.amount, r.currency)}, {r.status.replace('_', ' ')})" for r in pending) + "."
        call.say(text)


class PaymentMethodLink(Tool):
    """Payment details are never taken in chat: a signed, expiring link to the account's payment page."""

    def name(self) -> str:
        return "action_payment_method_link"

    def execute(self, call: Call) -> None:
        policy = call.policy
        url, expires_at = links.signed_link(policy.payment_link_base_url, call.customer_id, "payment_methods",
                                            policy.payment_link_ttl_minutes, call.now())
        warning = NO_CARDS + " " if "****" in mask_text(call.text) and "****" not in call.text else ""
        call.params = {"expires_at": expires_at, "card_details_in_message": bool(warning)}
        call.say(f"{warning}For your security, payment details are never taken in chat. You can add or change a payment "
                 f"method on your account's payment page: {url}\nThe link works for {policy.payment_link_ttl_minutes:g} "
                 "minutes, and you'll be asked to sign in.")
