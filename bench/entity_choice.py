"""Which entity tagger: the CRF or spaCy's NER trained from a blank pipeline?

Both train on SNIPS train; the choice is the higher exact-span micro-F1 on SNIPS **valid**
(test is reported, never used to choose). Also measured: training time and single-message
predict latency. Writes ``bench/results/entity_choice.json`` and prints a markdown table.

    python bench/entity_choice.py                     # both candidates
    python bench/entity_choice.py --spacy-seconds 120 # a tighter time cap for spaCy's training
    python bench/entity_choice.py --sweep             # also the CRF settings sweep (valid only)

A run without ``--sweep`` keeps the sweep recorded by an earlier ``--sweep`` run in the JSON.

Exact-span micro-F1: a predicted entity counts only when start, end and type all match a gold one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
SNIPS = ROOT.parent / "shared" / "datasets" / "snips"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def load_split(directory: Path, split: str) -> tuple[list[str], list[list[dict]]]:
    texts, entities = [], []
    with open(directory / f"{split}.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                texts.append(row["text"])
                entities.append(row.get("entities") or [])
    return texts, entities


def micro_f1(gold: list[list[dict]], predicted: list[list[dict]]) -> dict:
    tp = fp = fn = 0
    for g, p in zip(gold, predicted):
        gs = {(e["start"], e["end"], e["entity"]) for e in g}
        ps = {(e["start"], e["end"], e["entity"]) for e in p}
        tp += len(gs & ps)
        fp += len(ps - gs)
        fn += len(gs - ps)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(100 * precision, 2), "recall": round(100 * recall, 2), "f1": round(100 * f1, 2)}


def latency_ms(model, texts: list[str]) -> dict:
    model.predict(texts[:5])  # warm up
    times = []
    for text in texts:
        start = time.perf_counter()
        model.predict([text])
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return {
        "p50": round(times[len(times) // 2], 3),
        "p90": round(times[int(len(times) * 0.9)], 3),
        "mean": round(statistics.fmean(times), 3),
    }


def evaluate(name: str, model, data: dict, latency_sample: int) -> dict:
    X, y = data["train"]
    print(f"training {name} on {len(X)} messages ...", flush=True)
    start = time.perf_counter()
    model.fit(X, y)
    train_s = time.perf_counter() - start
    result = {"candidate": name, "params": _params(model), "train_s": round(train_s, 1)}
    for split in ("valid", "test"):
        texts, gold = data[split]
        result[split] = micro_f1(gold, model.predict(texts))
    result["latency_ms"] = latency_ms(model, data["valid"][0][:latency_sample])
    if hasattr(model, "epochs_done_"):
        result["epochs_done"] = model.epochs_done_
    print(f"  valid F1 {result['valid']['f1']}  test F1 {result['test']['f1']}  train {result['train_s']} s  "
          f"p50 {result['latency_ms']['p50']} ms", flush=True)
    return result


def _params(model) -> dict:
    return {k: v for k, v in model.get_params().items() if isinstance(v, (int, float, str, bool)) or v is None}


def sweep(data: dict) -> list[dict]:
    """The CRF's regularisation and epoch count on the validation split."""
    from nlu.entities import CRFEntityExtractor

    grid = [
        {"algorithm": "l2sgd", "c2": c2, "max_iterations": it}
        for c2, it in [(0.01, 10), (0.05, 10), (0.1, 7), (0.1, 10), (0.1, 15), (0.3, 10), (1.0, 10)]
    ] + [{"algorithm": "lbfgs", "c1": 0.05, "c2": 0.01, "max_iterations": 25}]
    rows = []
    X, y = data["train"]
    texts, gold = data["valid"]
    for params in grid:
        start = time.perf_counter()
        model = CRFEntityExtractor(**params).fit(X, y)
        train_s = time.perf_counter() - start
        row = {**params, "train_s": round(train_s, 1), "valid_f1": micro_f1(gold, model.predict(texts))["f1"]}
        print("  sweep", row, flush=True)
        rows.append(row)
    return rows


def markdown(results: list[dict], chosen: str) -> str:
    lines = [
        "| tagger | valid F1 | test F1 | train (s) | predict p50 (ms/msg) | |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        mark = "chosen" if r["candidate"] == chosen else ""
        lines.append(
            f"| {r['candidate']} | {r['valid']['f1']:.2f} | {r['test']['f1']:.2f} | {r['train_s']:.1f} | "
            f"{r['latency_ms']['p50']:.3f} | {mark} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SNIPS, help="folder with train/valid/test.jsonl")
    parser.add_argument("--spacy-seconds", type=float, default=300.0, help="time cap on spaCy's training")
    parser.add_argument("--spacy-epochs", type=int, default=30)
    parser.add_argument("--skip-spacy", action="store_true")
    parser.add_argument("--sweep", action="store_true", help="also sweep the CRF's settings on valid")
    parser.add_argument("--latency-sample", type=int, default=500)
    parser.add_argument("--out", type=Path, default=RESULTS / "entity_choice.json")
    args = parser.parse_args(argv)

    if not (args.data / "train.jsonl").exists():
        print(f"no SNIPS data at {args.data}", file=sys.stderr)
        return 2
    data = {split: load_split(args.data, split) for split in ("train", "valid", "test")}

    from nlu.entities import CRFEntityExtractor, SpacyNEREntityExtractor

    candidates = [("CRFEntityExtractor", CRFEntityExtractor())]
    if not args.skip_spacy:
        candidates.append((
            "SpacyNEREntityExtractor",
            SpacyNEREntityExtractor(epochs=args.spacy_epochs, max_seconds=args.spacy_seconds),
        ))
    results = [evaluate(name, model, data, args.latency_sample) for name, model in candidates]
    chosen = max(results, key=lambda r: (r["valid"]["f1"], -r["latency_ms"]["p50"]))["candidate"]

    report = {
        "dataset": "SNIPS",
        "sizes": {split: len(data[split][0]) for split in data},
        "metric": "exact-span micro-F1 (start, end, type), percent",
        "selection": "highest valid F1",
        "chosen": chosen,
        "results": results,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    if args.sweep:
        report["crf_sweep_valid"] = sweep(data)
    elif args.out.exists():
        try:
            previous = json.loads(args.out.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            previous = {}
        if "crf_sweep_valid" in previous:
            report["crf_sweep_valid"] = previous["crf_sweep_valid"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print()
    print(markdown(results, chosen))
    print(f"\nchosen: {chosen} (by valid F1); wrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
