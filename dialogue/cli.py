"""The ``desk`` command: train, parse, test and run an assistant.

Every failure a user can cause (a bad data file, a missing model, a bad config) ends with a
one-line message naming the file (and line) and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEFAULT_DATA = "data"
DEFAULT_MODELS = "models"
DEFAULT_RESULTS = "results"
USAGE_ERROR = 2


def _default_config() -> str | None:
    """``config.yml`` when run inside a project, else the default pipeline."""
    return "config.yml" if Path("config.yml").is_file() else None


def cmd_train(args) -> int:
    from nlu import train
    from nlu.progress import default_progress

    path, trained = train(args.nlu, args.config, args.out, progress=default_progress(), force=args.force)
    print(f"{'Trained' if trained else 'Nothing changed; reusing'} NLU model: {path}")
    return 0


def cmd_parse(args) -> int:
    from nlu import load_model

    model = load_model(args.model)
    texts = args.text or [line.rstrip("\n") for line in sys.stdin if line.strip()]
    for result in model.parse_batch(texts):
        print(json.dumps(result, ensure_ascii=False, indent=None if len(texts) > 1 else 2))
    return 0


def cmd_test_nlu(args) -> int:
    from nlu import load_data, load_model, train_pipeline
    from nlu.config import load_config
    from nlu.evaluation import cross_validate, evaluate, print_summary

    data = load_data(args.nlu)
    out = Path(args.out)
    if args.cross_validation:
        config = load_config(args.config)
        summary = cross_validate(data, args.folds, lambda fold: train_pipeline(fold, config), out)
    else:
        summary = evaluate(load_model(args.model), data, out)
    print_summary(summary)
    print(f"Results written to {out}/")
    return 0


def cmd_run(args) -> int:
    from dialogue.server import serve
    from nlu import train
    from nlu.model import ModelNotFoundError, resolve_model_path
    from nlu.progress import default_progress

    try:
        model_path = resolve_model_path(args.model)
    except ModelNotFoundError:
        print(f"No trained model in {args.model}; training one from {args.nlu} first.")
        model_path, _ = train(args.nlu, args.config, args.model, progress=default_progress())
    serve(model_path, host=args.host, port=args.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="desk", description="Desk: customer-service assistants.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train models")
    train.add_argument("what", nargs="?", choices=["nlu"], default="nlu", help="what to train (default: nlu)")
    train.add_argument("--nlu", default=DEFAULT_DATA, help="training data file or directory (default: data)")
    train.add_argument("--config", default=_default_config(), help="config file (default: ./config.yml if present, else the default pipeline)")
    train.add_argument("--out", default=DEFAULT_MODELS, help="where models are written (default: models)")
    train.add_argument("--force", action="store_true", help="train even if an identical model exists")
    train.set_defaults(handler=cmd_train)

    parse = commands.add_parser("parse", help="parse messages with a trained NLU model")
    parse.add_argument("text", nargs="*", help="messages (default: one per line on stdin)")
    parse.add_argument("--model", default=DEFAULT_MODELS, help="model file or directory (default: models)")
    parse.set_defaults(handler=cmd_parse)

    test = commands.add_parser("test", help="evaluate models")
    test_kinds = test.add_subparsers(dest="what", required=True)
    test_nlu = test_kinds.add_parser("nlu", help="evaluate intent classification and entity extraction")
    test_nlu.add_argument("--model", default=DEFAULT_MODELS, help="model file or directory (newest model)")
    test_nlu.add_argument("--nlu", required=True, help="labelled test data file or directory")
    test_nlu.add_argument("--out", default=DEFAULT_RESULTS, help="where results are written (default: results)")
    test_nlu.add_argument("--cross-validation", action="store_true", help="train and test on K folds of --nlu")
    test_nlu.add_argument("--folds", type=int, default=5, help="number of folds (default: 5)")
    test_nlu.add_argument("--config", default=_default_config(), help="config for cross-validation training")
    test_nlu.set_defaults(handler=cmd_test_nlu)

    run = commands.add_parser("run", help="serve the assistant over HTTP (trains a model first if none)")
    run.add_argument("--model", default=DEFAULT_MODELS, help="model file or directory (default: models)")
    run.add_argument("--nlu", default=DEFAULT_DATA, help="training data, used when no model exists yet")
    run.add_argument("--config", default=_default_config(), help="config file")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=5005)
    run.set_defaults(handler=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    from nlu.model import ModelNotFoundError
    from nlu.registry import UnknownComponentError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    # Bad data files, configs and parameters are ValueErrors carrying the file (and line).
    except (ValueError, ModelNotFoundError, UnknownComponentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
