"""Prompt-injection screen: recall and false alarms of the rules and the trained classifier.

- deepset's prompt-injections training split (``shared/datasets/injection/deepset_train.jsonl``,
  546 messages, partly German; Apache-2.0), 5-fold cross-validation: each fold's classifier
  learns the shipped examples (``dialogue/guardrails/data/injection.jsonl``) and the other four
  folds, as ``desk train guard --data deepset_train.jsonl`` would; at the configured threshold
  and around it. The rules alone are measured too.
- the model a fresh clone trains (shipped examples only) on all of deepset's messages, which it
  never saw;
- false alarms on the reference assistant's own customer messages (every example of
  ``data/nlu.yml``, all ordinary), for both models; neither was trained on them;
- 5-fold cross-validation on the shipped examples;
- screening time per message (one at a time, warm).

Writes ``bench/results/guard.json`` and ``.md``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from dialogue.guardrails.config import GuardrailsConfig  # noqa: E402
from dialogue.guardrails.evaluation import cross_validate, evaluate  # noqa: E402
from dialogue.guardrails.injection import InjectionScreen  # noqa: E402
from dialogue.guardrails.injection_model import DEFAULT_DATA, fit_classifier, read_labelled  # noqa: E402
from dialogue.project import load_config_file  # noqa: E402
from nlu import load_data  # noqa: E402

DEEPSET = ROOT.parent / "shared" / "datasets" / "injection" / "deepset_train.jsonl"
SWEEP = (0.4, 0.5, 0.6, 0.7)
KEYS = ("recall", "precision", "false_positive_rate", "f1", "attacks", "ordinary", "false_positives", "false_negatives")


def summary(report: dict) -> dict:
    return {key: round(report[key], 4) if isinstance(report[key], float) else report[key] for key in KEYS}


def latency_ms(screen: InjectionScreen, texts: list[str]) -> dict:
    for text in texts[:20]:
        screen.screen(text)
    times = []
    for text in texts:
        started = time.perf_counter()
        screen.screen(text)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {"p50": round(statistics.median(times), 2), "p99": round(times[int(0.99 * (len(times) - 1))], 2)}


def main() -> None:
    threshold = GuardrailsConfig.from_config(load_config_file(ROOT / "config.yml").get("guardrails")).injection.threshold
    own = read_labelled(DEFAULT_DATA)
    deepset = read_labelled(DEEPSET)
    customers = [(text, 0) for text in load_data(ROOT / "data" / "nlu.yml").texts]
    sizes = {"shipped": len(own), "deepset": len(deepset), "customer_messages": len(customers)}
    results: dict = {"threshold": threshold, "n": sizes}

    started = time.perf_counter()
    results["deepset_cv"] = {str(t): summary(cross_validate(deepset, 5, t, base_rows=own)) for t in SWEEP}
    results["deepset_cv_seconds"] = round(time.perf_counter() - started, 1)
    results["deepset_rules_only"] = summary(evaluate(InjectionScreen(None, threshold), deepset))

    shipped = InjectionScreen(fit_classifier(own), threshold)
    with_deepset = InjectionScreen(fit_classifier(own + deepset), threshold)
    results["shipped_model_on_deepset"] = summary(evaluate(shipped, deepset))
    customer_reports = {"shipped": evaluate(shipped, customers), "shipped_plus_deepset": evaluate(with_deepset, customers)}
    results["customer_messages"] = {
        name: {**summary(report), "false_alarms": [e["text"] for e in report["errors"]]}
        for name, report in customer_reports.items()
    }
    results["shipped_cv"] = summary(cross_validate(own, 5, threshold))
    results["latency_ms"] = latency_ms(with_deepset, [text for text, _ in customers[:500]])
    results["machine"] = {"cpus": os.cpu_count(), "load_average": [round(x, 2) for x in os.getloadavg()]}

    out = ROOT / "bench" / "results"
    (out / "guard.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    table = markdown(results)
    (out / "guard.md").write_text(table)
    print(table)


def pct(value) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def markdown(r: dict) -> str:
    lines = [
        f"Prompt-injection screen (rules + classifier), threshold {r['threshold']} unless named.",
        "",
        "| measured on | training data | recall | precision | false alarms | F1 |",
        "|---|---|---|---|---|---|",
    ]

    def row(name: str, training: str, s: dict) -> None:
        lines.append(f"| {name} | {training} | {pct(s['recall'])} | {pct(s['precision'])} | "
                     f"{pct(s['false_positive_rate'])} ({s['false_positives']}/{s['ordinary']}) | {pct(s['f1'])} |")

    for t, s in r["deepset_cv"].items():
        row(f"deepset, 5-fold CV, threshold {t}", "shipped + 4/5 deepset", s)
    row("deepset, rules only", "—", r["deepset_rules_only"])
    row("deepset (all 546)", "shipped only", r["shipped_model_on_deepset"])
    row("shipped examples, 5-fold CV", "4/5 shipped", r["shipped_cv"])
    for name, training in (("shipped", "shipped only"), ("shipped_plus_deepset", "shipped + deepset")):
        s = r["customer_messages"][name]
        lines.append(f"| data/nlu.yml customer messages (all ordinary) | {training} | — | — | "
                     f"{pct(s['false_positive_rate'])} ({s['false_positives']}/{s['ordinary']}) | — |")
    lines += [
        "",
        f"Screening one message: p50 {r['latency_ms']['p50']} ms, p99 {r['latency_ms']['p99']} ms "
        f"(rules, payload decoding and the classifier; {r['machine']['cpus']} CPUs shared, load average "
        f"{r['machine']['load_average']}).",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
