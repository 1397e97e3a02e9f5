"""The assistant's tools: rasa-sdk actions over the back office (see :mod:`.base` for what every
tool call goes through).

=================================  ====================================================
``action_identify_customer``       find the account (e-mail, phone or order number), send a code
``action_send_verification_code``  send a new code (:mod:`actions.controls.step_up`)
``action_check_verification_code`` check the code the customer typed
``action_order_status``            status and tracking of an order (latest orders without one)
``action_cancel_order``            cancel before shipment; refund what was paid, less the fee
``action_change_shipping_address`` new delivery address before shipment
``action_invoice_lookup``          an invoice by number or order (latest ones without either)
``action_send_invoice``            e-mail a copy of an invoice to the address on file
``action_payment_status``          where an order's money stands
``action_request_refund``          refund by policy; above the threshold held for approval
``action_payment_method_link``     signed, expiring link to the payment page (no card data)
``action_create_ticket``           open a support ticket (category, priority)
``action_add_ticket_message``      add to a ticket's thread
``action_ticket_status``           a ticket's status (open tickets without a number)
``action_book_appointment``        book a free slot (offers times when date or time is missing)
``action_reschedule_appointment``  move an appointment to another free slot
``action_cancel_appointment``      cancel an appointment
``action_edit_account``            change name, e-mail address or phone number
``action_close_account``           request closure (held for a person's approval)
=================================  ====================================================

The form validators are in :mod:`.forms`.
"""

from actions import runtime as _runtime

_runtime.warm_up()  # the action server imports this package at start-up
