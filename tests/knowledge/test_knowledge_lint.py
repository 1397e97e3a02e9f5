import argparse
import re
from datetime import date

from knowledge_helpers import write_doc

from knowledge.cli import cmd_lint
from knowledge.facts import disagreement, near_duplicate, values
from knowledge.lint import lint

TODAY = date(2026, 6, 1)


def messages(problems):
    return [str(p) for p in problems]


def test_clean_help_centre_has_no_findings(help_centre):
    assert lint(help_centre, today=TODAY) == []


def test_missing_fields_and_overdue_reviews(help_centre):
    (help_centre / "no-owner.md").write_text(
        "---\nid: no-owner\ntitle: No owner\nversion: \"1\"\neffective: 2026-01-01\n"
        "review_by: 2027-01-01\nstatus: approved\n---\nSome text about tents.\n")
    write_doc(help_centre, "old.md", "Tents are sold in store.\n", owner="retail", review_by="2026-05-31")
    write_doc(help_centre, "old-draft.md", "Draft text.\n", status="draft", review_by="2020-01-01")
    write_doc(help_centre, "soon.md", "New text.\n", effective="2026-07-01")
    found = messages(lint(help_centre, today=TODAY))
    folder = str(help_centre)
    assert f"{folder}/no-owner.md:1: error: missing front-matter field 'owner'" in found
    assert f"{folder}/old.md:7: warning: review overdue since 2026-05-31 (owner: retail)" in found
    assert f"{folder}/soon.md:6: info: not in force until 2026-07-01: it is left out of the index until then" in found
    assert not any("old-draft.md" in m for m in found)  # drafts are not reviewed content


def test_duplicated_statements(help_centre):
    write_doc(help_centre, "faq.md", "# FAQ\n\n## Cookies\n\nWe remember your cookie choice for 12 months!\n", title="FAQ")
    [problem] = lint(help_centre, today=TODAY)
    assert problem.severity == "warning" and problem.path.endswith("faq.md") and problem.line == 15
    assert re.search(r"duplicated statement, also in cookies.html:\d+ \(cookies v1.1\)", problem.message)


def test_contradictory_statements(help_centre):
    write_doc(help_centre, "faq.md", """
        # FAQ

        ## Returns

        You can return items within 14 days of delivery.

        ## Refunds

        Refunds take 10 business days after your return reaches our warehouse.

        ## Cookies

        We remember your cookie choice for 6 months.

        ## Express

        Express delivery in the US costs $24.95.
        """, title="FAQ")
    found = [p for p in lint(help_centre, today=TODAY) if p.severity == "error"]
    by_line = {p.line: p.message for p in found if p.path.endswith("faq.md")}
    assert set(by_line) == {15, 19, 23, 27}
    others = {(p.path.rsplit("/", 1)[-1], p.line) for p in found if not p.path.endswith("faq.md")}
    assert others == {("refunds.md", 15), ("refunds.md", 19), ("cookies.html", 6 + 10), ("delivery.md", 19)}
    assert by_line[15].startswith("contradicts refunds.md:15 (refunds v1.2): duration 14 days here, 30 days there")
    assert "duration 10 business days here, 5 business days there" in by_line[19]
    assert "cookies.html" in by_line[23] and "6 months here, 12 months there" in by_line[23]
    assert "delivery.md" in by_line[27] and "money $24.95 here, $19.95 there" in by_line[27]


def test_yes_no_contradiction():
    assert disagreement("Gift cards can be exchanged for cash.", "Gift cards can't be exchanged for cash.").kind == "yes/no"
    assert disagreement("Gift cards can be exchanged for cash.", "Gift cards can be used online.") is None


def test_qualified_statements_do_not_contradict():
    us = "Express delivery in the US takes 1-2 business days and costs $19.95."
    assert disagreement(us, "Standard delivery in the US takes 3-5 business days and costs $6.95.") is None
    assert disagreement(us, "Express delivery to Canada, the UK and the EU takes 2-4 business days and costs $29.95.") is None
    assert disagreement("Standard delivery takes 3-5 business days in the US, 5-8 to Canada and the UK.",
                        "Standard delivery to Canada and the UK takes 5-8 business days.") is None
    assert disagreement("The cancellation fee is $0.00.", "Cancelling an order is free.") is None


def test_values_are_normalised():
    found = [(v.kind, v.unit, v.low, v.high) for v in values(
        "Standard costs $6.95, free over $75; 3-5 business days, 5-8 to Canada; sixty minutes; 8:00-18:00; "
        "2 p.m.; 10%; 2026-03-01; call +1 503 555 0142 about ORD-12345.")]
    assert found == [
        ("money", "", 6.95, 6.95), ("money", "", 0.0, 0.0), ("money", "", 75.0, 75.0),
        ("duration", "business_day", 3.0, 5.0), ("duration", "business_day", 5.0, 8.0),
        ("duration", "minute", 60.0, 60.0), ("time", "", 480, 480), ("time", "", 1080, 1080),
        ("time", "", 840, 840), ("percent", "", 10.0, 10.0), ("date", "", date(2026, 3, 1).toordinal(),
                                                              date(2026, 3, 1).toordinal()),
    ]


def test_near_duplicates():
    assert near_duplicate("We remember your cookie choice for 12 months.", "We remember your cookie choice for 12 months!")
    assert not near_duplicate("We remember your cookie choice for 12 months.", "We forget your basket after a day.")


def test_cmd_lint_prints_path_line_severity_message(help_centre, capsys):
    args = argparse.Namespace(knowledge=str(help_centre), config=None, policy=None, fail_on_warnings=False)
    assert cmd_lint(args) == 0
    write_doc(help_centre, "faq.md", "## Returns\n\nYou can return items within 14 days of delivery.\n", title="FAQ")
    assert cmd_lint(args) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2
    assert re.fullmatch(r".*/faq\.md:13: error: contradicts refunds\.md:15 \(refunds v1\.2\): "
                        r"duration 14 days here, 30 days there \(\"You can return items within 14 days of delivery\.\"\)", out[0])
    assert re.fullmatch(r".*/refunds\.md:15: error: contradicts faq\.md:13 \(faq v1\.0\): duration 30 days here, 14 days there .*", out[1])
