"""``desk knowledge lint``: checks the help-centre documents before they are indexed.

Reported as ``path:line: severity: message``:

- error: unreadable files, missing or malformed front-matter fields, duplicate document ids,
  policy placeholders the policy file does not define;
- error: contradictory statements: two approved documents saying different things (amounts,
  durations, dates, times, percentages, yes/no) about the same subject (see ``facts``), reported
  in both documents;
- warning: overdue reviews (``review_by`` before today) of approved documents;
- warning: duplicated statements: near-identical sentences in two approved documents (one place
  should say it; the other can link to it);
- info: approved documents not in force yet (``effective`` after today).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from .documents import Document, Problem, load_documents, load_policy, find_policy_file
from .facts import Clause, clash, clauses, near_duplicate

SEVERITIES = ("error", "warning", "info")


def lint(knowledge_dir: str | Path, today: date | None = None, policy: dict | None = None,
         policy_file: str | Path | None = None) -> list[Problem]:
    """Every finding for the documents under ``knowledge_dir``, paths as ``knowledge_dir/...``."""
    knowledge_dir = Path(knowledge_dir)
    today = today or date.today()
    if policy is None:
        policy = load_policy(Path(policy_file) if policy_file else find_policy_file(knowledge_dir))
    documents, problems = load_documents(knowledge_dir, policy)
    approved = [d for d in documents if d.status == "approved"]
    for document in approved:
        review_by, effective = document.review_by, document.effective
        if review_by and review_by < today:
            problems.append(Problem(document.rel_path, document.field_lines.get("review_by", 1), "warning",
                                    f"review overdue since {review_by} (owner: {document.owner or 'none'})"))
        if effective and effective > today:
            problems.append(Problem(document.rel_path, document.field_lines.get("effective", 1), "info",
                                    f"not in force until {effective}: it is left out of the index until then"))
    problems += statement_problems(approved)
    problems = [Problem(str(knowledge_dir / p.path), p.line, p.severity, p.message) for p in problems]
    return sorted(set(problems), key=lambda p: (p.path, p.line, SEVERITIES.index(p.severity), p.message))


def statement_problems(documents: list[Document]) -> list[Problem]:
    """Duplicated and contradictory statements between different documents."""
    statements: list[tuple[Document, int, str, list[Clause]]] = []
    for document in documents:
        for sentence in document.sentences():
            statements.append((document, sentence.line, sentence.text, clauses(sentence.text)))
    # pairs worth comparing share at least two content words
    by_word: dict[str, set[int]] = {}
    words = [set().union(*(c.subject for c in found)) if found else set() for _, _, _, found in statements]
    for i in range(len(statements)):
        for word in words[i]:
            if not word.startswith("val"):
                by_word.setdefault(word, set()).add(i)
    problems: list[Problem] = []
    for i, (doc_a, line_a, text_a, clauses_a) in enumerate(statements):
        counts: dict[int, int] = {}
        for word in words[i]:
            for j in by_word.get(word, ()):
                if j > i:
                    counts[j] = counts.get(j, 0) + 1
        for j in sorted(j for j, n in counts.items() if n >= 2):
            doc_b, line_b, text_b, clauses_b = statements[j]
            if doc_b is doc_a:
                continue
            where = f"{doc_a.rel_path}:{line_a} ({doc_a.id} v{doc_a.version})"
            if near_duplicate(text_a, text_b):
                problems.append(Problem(doc_b.rel_path, line_b, "warning",
                                        f"duplicated statement, also in {where}: \"{_short(text_b)}\""))
                continue
            found = next((c for ca in clauses_a for cb in clauses_b if (c := clash(ca, cb))), None)
            if found:  # reported in both documents, for both owners
                there = f"{doc_b.rel_path}:{line_b} ({doc_b.id} v{doc_b.version})"
                for doc, line, text, other, here_value, there_value in (
                        (doc_b, line_b, text_b, where, found.second, found.first),
                        (doc_a, line_a, text_a, there, found.first, found.second)):
                    said = ("denies what the other affirms" if found.kind == "yes/no"
                            else f"{found.kind} {here_value} here, {there_value} there")
                    problems.append(Problem(doc.rel_path, line, "error",
                                            f"contradicts {other}: {said} (\"{_short(text)}\")"))
    return problems


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"
