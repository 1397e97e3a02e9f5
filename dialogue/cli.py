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

from knowledge import cli as knowledge_cli

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

    if args.what == "guard":
        return cmd_train_guard(args)

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


def cmd_train_guard(args) -> int:
    from dialogue.guardrails.injection_model import train_guard

    path, trained = train_guard(args.data, args.out, force=args.force)
    print(f"{'Trained' if trained else 'Nothing changed; reusing'} prompt-injection model: {path}")
    return 0


def _guard_threshold(args) -> float:
    """``--threshold``, else ``guardrails.injection.threshold`` of ./config.yml."""
    from dialogue.guardrails.config import GuardrailsConfig
    from dialogue.project import load_config_file

    if args.threshold is not None:
        if not 0 < args.threshold <= 1:
            raise ValueError("--threshold must be above 0 and at most 1")
        return args.threshold
    return GuardrailsConfig.from_config(load_config_file("config.yml").get("guardrails")).injection.threshold


def cmd_test_guard(args) -> int:
    from dialogue.guardrails.evaluation import cross_validate, evaluate, print_summary, write_report
    from dialogue.guardrails.injection import InjectionScreen
    from dialogue.guardrails.injection_model import DEFAULT_DATA, load_guard, read_labelled

    rows = [row for path in args.data for row in read_labelled(path)]
    threshold = _guard_threshold(args)
    if args.cross_validation:
        report = cross_validate(rows, args.folds, threshold, base_rows=read_labelled(DEFAULT_DATA))
    else:
        report = evaluate(InjectionScreen(load_guard(args.model), threshold), rows)
    print_summary(report)
    print(f"Report written to {write_report(report, args.out)}")
    return 0


def cmd_test_stories(args) -> int:
    from dialogue.testing import run_project_stories

    return run_project_stories(
        args.project,
        stories=args.stories,
        model=args.model,
        endpoints=args.endpoints,
        actions_port=args.actions_port,
        out=args.out,
        fail_fast=args.fail_on_prediction_errors,
    )


def _open_assistant(args, stack):
    """The project's assistant, with its action server started (stopped when ``stack`` closes)."""
    from dialogue.project import load_assistant, load_endpoints
    from dialogue.server import plan_action_server

    project = Path(args.project).resolve()
    if not project.is_dir():
        raise ValueError(f"{args.project}: no such project directory")
    endpoints = load_endpoints(Path(args.endpoints) if args.endpoints else project / "endpoints.yml")
    action_server, action_url = plan_action_server(project, endpoints, args.actions_port)
    if action_server is not None:
        print(f"Starting the action server (python -m rasa_sdk --actions actions --port {action_server.port}) ...")
        stack.callback(action_server.stop)
        action_server.launch()
    elif action_url:
        print(f"Using the action server at {action_url}")
    if args.model is None and not any((project / "models").glob("nlu-*.tar.gz")):
        print(f"No trained model in {project / 'models'}; training one first.")
    assistant = load_assistant(project, Path(args.model) if args.model else None, endpoints, action_url)
    if action_server is not None:
        action_server.wait_ready()
    return project, assistant


def cmd_run(args) -> int:
    import contextlib

    import dataclasses

    from dialogue.auth import ENV_JWT_SECRET, ENV_TOKEN, AuthSettings
    from dialogue.project import load_project
    from dialogue.guardrails.rate_limit import build_rate_limiter
    from dialogue.server import ServerSettings, build_app, load_credentials, serve

    if args.max_message_chars is not None and args.max_message_chars < 1:
        raise ValueError("--max-message-chars must be at least 1")
    auth = AuthSettings.from_env(args.auth_token, args.jwt_secret, args.jwt_method)
    with contextlib.ExitStack() as stack:
        project, assistant = _open_assistant(args, stack)
        credentials = load_credentials(Path(args.credentials) if args.credentials else project / "credentials.yml")
        guardrails = load_project(project, endpoints={}).guardrails()
        limits = guardrails.limits
        if args.max_message_chars is not None:
            limits = dataclasses.replace(limits, max_chars=args.max_message_chars)
        settings = ServerSettings(auth=auth, credentials=credentials, limits=limits,
                                  rate_limiter=build_rate_limiter(guardrails.rate_limit))
        app = build_app(assistant, settings)
        base = f"http://{args.host}:{args.port}"
        print(f"Serving {project.name} on {base}: web chat {base}/, REST {base}/webhooks/rest/webhook, "
              f"socket.io {base}/socket.io, websocket {base.replace('http', 'ws', 1)}/websocket")
        if not auth.configured:
            print(f"The conversation endpoints and /status need authentication: set --auth-token (or {ENV_TOKEN}) "
                  f"or --jwt-secret (or {ENV_JWT_SECRET}) to use them.")
        sys.stdout.flush()
        serve(app, host=args.host, port=args.port)
    return 0


def cmd_shell(args) -> int:
    import contextlib

    from dialogue import shell

    with contextlib.ExitStack() as stack:
        _, assistant = _open_assistant(args, stack)
        return shell.run(assistant, args.sender)


def cmd_data_validate(args) -> int:
    from dialogue.validation import validate_project

    problems = validate_project(args.domain, args.data)
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors or (args.fail_on_warnings and warnings) else 0


def module_process(module: str, argv: list[str], project: str, **options):
    """``python -m MODULE ARGV...`` in the project directory (``options`` go to ``subprocess.run``).
    The action code is run in a process of its own, never imported here."""
    import subprocess

    directory = Path(project)
    if not directory.is_dir():
        raise ValueError(f"{project}: no such project directory")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(directory.resolve()), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", module, *argv], cwd=directory, env=env, **options)


def _run_module(module: str, argv: list[str], project: str) -> int:
    return module_process(module, argv, project).returncode


def _url(args) -> list[str]:
    return ["--url", args.url] if args.url else []


def cmd_backoffice(args) -> int:
    argv = [args.what, *_url(args)]
    if getattr(args, "today", None):
        argv += ["--today", args.today]
    if getattr(args, "force", False):
        argv.append("--force")
    if getattr(args, "empty", False):
        argv.append("--empty")
    return _run_module("actions.backoffice", argv, args.project)


def cmd_audit_verify(args) -> int:
    return _run_module("actions.backoffice", ["audit", "verify", *_url(args)], args.project)


def cmd_approvals(args) -> int:
    if args.what == "list":
        argv = ["list", "--status", args.status, *_url(args)]
    else:
        if not args.request_id or not args.agent:
            raise ValueError(f"desk approvals {args.what} needs a request id and --agent NAME")
        argv = [args.what, args.request_id, "--agent", args.agent, *_url(args)]
        if args.reason is not None:
            argv += ["--reason", args.reason]
    return _run_module("actions.approvals", argv, args.project)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="desk", description="Desk: customer-service assistants.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train models")
    train.add_argument("what", nargs="?", choices=["nlu", "guard"], default="nlu",
                       help="what to train: the NLU (default) or the prompt-injection classifier (guard)")
    train.add_argument("--nlu", default=DEFAULT_DATA, help="training data file or directory (default: data)")
    train.add_argument("--config", default=_default_config(), help="config file (default: ./config.yml if present, else the default pipeline)")
    train.add_argument("--out", default=DEFAULT_MODELS, help="where models are written (default: models)")
    train.add_argument("--force", action="store_true", help="train even if an identical model exists")
    train.add_argument("--data", action="append", default=[], metavar="FILE",
                       help='guard: labelled JSONL ({"text", "label": 1 attack / 0 ordinary}) added to the shipped examples; repeatable')
    train.set_defaults(handler=cmd_train)

    parse = commands.add_parser("parse", help="parse messages with a trained NLU model")
    parse.add_argument("text", nargs="*", help="messages (default: one per line on stdin)")
    parse.add_argument("--model", default=DEFAULT_MODELS, help="model file or directory (default: models)")
    parse.set_defaults(handler=cmd_parse)

    def story_test_arguments(command: argparse.ArgumentParser) -> None:
        command.add_argument("--stories", default=None, help="test stories file or directory (default: the project's tests/, files named test_*.yml)")
        command.add_argument("--model", default=None, help="NLU model file (default: the newest in the project's models/, trained when there is none)")
        command.add_argument("--project", default=".", help="the project directory (default: the current one)")
        command.add_argument("--endpoints", default=None, help="endpoints file (default: the project's endpoints.yml)")
        command.add_argument("--actions-port", type=int, default=5055, help="port of the action server started when endpoints.yml names none (default: 5055)")
        command.add_argument("--out", default=DEFAULT_RESULTS, help="where results are written (default: results)")
        command.add_argument("--fail-on-prediction-errors", action="store_true", help="stop at the first failed story")
        command.set_defaults(handler=cmd_test_stories)

    test = commands.add_parser("test", help="test the assistant: test stories end to end (default), or NLU")
    story_test_arguments(test)
    test_kinds = test.add_subparsers(dest="what", required=False)
    story_test_arguments(test_kinds.add_parser("stories", help="run test stories through the assistant (as `desk test`)"))
    test_nlu = test_kinds.add_parser("nlu", help="evaluate intent classification and entity extraction")
    test_nlu.add_argument("--model", default=DEFAULT_MODELS, help="model file or directory (newest model)")
    test_nlu.add_argument("--nlu", required=True, help="labelled test data file or directory")
    test_nlu.add_argument("--out", default=DEFAULT_RESULTS, help="where results are written (default: results)")
    test_nlu.add_argument("--cross-validation", action="store_true", help="train and test on K folds of --nlu")
    test_nlu.add_argument("--folds", type=int, default=5, help="number of folds (default: 5)")
    test_nlu.add_argument("--config", default=_default_config(), help="config for cross-validation training")
    test_nlu.set_defaults(handler=cmd_test_nlu)
    test_guard = test_kinds.add_parser("guard", help="recall and false alarms of the prompt-injection screen")
    test_guard.add_argument("--data", action="append", required=True, metavar="FILE",
                            help='labelled JSONL, {"text", "label": 1 attack / 0 ordinary} a line; repeatable')
    test_guard.add_argument("--model", default=DEFAULT_MODELS, help="guard model file or directory (newest guard-*.tar.gz)")
    test_guard.add_argument("--out", default=DEFAULT_RESULTS, help="where guard_report.json is written (default: results)")
    test_guard.add_argument("--cross-validation", action="store_true",
                            help="train and test on K folds of --data (each fold's model also learns the shipped examples)")
    test_guard.add_argument("--folds", type=int, default=5, help="number of folds (default: 5)")
    test_guard.add_argument("--threshold", type=float, default=None,
                            help="classifier score that flags a message (default: guardrails.injection.threshold of config.yml, 0.5)")
    test_guard.set_defaults(handler=cmd_test_guard)
    test_knowledge = test_kinds.add_parser("knowledge", help="retrieval and answer quality on labelled questions")
    knowledge_cli.add_test_arguments(test_knowledge)
    test_knowledge.set_defaults(handler=knowledge_cli.cmd_test_knowledge)

    index = commands.add_parser("index", help="build the help-centre search index (FAISS + BM25)")
    knowledge_cli.add_index_arguments(index)
    index.set_defaults(handler=knowledge_cli.cmd_index)

    knowledge = commands.add_parser("knowledge", help="check help-centre content")
    knowledge_kinds = knowledge.add_subparsers(dest="what", required=True)
    lint = knowledge_kinds.add_parser("lint", help="missing fields, overdue reviews, duplicated or contradictory statements")
    knowledge_cli.add_lint_arguments(lint)
    lint.set_defaults(handler=knowledge_cli.cmd_lint)

    def project_arguments(command: argparse.ArgumentParser) -> None:
        command.add_argument("--project", default=".", help="the project directory (default: the current one)")
        command.add_argument("--model", default=None, help="NLU model file (default: the newest in the project's models/, trained when there is none)")
        command.add_argument("--endpoints", default=None, help="endpoints file (default: the project's endpoints.yml)")
        command.add_argument("--actions-port", type=int, default=5055, help="port of the action server started when endpoints.yml names none (default: 5055)")

    run = commands.add_parser("run", help="serve the assistant: channels and HTTP API (trains a model first if none)")
    project_arguments(run)
    run.add_argument("--credentials", default=None, help="channel settings (default: the project's credentials.yml)")
    run.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    run.add_argument("--port", type=int, default=5005, help="port to listen on (default: 5005)")
    run.add_argument("--auth-token", default=None, help="token the HTTP API accepts as ?token=... (default: $DESK_AUTH_TOKEN)")
    run.add_argument("--jwt-secret", default=None, help="secret (or public key) verifying 'Authorization: Bearer <JWT>' (default: $DESK_JWT_SECRET)")
    run.add_argument("--jwt-method", default=None, help="JWT algorithm (default: $DESK_JWT_METHOD or HS256)")
    run.add_argument("--max-message-chars", type=int, default=None, help="longest user message accepted (default: guardrails.max_message_chars of config.yml, 5000)")
    run.set_defaults(handler=cmd_run)

    shell = commands.add_parser("shell", help="chat with the assistant in the terminal")
    project_arguments(shell)
    shell.add_argument("--sender", default=None, help="conversation id (default: a new random one)")
    shell.set_defaults(handler=cmd_shell)

    data = commands.add_parser("data", help="check training data")
    data_kinds = data.add_subparsers(dest="what", required=True)
    validate = data_kinds.add_parser("validate", help="cross-check the domain, NLU data, stories and rules")
    validate.add_argument("--domain", default="domain.yml", help="domain file or directory (default: domain.yml)")
    validate.add_argument("--data", nargs="+", default=[DEFAULT_DATA], help="data files or directories (default: data)")
    validate.add_argument("--fail-on-warnings", action="store_true", help="exit 1 on warnings too")
    validate.set_defaults(handler=cmd_data_validate)

    def backoffice_arguments(command: argparse.ArgumentParser) -> None:
        command.add_argument("--url", default=None, help="back-office database URL (default: $DESK_BACKOFFICE_URL or sqlite:///backoffice.db)")
        command.add_argument("--project", default=".", help="the project directory with the action code (default: the current one)")

    backoffice = commands.add_parser("backoffice", help="manage the back-office database (python -m actions.backoffice)")
    backoffice_kinds = backoffice.add_subparsers(dest="what", required=True)
    backoffice_arguments(backoffice_kinds.add_parser("migrate", help="upgrade the schema to the newest migration"))
    for name, text in (("seed", "migrate, then fill an empty database with the demo company"),
                       ("reset", "drop everything, migrate and seed again")):
        sub = backoffice_kinds.add_parser(name, help=text)
        backoffice_arguments(sub)
        sub.add_argument("--today", default=None, help="the demo's current date, YYYY-MM-DD (default: today)")
        if name == "seed":
            sub.add_argument("--force", action="store_true", help="reset the database first if it already holds data")
        else:
            sub.add_argument("--empty", action="store_true", help="leave the new schema empty (no demo data)")
    backoffice.set_defaults(handler=cmd_backoffice)

    audit = commands.add_parser("audit", help="the back office's audit log")
    audit_kinds = audit.add_subparsers(dest="what", required=True)
    verify = audit_kinds.add_parser("verify", help="check the audit log's hash chain")
    backoffice_arguments(verify)
    verify.set_defaults(handler=cmd_audit_verify)

    approvals = commands.add_parser("approvals", help="requests held for a person's approval (python -m actions.approvals)")
    approvals.add_argument("what", choices=["list", "approve", "reject"], help="what to do")
    approvals.add_argument("request_id", nargs="?", metavar="ID", help="the request, e.g. APR-00001 (approve, reject)")
    approvals.add_argument("--agent", default=None, help="who decides (approve, reject)")
    approvals.add_argument("--reason", default=None, help="why (required to reject; sent to the customer)")
    approvals.add_argument("--status", default="pending", choices=["pending", "approved", "rejected", "executed", "all"],
                           help="which requests to list (default: pending)")
    backoffice_arguments(approvals)
    approvals.set_defaults(handler=cmd_approvals)

    from dialogue.privacy_commands import add_commands as add_privacy_commands

    add_privacy_commands(commands, backoffice_arguments)
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
