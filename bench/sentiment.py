"""Frustration signal: how well the escalation's sentiment score separates frustrated messages.

Scores our own labelled customer messages (``bench/data/frustration.jsonl``: frustrated ones,
and ordinary problem reports that mention late orders, double charges or broken items) and,
for false alarms, every example of the reference assistant's NLU data. Reports, at the
configured per-message threshold and the "severe" one, detection rate and false-alarm rates.
Writes ``bench/results/sentiment.json`` and ``.md``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dialogue.handoff import EscalationConfig, SentimentAnalyzer  # noqa: E402
from dialogue.project import load_config_file  # noqa: E402
from nlu import load_data  # noqa: E402


def rate(flags: list[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def main() -> None:
    analyzer = SentimentAnalyzer()
    settings = EscalationConfig.from_config(load_config_file(ROOT / "config.yml").get("escalation")).frustration
    labelled = [json.loads(line) for line in (ROOT / "bench" / "data" / "frustration.jsonl").open()]
    customer_texts = load_data(ROOT / "data" / "nlu.yml").texts
    results = {"backend": analyzer.backend, "threshold": settings.threshold, "severe_threshold": settings.severe_threshold}
    for name, cut in (("threshold", settings.threshold), ("severe", settings.severe_threshold)):
        frustrated = [analyzer.score(r["text"]) <= cut for r in labelled if r["frustrated"]]
        problems = [analyzer.score(r["text"]) <= cut for r in labelled if not r["frustrated"]]
        ordinary = [analyzer.score(t) <= cut for t in customer_texts]
        results[name] = {
            "cut": cut,
            "detection_rate": rate(frustrated),
            "false_alarms_on_problem_reports": rate(problems),
            "false_alarms_on_training_messages": rate(ordinary),
            "n": {"frustrated": len(frustrated), "problem_reports": len(problems), "training_messages": len(ordinary)},
        }
    out = ROOT / "bench" / "results"
    (out / "sentiment.json").write_text(json.dumps(results, indent=2))
    lines = [
        f"Frustration signal ({results['backend']}): a message counts when its compound score is at or below the cut.",
        "",
        "| cut | detection (frustrated) | false alarms (problem reports) | false alarms (all training messages) |",
        "|---|---|---|---|",
    ]
    for name in ("threshold", "severe"):
        r = results[name]
        lines.append(
            f"| {name} {r['cut']} | {100 * r['detection_rate']:.1f}% | {100 * r['false_alarms_on_problem_reports']:.1f}% "
            f"| {100 * r['false_alarms_on_training_messages']:.1f}% |"
        )
    table = "\n".join(lines) + "\n"
    (out / "sentiment.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
