"""Guardrails: what a message must pass before the assistant acts on it, and what it may say back.

Input rails (``guardrails:`` in ``config.yml``, read by :mod:`.config`):

- :mod:`.limits`: per-message limits (size, NUL, invalid Unicode) and clean-up (control and
  invisible characters, NFKC), applied by every channel;
- :mod:`.rate_limit`: messages per sender and per client address, in memory or shared in Redis;
- :mod:`.injection_rules`: hand-written prompt-injection rules and the decoding of hidden payloads;
- :mod:`.injection_model`: the trained prompt-injection classifier (``desk train guard``);
- :mod:`.injection`: the screen (rules + classifier) and the engine's input rail;
- :mod:`.evaluation`: recall, precision and false alarms of the screen (``desk test guard``).

Personal data and the output rail (``privacy:`` in ``config.yml``): :mod:`.privacy`, :mod:`.output`, :mod:`.personal_data`.
"""
