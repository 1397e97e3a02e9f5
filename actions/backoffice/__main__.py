"""Command line: ``python -m actions.backoffice {migrate,seed,reset} [--url URL]``,
``python -m actions.backoffice audit verify [--url URL]`` and
``python -m actions.backoffice latest-code [--url URL]`` (the code of the newest verification e-mail
in the outbox, for test conversations and demos on a demo back office).

Exit status: 0 done; 1 the command ran and found a problem (broken audit chain, data already
seeded); 2 it could not run (bad arguments, unreachable or unmigrated database).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    from .db import url_option

    common = url_option()
    dated = argparse.ArgumentParser(add_help=False)
    dated.add_argument("--today", type=_date, help="the demo's current date, YYYY-MM-DD (default: today)")

    parser = argparse.ArgumentParser(prog="python -m actions.backoffice", description="Manage the demo back-office database.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", parents=[common], help="upgrade the schema to the newest migration")
    seed = commands.add_parser("seed", parents=[common, dated], help="migrate, then fill an empty database with the demo company")
    seed.add_argument("--force", action="store_true", help="reset the database first if it already holds data")
    reset = commands.add_parser("reset", parents=[common, dated], help="drop everything, migrate and seed again")
    reset.add_argument("--empty", action="store_true", help="leave the new schema empty (no demo data)")
    commands.add_parser("latest-code", parents=[common],
                        help="print the one-time code of the newest verification e-mail in the outbox")
    audit = commands.add_parser("audit", help="audit log commands")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True, metavar="COMMAND")
    audit_commands.add_parser("verify", parents=[common], help="check the audit log's hash chain")
    return parser


def _summary(counts: dict[str, int]) -> str:
    shown = ["customers", "orders", "shipments", "invoices", "refunds", "tickets", "appointment_slots", "appointments"]
    return ", ".join(f"{counts.get(name, 0)} {name.replace('_', ' ')}" for name in shown)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    from . import db

    url = db.normalise_url(args.url)
    return db.run_command(url, lambda: _run(args, url, url.render_as_string(hide_password=True)))


def _run(args, url, where: str) -> int:
    from . import db
    from .audit import AuditLog
    from .seed import COMPANY, AlreadySeeded, reset, seed

    if args.command == "migrate":
        revision = db.migrate(url)
        print(f"{where}: schema at revision {revision} (head)")
    elif args.command == "seed":
        try:
            counts = seed(url, today=args.today)
        except AlreadySeeded:
            if not args.force:
                print(
                    f"{where} already holds data; nothing seeded. "
                    "Use `python -m actions.backoffice reset` (or seed --force) to start over.",
                    file=sys.stderr,
                )
                return 1
            counts = reset(url, today=args.today)
        print(f"{where}: seeded {COMPANY}: {_summary(counts)}")
    elif args.command == "reset":
        counts = reset(url, seed_data=not args.empty, today=args.today)
        what = "empty schema" if args.empty else f"seeded {COMPANY}: {_summary(counts)}"
        print(f"{where}: dropped all tables, migrated to revision {db.current_revision(url)}; {what}")
    elif args.command == "latest-code":
        from actions.controls.verification import latest_code_sent

        code = latest_code_sent(url)
        if code is None:
            print(f"{where}: no verification code in the outbox", file=sys.stderr)
            return 1
        print(code)
    elif args.command == "audit" and args.audit_command == "verify":
        if db.current_revision(url) is None:
            print(f"{where} has no back-office schema; run `python -m actions.backoffice migrate` first", file=sys.stderr)
            return 2
        result = AuditLog(url).verify()
        if not result.ok:
            print(
                f"audit log BROKEN at record {result.first_bad_seq}: {result.problem} "
                f"({result.checked} records checked before it)",
                file=sys.stderr,
            )
            return 1
        print(f"audit log OK: {result.checked} records verified; head {result.last_seq} {result.last_hash}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
