"""Help-centre documents: front matter, policy placeholders, and sections by heading.

A document is a Markdown (``.md``), HTML (``.html``) or plain-text (``.txt``) file that starts
with YAML front matter between ``---`` lines::

    ---
    id: refund-policy
    title: Refund policy
    owner: customer-care
    version: "1.2"
    effective: 2026-01-15
    review_by: 2027-01-15
    status: approved        # or draft: never indexed
    tags: [returns, refunds] # optional
    ---

Policy values are never typed into documents: ``{{ policy.refund_window_days }}`` is replaced
with the value from the policy file that the tools read too (``$DESK_POLICY_FILE``, else the
first ``policy.yml`` found from the documents' directory upwards). Whole numbers are written as
they are, other numbers with two decimals (``{{ policy.cancellation_fee }}`` -> ``0.00``);
nested keys are dotted (``{{ policy.verification.code_ttl_minutes }}``). A placeholder the policy
file does not define is an error.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from .text import sentences

REQUIRED = ("id", "title", "owner", "version", "effective", "review_by", "status")
STATUSES = ("draft", "approved")
FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".txt": "text"}
POLICY_ENV = "DESK_POLICY_FILE"
_PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")


class KnowledgeError(Exception):
    """Documents that cannot be used; ``problems`` says where and why."""

    def __init__(self, problems: list["Problem"]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Problem:
    path: str
    line: int
    severity: str  # error, warning or info
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"


@dataclass
class Sentence:
    text: str
    line: int
    item: bool = False  # a list item or table row


@dataclass
class Section:
    headings: tuple[str, ...]  # the document title, then each heading down to this section
    line: int
    paragraphs: list[list[Sentence]] = field(default_factory=list)


@dataclass
class Document:
    path: Path
    rel_path: str
    meta: dict[str, Any]
    field_lines: dict[str, int]
    sections: list[Section]

    id = property(lambda self: str(self.meta.get("id", "")))
    title = property(lambda self: str(self.meta.get("title", "")))
    owner = property(lambda self: str(self.meta.get("owner", "")))
    version = property(lambda self: str(self.meta.get("version", "")))
    status = property(lambda self: str(self.meta.get("status", "")))
    tags = property(lambda self: list(self.meta.get("tags") or []))

    @property
    def effective(self) -> date | None:
        return _date(self.meta.get("effective"))

    @property
    def review_by(self) -> date | None:
        return _date(self.meta.get("review_by"))

    def sentences(self) -> list[Sentence]:
        return [s for section in self.sections for paragraph in section.paragraphs for s in paragraph]


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


# Policy file --------------------------------------------------------------------------------


def find_policy_file(start: Path | None = None) -> Path | None:
    """``$DESK_POLICY_FILE``, else the first ``policy.yml`` in ``start`` or above it."""
    if os.environ.get(POLICY_ENV):
        return Path(os.environ[POLICY_ENV])
    for folder in [start.resolve(), *start.resolve().parents] if start else []:
        if (folder / "policy.yml").is_file():
            return folder / "policy.yml"
    return None


def load_policy(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise KnowledgeError([Problem(str(path), 1, "error", f"cannot read the policy file: {exc}")]) from None
    if not isinstance(data, dict):
        raise KnowledgeError([Problem(str(path), 1, "error", "the policy file must be a mapping")])
    return data


def _render_value(value: Any) -> str | None:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, str):
        return value
    return None


def fill_placeholders(text: str, policy: dict[str, Any], rel_path: str, first_line: int = 1) -> tuple[str, list[Problem]]:
    """Replace ``{{ policy.name }}`` placeholders; a problem for each one that cannot be filled."""
    problems: list[Problem] = []

    def replace(match: re.Match) -> str:
        line = first_line + text.count("\n", 0, match.start())
        expression = match.group(1)
        if not expression.startswith("policy."):
            problems.append(Problem(rel_path, line, "error", f"unknown placeholder {{{{ {expression} }}}} (only policy.<name>)"))
            return match.group(0)
        value: Any = policy
        for part in expression[len("policy."):].split("."):
            value = value.get(part) if isinstance(value, dict) else None
        rendered = _render_value(value)
        if rendered is None:
            why = "the policy file has no value" if policy else f"no policy file was found (set ${POLICY_ENV})"
            problems.append(Problem(rel_path, line, "error", f"{why} for {{{{ {expression} }}}}"))
            return match.group(0)
        return rendered

    return _PLACEHOLDER.sub(replace, text), problems


# Reading ------------------------------------------------------------------------------------


def read_document(path: Path, policy: dict[str, Any], root: Path | None = None) -> tuple[Document | None, list[Problem]]:
    """Parse one file; ``None`` (and problems) when it has no usable front matter."""
    rel_path = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Problem(rel_path, 1, "error", f"cannot read the file: {exc}")]
    lines = raw.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, [Problem(rel_path, 1, "error", "no front matter (the file must start with a '---' line)")]
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        return None, [Problem(rel_path, 1, "error", "the front matter is not closed with a '---' line")]
    front = "\n".join(lines[1:end])
    try:
        meta = yaml.load(front, Loader=yaml.BaseLoader) or {}  # every value a string
        node = yaml.compose(front, Loader=yaml.BaseLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark else 1
        return None, [Problem(rel_path, line, "error", f"front matter is not valid YAML: {getattr(exc, 'problem', exc)}")]
    if not isinstance(meta, dict):
        return None, [Problem(rel_path, 2, "error", "front matter must be a mapping")]
    # Each key's line, however it is written (quoted, in a flow mapping, as `? key`).
    field_lines: dict[str, int] = {}
    for key, _ in node.value if isinstance(node, yaml.MappingNode) else []:
        if isinstance(key, yaml.ScalarNode):
            field_lines.setdefault(key.value, key.start_mark.line + 2)
    problems = _check_meta(meta, field_lines, rel_path)
    body, placeholder_problems = fill_placeholders("\n".join(lines[end + 1 :]), policy, rel_path, end + 2)
    problems += placeholder_problems
    title = str(meta.get("title") or path.stem)
    kind = FORMATS.get(path.suffix.lower(), "text")
    sections = (_html if kind == "html" else _markdown)(body.split("\n"), end + 2, title)
    if not any(s.paragraphs for s in sections):
        problems.append(Problem(rel_path, end + 2, "warning", "the document has no text"))
    return Document(path, rel_path, meta, field_lines, sections), problems


def _check_meta(meta: dict, field_lines: dict[str, int], rel_path: str) -> list[Problem]:
    problems = []
    for name in REQUIRED:
        if not str(meta.get(name) or "").strip():
            problems.append(Problem(rel_path, field_lines.get(name, 1), "error", f"missing front-matter field '{name}'"))
    for name in ("effective", "review_by"):
        if str(meta.get(name) or "").strip() and _date(meta[name]) is None:
            problems.append(Problem(rel_path, field_lines[name], "error", f"'{name}' must be a date (YYYY-MM-DD), not {meta[name]!r}"))
    status = str(meta.get("status") or "")
    if status and status not in STATUSES:
        problems.append(Problem(rel_path, field_lines["status"], "error", f"'status' must be draft or approved, not {status!r}"))
    tags = meta.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(isinstance(t, str) for t in tags)):
        problems.append(Problem(rel_path, field_lines.get("tags", 1), "error", "'tags' must be a list of words"))
    return problems


def load_documents(directory: Path, policy: dict[str, Any] | None = None, policy_file: Path | None = None
                   ) -> tuple[list[Document], list[Problem]]:
    """Every document under ``directory`` (drafts included) and the problems found reading them.

    ``policy`` (a mapping) or ``policy_file`` fill the placeholders; by default the policy file
    is found with :func:`find_policy_file`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise KnowledgeError([Problem(str(directory), 1, "error", "no such directory")])
    if policy is None:
        policy = load_policy(policy_file or find_policy_file(directory))
    documents, problems = [], []
    seen: dict[tuple[str, bool], str] = {}  # a draft may share the id of the approved version it replaces
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in FORMATS):
        if any(part.startswith(".") for part in path.relative_to(directory).parts):
            continue
        document, found = read_document(path, policy, directory)
        problems += found
        if document is None:
            continue
        key = (document.id, document.status == "approved")
        if document.id and key in seen:
            problems.append(Problem(document.rel_path, document.field_lines.get("id", 1), "error",
                                    f"document id '{document.id}' is already used by {seen[key]}"))
            continue
        seen[key] = document.rel_path
        documents.append(document)
    return documents, problems


# Markdown and plain text ------------------------------------------------------------------

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SETEXT = re.compile(r"^\s*(=+|-+)\s*$")
_RULE = re.compile(r"^\s*([-*_])(\s*\1){2,}\s*$")  # a horizontal rule
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def clean_inline(text: str) -> str:
    """Markdown inline markup and HTML tags removed, entities decoded, spaces collapsed."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"\1", text)
    text = re.sub(r"(?<!\w)_(?!\s)(.+?)(?<!\s)_(?!\w)", r"\1", text)
    text = re.sub(r"`([^`]*)`", r"\1", text)
    return re.sub(r"\s+", " ", html.unescape(text)).strip()


def _paragraph(parts: list[tuple[int, str]], item: bool = False) -> list[Sentence]:
    """Sentences of a paragraph made of ``(line, text)`` parts, each with the line it starts on."""
    text, starts = "", []
    for line, part in parts:
        part = clean_inline(part)
        if part:
            starts.append((len(text) + (1 if text else 0), line))
            text = f"{text} {part}" if text else part
    out = []
    for offset, sentence in sentences(text):
        line = max((ln for start, ln in starts if start <= offset), default=starts[0][1] if starts else 0)
        out.append(Sentence(sentence, line, item))
    return out


class _Sections:
    """Collects sections while a document is read top to bottom."""

    def __init__(self, title: str, line: int):
        self.title = title
        self.stack: list[tuple[int, str]] = []
        self.sections = [Section((title,), line)]

    def heading(self, level: int, text: str, line: int) -> None:
        text = clean_inline(text)
        if level == 1 and text.lower() == self.title.lower() and not self.stack:
            return  # the title repeated as the first heading
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))
        self.sections.append(Section((self.title, *(h for _, h in self.stack)), line))

    def add(self, paragraph: list[Sentence]) -> None:
        if paragraph:
            self.sections[-1].paragraphs.append(paragraph)


def _table_row(cells: list[str], header: list[str] | None) -> str:
    cells = [clean_inline(c) for c in cells]
    if header and len(header) == len(cells):
        first, rest = cells[0], [f"{h}: {c}" for h, c in zip(header[1:], cells[1:]) if c]
        return f"{header[0]} {first}: " + "; ".join(rest) + "." if rest else first
    return "; ".join(c for c in cells if c)


def _markdown(lines: list[str], first_line: int, title: str) -> list[Section]:
    out = _Sections(title, first_line)
    buffer: list[tuple[int, str]] = []
    item = False
    fence = None
    header: list[str] | None = None

    def flush():
        nonlocal buffer, item
        out.add(_paragraph(buffer, item))
        buffer, item = [], False

    for index, raw in enumerate(lines):
        number = first_line + index
        fenced = _FENCE.match(raw)
        if fence:
            if fenced and fenced.group(1) == fence:
                fence = None
                flush()
            else:
                buffer.append((number, raw))
            continue
        if fenced:
            flush()
            fence = fenced.group(1)
            continue
        line = re.sub(r"^\s*>\s?", "", raw)
        heading = _HEADING.match(line)
        if buffer and not item and _SETEXT.match(line):  # a "Title\n=====" heading
            out.heading(1 if "=" in line else 2, " ".join(t for _, t in buffer), buffer[0][0])
            buffer = []
        elif heading:
            flush()
            header = None
            out.heading(len(heading.group(1)), heading.group(2), number)
        elif not line.strip() or _RULE.match(line):
            flush()
            header = None
        elif line.lstrip().startswith("|"):
            flush()
            if _TABLE_RULE.match(line):
                continue
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None and index + 1 < len(lines) and _TABLE_RULE.match(lines[index + 1]):
                header = [clean_inline(c) for c in cells]
                continue
            out.add(_paragraph([(number, _table_row(cells, header))], True))
        elif _ITEM.match(line):
            flush()
            buffer, item = [(number, _ITEM.match(line).group(1))], True
        else:
            buffer.append((number, line.strip()))
    flush()
    return out.sections


# HTML -------------------------------------------------------------------------------------

_BLOCKS = {"p", "li", "dt", "dd", "blockquote", "pre", "div", "section", "article", "td", "th", "tr", "caption"}
_SKIP = {"script", "style", "head", "nav", "footer", "template", "noscript"}


class _HTMLReader(HTMLParser):
    def __init__(self, first_line: int, title: str):
        super().__init__(convert_charrefs=True)
        self.out = _Sections(title, first_line)
        self.first_line = first_line
        self.parts: list[tuple[int, str]] = []
        self.heading_level = 0
        self.skipping = 0
        self.in_item = False
        self.row: list[str] | None = None
        self.header: list[str] | None = None
        self.cell: list[str] | None = None
        self.row_is_header = True

    def line(self) -> int:
        return self.first_line + self.getpos()[0] - 1

    def flush(self) -> None:
        text = "".join(t for _, t in self.parts)
        if text.strip():
            if self.heading_level:
                self.out.heading(self.heading_level, text, self.parts[0][0])
            else:
                self.out.add(_paragraph([(ln, t) for ln, t in self.parts if t.strip()], self.in_item))
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skipping += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self.flush()
            self.heading_level = int(tag[1])
        elif tag == "tr":
            self.flush()
            self.row, self.row_is_header = [], True
        elif tag in ("td", "th") and self.row is not None:
            self.cell = []
            self.row_is_header &= tag == "th"
        elif tag in _BLOCKS:
            self.flush()
            self.in_item = tag in ("li", "dd", "dt")
        elif tag == "br":
            self.handle_data(" ")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif re.fullmatch(r"h[1-6]", tag):
            self.flush()
            self.heading_level = 0
        elif tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row.append("".join(self.cell))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            if self.row_is_header:
                self.header = [clean_inline(c) for c in self.row]
            elif self.row:
                self.out.add(_paragraph([(self.line(), _table_row(self.row, self.header))], True))
            self.row = None
        elif tag == "table":
            self.header = None
        elif tag in _BLOCKS:
            self.flush()
            self.in_item = False

    def handle_data(self, data):
        if self.skipping:
            return
        if self.cell is not None:
            self.cell.append(data)
        elif data.strip() or self.parts:
            line = self.line()
            for offset, part in enumerate(data.split("\n")):
                self.parts.append((line + offset, part + " "))


def _html(lines: list[str], first_line: int, title: str) -> list[Section]:
    reader = _HTMLReader(first_line, title)
    reader.feed("\n".join(lines))
    reader.close()
    reader.flush()
    return reader.out.sections
