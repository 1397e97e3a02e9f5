"""``desk retention apply``, ``desk gdpr {export,erase}`` and ``desk export conversations``: the
conversations here, the back office through ``python -m actions.privacy`` in the project directory.

Each prints one JSON document: ``retention apply`` the counts per store; ``gdpr export`` the
back office's records of the customer and their conversations; ``gdpr erase`` what was erased
(the back office first: it refuses, and nothing is deleted, when the audit chain does not verify).
``export conversations`` writes every conversation as a JSON line, masked for ``export``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from dialogue.gdpr import erase_conversations, export_conversations, export_for_analytics
from dialogue.retention import RetentionConfig, apply_retention


def _backoffice(args, *argv: str) -> dict:
    """The JSON that ``python -m actions.privacy ARGV`` prints; ``ValueError`` with its message on failure."""
    from dialogue.cli import module_process

    url = ["--url", args.url] if args.url else []
    done = module_process("actions.privacy", [*argv, *url], args.project, capture_output=True, text=True)
    if done.returncode != 0:
        raise ValueError((done.stderr.strip().splitlines() or [f"python -m actions.privacy exited with {done.returncode}"])[-1].removeprefix("error: "))
    return json.loads(done.stdout)


def _store(args):
    from dialogue.project import _tracker_store, load_project

    project = load_project(Path(args.project))
    return project, _tracker_store(project)


def cmd_retention_apply(args) -> int:
    project, store = _store(args)
    try:
        config = RetentionConfig.from_config(project.config.get("privacy"), str(project.config_path or "config.yml"))
        here = apply_retention(store, config, dry_run=args.dry_run)
    finally:
        store.close()
    argv = ["retention", *(["--dry-run"] if args.dry_run else [])]
    for name in ("outbox", "audit"):
        if config.days[name] is not None:
            argv += [f"--{name}-days", str(config.days[name])]
    backoffice = _backoffice(args, *argv)
    print(json.dumps({"dry_run": args.dry_run, "retention_days": dict(config.days), **here,
                      **{k: v for k, v in backoffice.items() if k != "dry_run"}}))
    return 0


def cmd_gdpr(args) -> int:
    _, store = _store(args)
    try:
        if args.what == "export":
            records = _backoffice(args, "export", "--customer", args.customer)
            result = {"customer_id": args.customer, "backoffice": records,
                      "conversations": export_conversations(store, records["conversation_ids"])}
        else:
            erased = _backoffice(args, "erase", "--customer", args.customer)
            result = {**erased, "deleted": erase_conversations(store, erased["conversation_ids"])}
    finally:
        store.close()
    text = json.dumps(result, ensure_ascii=False, indent=2, default=str)
    if getattr(args, "out", None):
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        print(f"written to {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_export_conversations(args) -> int:
    project, store = _store(args)
    masker = project.privacy().masker
    try:
        if args.out:
            with open(args.out, "w", encoding="utf-8") as out:
                count = export_for_analytics(store, masker, out)
            print(f"{count} conversation(s) written to {args.out}", file=sys.stderr)
        else:
            export_for_analytics(store, masker, sys.stdout)
    finally:
        store.close()
    return 0


def add_commands(commands, backoffice_arguments) -> None:
    """Register ``retention``, ``gdpr`` and ``export`` on the ``desk`` parser's sub-commands."""
    retention = commands.add_parser("retention", help="delete what is older than its retention period (privacy.retention_days)")
    retention_kinds = retention.add_subparsers(dest="what", required=True)
    apply = retention_kinds.add_parser("apply", help="delete old conversations, handoffs, sent messages and audit records")
    apply.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    backoffice_arguments(apply)
    apply.set_defaults(handler=cmd_retention_apply)

    gdpr = commands.add_parser("gdpr", help="a customer's personal data: export or erase")
    gdpr.add_argument("what", choices=["export", "erase"], help="export everything held, or erase it")
    gdpr.add_argument("--customer", required=True, help="the customer id, e.g. CUS-00042")
    gdpr.add_argument("--out", default=None, help="write the JSON to this file instead of stdout")
    backoffice_arguments(gdpr)
    gdpr.set_defaults(handler=cmd_gdpr)

    export = commands.add_parser("export", help="export data for analytics, personal data masked (privacy.mask.export)")
    export_kinds = export.add_subparsers(dest="what", required=True)
    conversations = export_kinds.add_parser("conversations", help="every conversation as a line of tracker JSON")
    conversations.add_argument("--out", default=None, help="the JSONL file to write (default: stdout)")
    conversations.add_argument("--project", default=".", help="the project directory (default: the current one)")
    conversations.set_defaults(handler=cmd_export_conversations)
