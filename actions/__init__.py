"""The action server's code, run by rasa-sdk (``python -m rasa_sdk --actions actions``) and reached
only over HTTP with Rasa's protocol.

* :mod:`actions.tools`: the tools (rasa-sdk actions) over the back office, and form validation;
* :mod:`actions.controls`: verification, allowlist, idempotency, approvals, signed links;
* :mod:`actions.policy`: the business rules from ``policy.yml``;
* :mod:`actions.approvals`: command line for held requests (``python -m actions.approvals``);
* :mod:`actions.backoffice`: the systems the tools work against.
"""
