"""Command line for the requests the assistant holds for a person's approval.

    python -m actions.approvals list [--status pending|approved|rejected|executed|all] [--url URL]
    python -m actions.approvals approve APR-00001 --agent NAME [--reason TEXT] [--url URL]
    python -m actions.approvals reject APR-00001 --agent NAME --reason TEXT [--url URL]

Approving carries out the held action (once, however often it is run) and e-mails the outcome to
the customer through the outbox; rejecting tells the customer too. ``--url`` defaults to
``$DESK_BACKOFFICE_URL`` (see :mod:`actions.backoffice.db`).

Exit status: 0 done; 1 the request could not be decided or carried out (unknown, already decided
the other way, a business rule stands in the way); 2 bad arguments or no usable database.
"""

from __future__ import annotations

import argparse
import sys


def build_parser() -> argparse.ArgumentParser:
    from actions.backoffice.db import url_option

    common = url_option()
    parser = argparse.ArgumentParser(prog="python -m actions.approvals", description="Decide held tool calls.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    listing = commands.add_parser("list", parents=[common], help="show requests (pending by default)")
    listing.add_argument("--status", default="pending", choices=["pending", "approved", "rejected", "executed", "all"])
    for verb in ("approve", "reject"):
        sub = commands.add_parser(verb, parents=[common], help=f"{verb} a request")
        sub.add_argument("request_id", metavar="ID", help="the request, e.g. APR-00001")
        sub.add_argument("--agent", required=True, help="who decides (recorded with the decision)")
        sub.add_argument("--reason", required=verb == "reject", help="why (sent to the customer on rejection)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    from actions.backoffice import db

    url = db.normalise_url(args.url)
    return db.run_command(url, lambda: _run(args, url.render_as_string(hide_password=False)))


def _run(args, url: str) -> int:
    from actions.backoffice.interfaces import BackofficeError
    from actions.controls import approvals
    from actions.runtime import build

    runtime = build(url)
    if args.command == "list":
        requests = approvals.list_requests(None if args.status == "all" else args.status, db=runtime)
        if not requests:
            print(f"no {'' if args.status == 'all' else args.status + ' '}requests")
        for r in requests:
            decided = f"  {r.decided_by} {r.decided_at:%Y-%m-%d %H:%M}" if r.decided_by else ""
            print(f"{r.id}  {r.status:<9} {r.requested_at:%Y-%m-%d %H:%M}  {r.customer_id}  {r.summary()}{decided}")
        return 0
    try:
        decision = approvals.decide(args.request_id, args.command == "approve", args.agent, args.reason, db=runtime)
    except BackofficeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(decision.message)
    return 0 if (decision.executed or args.command == "reject") else 1


if __name__ == "__main__":
    sys.exit(main())
