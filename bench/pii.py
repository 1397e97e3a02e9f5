"""Personal-data masking: cost per message and what it catches.

Uses the reference assistant's ``privacy:`` settings (config.yml) and its NLU examples as
ordinary customer messages, plus generated messages that carry one known value each (e-mail,
phone, card, SSN, street address, full name, order number). Measures

- the time to load the recogniser (patterns) and spaCy (names and places), in this process;
- per-message masking latency (p50, p99) for the ``store`` types (patterns only) and the ``llm``
  types (with NER), on the NLU examples;
- the output rail's check of a tool message;
- for each generated kind, how often the value is gone after masking (``llm`` types), and how
  often an NLU example is changed by the ``store`` masking.

Writes ``bench/results/pii.json`` and ``.md``. About a minute on 2 cores.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dialogue.guardrails.personal_data import PersonalDataRail  # noqa: E402
from dialogue.project import load_config_file  # noqa: E402
from nlu import load_data  # noqa: E402

FIRST = ["Ana", "Ben", "Chloe", "David", "Emma", "Farid", "Grace", "Hugo", "Ines", "James"]
LAST = ["Lima", "Okafor", "Smith", "Nguyen", "Garcia", "Müller", "Brown", "Rossi", "Kowalski", "Dubois"]
STREETS = ["Elm Street", "Oak Avenue", "Harbour Road", "Maple Drive", "King Street"]
CARDS = ["4111 1111 1111 1111", "5555 5555 5555 4444", "3782 822463 10005", "6011-1111-1111-1117"]
TEMPLATES = {
    "email": ("my email is {v}, can you check my order?", lambda r: f"{r.choice(FIRST).lower()}.{r.choice(LAST).lower()}@example.com"),
    "phone": ("call me on {v} please", lambda r: f"+1 503 555 {r.randint(100, 999):04d}"),
    "card": ("my card is {v} can you charge it", lambda r: r.choice(CARDS)),
    "ssn": ("my social security number is {v}", lambda r: f"{r.randint(200, 599)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}"),
    "street_address": ("send it to {v} instead", lambda r: f"{r.randint(2, 999)} {r.choice(STREETS)}"),
    "person": ("hi, this is {v} and I need help", lambda r: f"{r.choice(FIRST)} {r.choice(LAST)}"),
    "order_id": ("where is order {v}?", lambda r: f"ORD-{r.randint(10000, 99999)}"),
}


def ms(values: list[float]) -> dict:
    values = sorted(values)
    return {"p50": round(statistics.median(values) * 1000, 2), "p99": round(values[int(len(values) * 0.99) - 1] * 1000, 2)}


def main() -> None:
    rail = PersonalDataRail.from_config(load_config_file(ROOT / "config.yml").get("privacy"))
    policy = rail.config.masking
    started = time.perf_counter()
    masker = policy.masker()
    load_patterns = time.perf_counter() - started
    started = time.perf_counter()
    masker.analyzer  # noqa: B018 - loads spaCy
    load_ner = time.perf_counter() - started

    texts = load_data(ROOT / "data" / "nlu.yml").texts
    rng = random.Random(7)
    sample = rng.sample(texts, min(500, len(texts)))
    for text in sample[:20]:
        policy.mask_text(text, "llm")  # warm
    timings: dict[str, list[float]] = {"store": [], "llm": []}
    changed = 0
    for text in sample:
        for destination in timings:
            started = time.perf_counter()
            masked = policy.mask_text(text, destination)
            timings[destination].append(time.perf_counter() - started)
            if destination == "store" and masked != text:
                changed += 1

    tool_message = {"event": "bot", "text": "Order ORD-58213 is on its way to 42 Elm Street and arrives on Tuesday 3 June.",
                    "metadata": {}}
    said = ["where is ORD-58213? it goes to 42 elm street"]
    check = []
    for _ in range(200):
        started = time.perf_counter()
        rail.output.disallowed(tool_message, said)
        check.append(time.perf_counter() - started)

    caught = {}
    for kind, (template, make) in TEMPLATES.items():
        hits = 0
        for _ in range(100):
            value = make(rng)
            hits += value not in policy.mask_text(template.format(v=value), "llm")
        caught[kind] = hits / 100

    results = {
        "load_s": {"patterns": round(load_patterns, 2), "spacy_ner": round(load_ner, 2)},
        "latency_ms": {"store": ms(timings["store"]), "llm": ms(timings["llm"]), "output_check": ms(check)},
        "messages": len(sample),
        "store_changed": round(changed / len(sample), 4),
        "masked_rate_llm": caught,
        "machine": {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()],
                    "python": platform.python_version()},
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "pii.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = [
        "| measure | value |", "|---|---|",
        f"| load: recogniser (Presidio import, patterns) / spaCy NER (s) | {results['load_s']['patterns']} / {results['load_s']['spacy_ner']} |",
        f"| masking per message, `store` types (patterns): p50 / p99 ms | {results['latency_ms']['store']['p50']} / {results['latency_ms']['store']['p99']} |",
        f"| masking per message, `llm` types (with NER): p50 / p99 ms | {results['latency_ms']['llm']['p50']} / {results['latency_ms']['llm']['p99']} |",
        f"| output rail, one tool message: p50 / p99 ms | {results['latency_ms']['output_check']['p50']} / {results['latency_ms']['output_check']['p99']} |",
        f"| NLU examples changed by `store` masking (of {len(sample)}; each holds an e-mail, phone or street address) | {results['store_changed']:.1%} |",
    ] + [f"| generated messages with a {kind.replace('_', ' ')}: value masked (`llm` types) | {rate:.0%} |" for kind, rate in caught.items()]
    (out / "pii.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
