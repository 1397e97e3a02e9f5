"""Rasa's financial-demo, unchanged, against Desk: validation, NLU training and its test stories.

Copies the project (``shared/datasets/rasa/financial-demo``) to a temporary directory, runs
``desk data validate`` and ``desk train`` there (its own ``config.yml``: the Rasa pipeline is
translated to Desk's), then runs the test stories of ``tests/test_stories.yml`` that need no
custom action (:func:`dialogue.testing.needs_custom_action`; the demo's action code is not
included, so no action server runs). Writes ``bench/results/financial_demo.json`` and prints
the counts and the failures' diffs.

    python bench/financial_demo.py
    python bench/financial_demo.py --keep      # keep the temporary project (path printed)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
DATASET = ROOT.parent / "shared" / "datasets" / "rasa" / "financial-demo"
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def desk(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "dialogue.cli", *args], cwd=cwd, capture_output=True, text=True, env=env
    )


def validate(project: Path) -> dict:
    from dialogue.cli import build_parser

    started = time.perf_counter()
    argv = ["data", "validate"]
    try:
        build_parser().parse_args(argv)
    except SystemExit:  # no `data validate` subcommand: call the validator directly
        from dialogue.validation import validate_project

        problems = validate_project(project / "domain.yml", [project / "data"])
        errors = [str(p) for p in problems if p.severity == "error"]
        warnings = [str(p) for p in problems if p.severity != "error"]
        return {"how": "validate_project()", "errors": errors, "warnings": len(warnings),
                "seconds": round(time.perf_counter() - started, 2)}
    result = desk(*argv, cwd=project)
    lines = result.stdout.splitlines()
    return {
        "how": "desk data validate",
        "exit_code": result.returncode,
        "errors": [line for line in lines if ": error: " in line],
        "warnings": sum(": warning: " in line for line in lines),
        "seconds": round(time.perf_counter() - started, 2),
    }


def train(project: Path) -> tuple[Path, dict]:
    started = time.perf_counter()
    result = desk("train", cwd=project)
    if result.returncode != 0:
        raise SystemExit(f"desk train failed:\n{result.stdout}\n{result.stderr}")
    match = re.search(r"NLU model: (\S+)", result.stdout)
    assert match, result.stdout
    return project / match.group(1), {"seconds": round(time.perf_counter() - started, 1), "model": Path(match.group(1)).name}


def run_stories(project: Path, model: Path) -> dict:
    from dialogue.project import load_project
    from dialogue.testing import arun_test_stories, custom_actions_needed, load_test_assistant, load_test_stories

    domain = load_project(project).domain
    stories = load_test_stories(project / "tests" / "test_stories.yml")
    needs = {story.name: custom_actions_needed(story, domain) for story in stories}
    runnable = [story for story in stories if not needs[story.name]]
    assistant = load_test_assistant(project, model, {})  # no action server

    async def main():
        try:
            return await arun_test_stories(assistant, runnable)
        finally:
            await assistant.aclose()

    started = time.perf_counter()
    report = asyncio.run(main())
    seconds = time.perf_counter() - started
    intents = intent_check(assistant, stories)
    code_use: dict[str, int] = {}
    for names in needs.values():
        for name in names:
            code_use[name] = code_use.get(name, 0) + 1
    return {
        "total": len(stories),
        "no_custom_action": len(runnable),
        "passed": report.num_passed,
        "failed": report.num_failed,
        "seconds": round(seconds, 2),
        "intents_of_all_stories": intents,
        "custom_code_needed_by": dict(sorted(code_use.items(), key=lambda kv: (-kv[1], kv[0]))),
        "passed_stories": [r.name for r in report.results if r.passed],
        "failures": [
            {"story": r.name, "source": r.source.replace(str(project) + "/", ""), "problems": r.problems,
             "diff": r.diff(context=1)}
            for r in report.results if not r.passed
        ],
    }


def intent_check(assistant, stories) -> dict:
    """The NLU model on every ``user:`` step with an ``intent:`` of all the test stories, those
    that need custom actions included (no conversation is run)."""
    from dialogue.story_data import UserStep

    steps = [(story.name, step) for story in stories for step in story.steps
             if isinstance(step, UserStep) and step.user is not None and step.intent is not None]
    wrong = []
    for name, step in steps:
        predicted = (assistant.parse(step.user).get("intent") or {}).get("name")
        if predicted != step.intent:
            wrong.append({"story": name, "line": step.line, "text": step.user, "expected": step.intent,
                          "predicted": predicted})
    return {"user_steps": len(steps), "correct": len(steps) - len(wrong), "wrong": wrong}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy of the project")
    args = parser.parse_args()
    if not DATASET.is_dir():
        raise SystemExit(f"{DATASET}: not found")
    workdir = Path(tempfile.mkdtemp(prefix="financial-demo-"))
    project = workdir / "financial-demo"
    shutil.copytree(DATASET, project)
    try:
        validation = validate(project)
        model, training = train(project)
        os.chdir(project)  # story sources relative to the project
        stories = run_stories(project, model)
    finally:
        os.chdir(ROOT)
        if args.keep:
            print(f"project kept in {project}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    commit = (DATASET / "COMMIT").read_text().strip() if (DATASET / "COMMIT").is_file() else None
    result = {"dataset": "RasaHQ/financial-demo", "commit": commit, "validation": validation,
              "training": training, "test_stories": stories}
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "financial_demo.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")

    print(f"validation ({validation['how']}): {len(validation['errors'])} error(s), {validation['warnings']} warning(s)")
    for error in validation["errors"]:
        print(f"  {error}")
    print(f"training: {training['seconds']} s")
    print(f"test stories: {stories['total']} in all, {stories['no_custom_action']} need no custom action, "
          f"{stories['passed']} of those pass")
    intents = stories["intents_of_all_stories"]
    print(f"intents of all {stories['total']} stories' user messages: {intents['correct']} of {intents['user_steps']} right")
    for wrong in intents["wrong"]:
        print(f"  tests/test_stories.yml:{wrong['line']}: {wrong['text']!r}: {wrong['expected']} expected, "
              f"{wrong['predicted']} predicted")
    for failure in stories["failures"]:
        print(f"\nFAILED: {failure['story']} ({failure['source']})")
        for problem in failure["problems"]:
            print(f"  {problem}")
        print(failure["diff"])
    print(f"\nwritten to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
