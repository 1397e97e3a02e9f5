"""Command-line entry points of the knowledge base.

For the ``desk`` command: ``cmd_index``, ``cmd_lint`` and ``cmd_test_knowledge`` take parsed
arguments (``add_index_arguments`` and friends add them to a parser) and return an exit code:
0 success, 1 findings or failed checks, 2 unusable input (a message per problem, as
``path:line: severity: message``). ``python -m knowledge {index,lint,test}`` runs them alone.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .documents import KnowledgeError

USAGE_ERROR = 2


def _default_config() -> str | None:
    return "config.yml" if Path("config.yml").is_file() else None


def _settings(args) -> dict:
    from .settings import load_settings

    return load_settings(getattr(args, "config", None) or _default_config())


def _fail(problems) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    return USAGE_ERROR


def add_index_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--knowledge", default=None, help="help-centre documents (default: data/knowledge)")
    parser.add_argument("--out", default=None, help="where the index is written (default: models/knowledge)")
    parser.add_argument("--kind", choices=["flat", "hnsw", "ivf"], default=None,
                        help="exact (flat) or approximate (hnsw, ivf) search (default: config.yml knowledge.index, else flat)")
    parser.add_argument("--config", default=None, help="config file with a knowledge: section (default: ./config.yml)")
    parser.add_argument("--policy", default=None, help="policy file for {{ policy.* }} placeholders "
                        "(default: $DESK_POLICY_FILE, else the nearest policy.yml above the documents)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def add_lint_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--knowledge", default=None, help="help-centre documents (default: data/knowledge)")
    parser.add_argument("--config", default=None, help="config file with a knowledge: section (default: ./config.yml)")
    parser.add_argument("--policy", default=None, help="policy file (default: as for `desk index`)")
    parser.add_argument("--fail-on-warnings", action="store_true", help="exit 1 on warnings too")


def add_test_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--questions", required=True, help="JSON Lines: question plus doc_id, or unanswerable: true")
    parser.add_argument("--index", default=None, help="the index directory (default: models/knowledge)")
    parser.add_argument("--out", default="results", help="where knowledge_report.json is written (default: results)")
    parser.add_argument("--config", default=None, help="config file with a knowledge: section (default: ./config.yml)")
    parser.add_argument("--endpoints", default=None, help="endpoints file whose llm: section is used (default: none, extractive answers)")


def cmd_index(args) -> int:
    """``desk index``: build (or update) the knowledge index."""
    from .index import build_index

    try:
        settings = _settings(args)
        knowledge = getattr(args, "knowledge", None) or settings["documents"]
        out = getattr(args, "out", None) or settings["index_dir"]
        kind = getattr(args, "kind", None) or settings["index"]
        report = build_index(knowledge, out, kind, progress=not getattr(args, "quiet", False),
                             policy_file=getattr(args, "policy", None), hnsw=settings["hnsw"], ivf=settings["ivf"])
    except KnowledgeError as exc:
        return _fail(exc.problems)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    for problem in report.problems:
        print(problem, file=sys.stderr)
    print(f"Indexed {len(report.documents)} documents, {report.chunks} chunks ({report.embedded} embedded, "
          f"{report.reused} unchanged) into {report.out_dir} [{report.kind}] in {report.seconds:.1f} s")
    for item in report.skipped:
        print(f"  left out {item['path']} ({item['id']}): {item['reason']}")
    return 0


def cmd_lint(args) -> int:
    """``desk knowledge lint``: check the documents; exit 1 on errors (or warnings, when asked)."""
    from .lint import lint

    try:
        knowledge = getattr(args, "knowledge", None) or _settings(args)["documents"]
        problems = lint(knowledge, policy_file=getattr(args, "policy", None))
    except KnowledgeError as exc:
        return _fail(exc.problems)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    for problem in problems:
        print(problem)
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)
    print(f"{errors} error(s), {warnings} warning(s)", file=sys.stderr)
    return 1 if errors or (warnings and getattr(args, "fail_on_warnings", False)) else 0


def cmd_test_knowledge(args) -> int:
    """``desk test knowledge``: evaluate retrieval and answers, write knowledge_report.json."""
    from .answer import KnowledgeAnswerer, LLMConfig
    from .evaluate import QuestionsError, evaluate, print_table, read_questions, write_report
    from .index import KnowledgeIndex
    from .settings import search_settings

    try:
        settings = _settings(args)
        questions = read_questions(args.questions)
        index = KnowledgeIndex(getattr(args, "index", None) or settings["index_dir"], **search_settings(settings))
        endpoints = getattr(args, "endpoints", None)
        answerer = KnowledgeAnswerer(index, retrieval=settings["retrieval"],
                                     llm=LLMConfig.from_endpoints(endpoints) if endpoints else None)
    except KnowledgeError as exc:
        return _fail(exc.problems)
    except (QuestionsError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    metrics, results = evaluate(questions, answerer)
    report = write_report(metrics, results, getattr(args, "out", None) or "results")
    print_table(metrics, results)
    print(f"Wrote {report}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m knowledge", description="Help-centre knowledge base")
    commands = parser.add_subparsers(dest="command", required=True)
    add_index_arguments(commands.add_parser("index", help="build the knowledge index"))
    add_lint_arguments(commands.add_parser("lint", help="check the help-centre documents"))
    add_test_arguments(commands.add_parser("test", help="evaluate retrieval and answers on labelled questions"))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = {"index": cmd_index, "lint": cmd_lint, "test": cmd_test_knowledge}[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        return 130
