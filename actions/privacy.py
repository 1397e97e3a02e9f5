"""Command line for the back office's data-protection operations (:mod:`actions.backoffice.privacy`).

    python -m actions.privacy retention [--outbox-days N] [--audit-days N] [--dry-run] [--url URL]
    python -m actions.privacy export --customer CUS-00042 [--url URL]
    python -m actions.privacy erase --customer CUS-00042 [--url URL]

Each prints one JSON document on stdout (``desk retention apply`` and ``desk gdpr`` read it).
Erasing masks the personal data left in free texts with the ``audit`` types of the ``privacy:``
section of ``config.yml`` in the working directory.

Exit status: 0 done; 1 no such customer, or the audit chain does not verify (nothing erased);
2 bad arguments or no usable database.
"""

from __future__ import annotations

import argparse
import json
import sys


def build_parser() -> argparse.ArgumentParser:
    from actions.backoffice.db import url_option

    common = url_option()
    parser = argparse.ArgumentParser(prog="python -m actions.privacy", description="Retention, export and erasure of personal data.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    retention = commands.add_parser("retention", parents=[common], help="delete old sent messages and audit records")
    retention.add_argument("--outbox-days", type=float, default=None, help="keep sent outbox messages this long (default: forever)")
    retention.add_argument("--audit-days", type=float, default=None, help="keep audit records this long (default: forever)")
    retention.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    for name, text in (("export", "everything held about the customer, as JSON"),
                       ("erase", "erase the customer's personal data; audit records keep a pseudonym")):
        commands.add_parser(name, parents=[common], help=text).add_argument("--customer", required=True, help="customer id, e.g. CUS-00042")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    from actions.backoffice import db

    url = db.normalise_url(args.url)
    return db.run_command(url, lambda: _run(args, url, url.render_as_string(hide_password=True)))


def _run(args, url, where: str) -> int:
    from actions.backoffice import db, privacy

    if db.current_revision(url) != db.head_revision():
        print(f"{where} is not at the newest schema; run `python -m actions.backoffice migrate` first", file=sys.stderr)
        return 2
    sessions = db.session_factory(url)
    if args.command == "retention":
        counts = privacy.apply_retention(sessions, outbox_days=args.outbox_days, audit_days=args.audit_days,
                                         dry_run=args.dry_run)
        print(json.dumps({"dry_run": args.dry_run, **counts}))
        return 0
    if args.command == "export":
        found = privacy.export_customer(sessions, args.customer)
    else:
        try:
            found = privacy.erase_customer(sessions, args.customer, privacy.personal_data_masker())
        except privacy.ChainBroken as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if found is None:
        print(f"error: {where}: no customer {args.customer}", file=sys.stderr)
        return 1
    print(json.dumps(found, ensure_ascii=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
