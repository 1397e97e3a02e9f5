"""NLU benchmark: accuracy, training time, load time, latency, throughput, memory.

Trains the default pipeline on each public dataset's train split, evaluates on its test split,
and measures serving in a fresh process (load time, warm single-message latency, batch
throughput, peak RSS). Writes ``bench/results/nlu.json`` and ``bench/results/nlu.md``.

    python bench/nlu.py                      # all datasets
    python bench/nlu.py --datasets snips     # one
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    """This process's own high-water mark (``ru_maxrss`` would include the parent's, inherited at fork)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def probe(model_path: str, test_path: str) -> dict:
    """Run in a fresh process: what a serving process costs."""
    started = time.perf_counter()
    from nlu import load_data, load_model

    model = load_model(model_path)
    model.parse("warm up")  # first call builds lazily-created state
    load_s = time.perf_counter() - started
    texts = [e.text for e in load_data(test_path).examples]
    sample = texts[:1000]
    latencies = []
    for text in sample:
        t = time.perf_counter()
        model.parse(text)
        latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    serving_rss = peak_rss_mb()
    t = time.perf_counter()
    model.parse_batch(texts)
    batch_s = time.perf_counter() - t
    return {
        "load_s": round(load_s, 3),
        "parse_p50_ms": round(latencies[len(latencies) // 2], 2),
        "parse_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "batch_msgs_per_s": round(len(texts) / batch_s, 1),
        "peak_rss_mb": serving_rss,  # loaded and answering one message at a time
        "batch_peak_rss_mb": peak_rss_mb(),  # after parsing the whole test set in one batch
    }


def expected_calibration_error(parses: list[dict], gold: list[str], bins: int = 15) -> float:
    import numpy as np

    conf = np.array([p["intent_ranking"][0]["confidence"] for p in parses])
    correct = np.array([p["intent_ranking"][0]["name"] == g for p, g in zip(parses, gold)])
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf > lo) & (conf <= hi)
        if inside.any():
            ece += inside.mean() * abs(conf[inside].mean() - correct[inside].mean())
    return float(ece)


def run_dataset(name: str, out: Path) -> dict:
    from nlu import load_data, train
    from nlu.evaluation import parse_all, write_results
    from nlu.model import load_model

    train_path, test_path = DATASETS / name / "train.jsonl", DATASETS / name / "test.jsonl"
    with tempfile.TemporaryDirectory() as models:
        started = time.perf_counter()
        model_path, _ = train(train_path, None, models, force=True)
        train_s = time.perf_counter() - started
        size_mb = model_path.stat().st_size / 1e6
        serving = json.loads(
            subprocess.run(
                [sys.executable, __file__, "--probe", str(model_path), str(test_path)],
                check=True, capture_output=True, text=True,
            ).stdout.splitlines()[-1]
        )
        model = load_model(model_path)
        test = load_data(test_path)
        parses = parse_all(model, test.texts)
        summary = write_results(test, parses, out / name)
    result = {
        "dataset": name,
        "train_examples": len(load_data(train_path).examples),
        "test_examples": len(test.examples),
        "intent_accuracy": summary["intent"]["accuracy"],
        # The classifier's own top intent, before the fallback turns weak ones into nlu_fallback
        # (what published accuracies measure: they have no fallback).
        "top_intent_accuracy": round(sum(
            p["intent_ranking"][0]["name"] == e.intent for p, e in zip(parses, test.examples)
        ) / len(parses), 4),
        "intent_macro_f1": summary["intent"]["macro_f1"],
        "in_scope_accuracy": summary["intent"].get("in_scope_accuracy"),
        "out_of_scope_recall": summary["intent"].get("out_of_scope_recall"),
        "entity_micro_f1": (summary["entity"] or {}).get("micro_f1"),
        "calibration_error": round(expected_calibration_error(parses, [e.intent for e in test.examples]), 4),
        "train_s": round(train_s, 1),
        "model_mb": round(size_mb, 1),
        **serving,
    }
    print(json.dumps(result), flush=True)
    return result


def markdown(results: list[dict]) -> str:
    def pct(v):
        return "—" if v is None else f"{100 * v:.2f}"

    lines = [
        "| dataset | accuracy | top intent before fallback | macro-F1 | in-scope acc | OOS recall | entity F1 | ECE "
        "| train s | load s | p50 ms | p99 ms | batch msg/s | peak RSS MB | model MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['dataset']} | {pct(r['intent_accuracy'])} | {pct(r['top_intent_accuracy'])} | {pct(r['intent_macro_f1'])} "
            f"| {pct(r['in_scope_accuracy'])} "
            f"| {pct(r['out_of_scope_recall'])} | {pct(r['entity_micro_f1'])} | {r['calibration_error']:.3f} | {r['train_s']} "
            f"| {r['load_s']} | {r['parse_p50_ms']} | {r['parse_p99_ms']} | {r['batch_msgs_per_s']} | {r['peak_rss_mb']} | {r['model_mb']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["clinc150", "banking77", "snips"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--probe", nargs=2, metavar=("MODEL", "TEST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(*args.probe)))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    results = [run_dataset(name, args.out) for name in args.datasets]
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    (args.out / "nlu.json").write_text(json.dumps({"machine": machine, "results": results}, indent=2))
    table = markdown(results)
    (args.out / "nlu.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
