"""Controls every tool call passes through.

* :mod:`.verification`: step-up verification with a one-time code e-mailed to the address on
  file; the verified customer is kept server-side, per conversation, and lapses.
* :mod:`.allowlist`: least privilege: a tool runs only in the conversation states that
  ``policy.yml`` allows it in.
* :mod:`.idempotency`: keys that make a retried call (time-out, duplicate delivery) harmless.
* :mod:`.approvals`: calls held back for a person's decision (refunds above the threshold,
  account closures), executed exactly once on approval.
* :mod:`.links`: signed, expiring links to the customer's account pages.
"""
