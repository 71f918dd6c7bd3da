"""Classification code lists and the accounting chart from CSV (the formats of
shared/samples/classification): parse to rows with issues first, then one service stores."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import models, transaction

from finance.models import (
    Account,
    Book,
    EconomicCode,
    FunctionCode,
    FundSource,
    GovEconomicCode,
    Region,
    RevenueCode,
    Side,
)

LEVEL_DIGITS = {"类": 3, "款": 5, "项": 7, "目": 9}
TRUE = {"1", "true", "yes", "y", "是"}
FALSE = {"", "0", "false", "no", "n", "否"}


@dataclass(frozen=True)
class ImportIssue:
    """One rejected row (or file): where, which field, and why."""

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.reason}"


@dataclass
class CodeFile:
    """One code list: which file, which model, which columns."""

    filename: str
    model: type[models.Model]
    required: tuple[str, ...]
    kind: str  # "tree" (类/款/项), "flat", "region", "account"


FILES: list[CodeFile] = [
    CodeFile("regions.csv", Region, ("code", "name", "level", "parent"), "region"),
    CodeFile("fund_sources.csv", FundSource, ("code", "name"), "flat"),
    CodeFile("revenue_codes.csv", RevenueCode, ("code", "name", "level", "parent"), "tree"),
    CodeFile("function_codes.csv", FunctionCode, ("code", "name", "level", "parent"), "tree"),
    CodeFile("economic_codes_government.csv", GovEconomicCode,
             ("code", "name", "level", "parent"), "tree"),
    CodeFile("economic_codes_department.csv", EconomicCode,
             ("code", "name", "level", "parent", "government_code"), "tree"),
    CodeFile("accounts.csv", Account, ("code", "name", "book", "category", "normal_side"), "account"),
]


@dataclass
class FileReport:
    filename: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    skipped: bool = False


@dataclass
class CodesImportReport:
    files: list[FileReport] = field(default_factory=list)
    issues: list[ImportIssue] = field(default_factory=list)

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs; UTF-8 (with or without BOM) or GB18030."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("gb18030")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        row = {h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)}
        if len(values) > len(header):
            row["__extra__"] = ",".join(values[len(header):])
        rows.append((reader.line_num, row))
    return header, rows


def _parse_rows(spec: CodeFile, rows: list[tuple[int, dict[str, str]]],
                existing: set[str], gov_codes: set[str]) -> tuple[list[tuple[int, dict[str, Any]]],
                                                                   list[ImportIssue], set[str]]:
    """Validate rows; returns the good ones as field dicts, the issues, and every code
    the file mentions (good or bad), which must not be retired."""
    good: list[tuple[int, dict[str, Any]]] = []
    issues: list[ImportIssue] = []
    mentioned: set[str] = set()
    seen: set[str] = set()
    # parents before children, whatever the file order
    ordered = sorted(rows, key=lambda r: (len(r[1].get("code", "")), r[0]))
    valid_codes = set(existing)

    def bad(line: int, fld: str, reason: str) -> None:
        issues.append(ImportIssue(spec.filename, line, fld, reason))

    for line, row in ordered:
        code = row.get("code", "")
        if code:
            mentioned.add(code)
        if "__extra__" in row:
            bad(line, "-", f"more values than columns: {row['__extra__']!r}")
            continue
        if not code or not code.isdigit():
            bad(line, "code", f"code {code!r} must be digits")
            continue
        if code in seen:
            bad(line, "code", f"code {code} appears twice in the file")
            continue
        seen.add(code)
        name = row.get("name", "")
        if not name:
            bad(line, "name", f"code {code} has no name")
            continue
        values: dict[str, Any] = {"name": name}
        if spec.kind in ("tree", "region"):
            level, parent = row.get("level", ""), row.get("parent", "")
            if spec.kind == "tree":
                if level not in LEVEL_DIGITS:
                    bad(line, "level", f"level {level!r} is not one of 类/款/项/目")
                    continue
                if len(code) != LEVEL_DIGITS[level]:
                    bad(line, "code", f"code {code} has {len(code)} digits; level {level} "
                                      f"needs {LEVEL_DIGITS[level]}")
                    continue
                top = level == "类"
            else:
                if level not in Region.Level.values:
                    bad(line, "level", f"level {level!r} is not one of {Region.Level.values}")
                    continue
                if len(code) != 6:
                    bad(line, "code", f"region code {code} must have 6 digits")
                    continue
                top = level == Region.Level.CITY
            if top and parent:
                bad(line, "parent", f"top-level code {code} cannot have parent {parent}")
                continue
            if not top:
                if not parent:
                    bad(line, "parent", f"code {code} needs a parent")
                    continue
                if spec.kind == "tree" and not code.startswith(parent):
                    bad(line, "parent", f"parent {parent} is not a prefix of {code}")
                    continue
                if parent not in valid_codes:
                    bad(line, "parent", f"parent {parent} does not exist")
                    continue
            values["level"] = level
            values["parent_code"] = parent
        if spec.model is EconomicCode:
            gov = row.get("government_code", "")
            if gov and gov not in gov_codes:
                bad(line, "government_code", f"government economic code {gov} does not exist")
                continue
            values["government_code"] = gov
        if spec.kind == "account":
            book, side = row.get("book", ""), row.get("normal_side", "")
            if book not in Book.values:
                bad(line, "book", f"book {book!r} is not one of {Book.values}")
                continue
            if side not in Side.values:
                bad(line, "normal_side", f"normal side {side!r} is not debit or credit")
                continue
            if not row.get("category"):
                bad(line, "category", f"account {code} has no category")
                continue
            flag = row.get("must_not_go_negative", "").lower()
            if flag not in TRUE | FALSE:
                bad(line, "must_not_go_negative", f"{flag!r} is not yes/no")
                continue
            values.update(book=book, normal_side=side, category=row["category"],
                          must_not_go_negative=flag in TRUE, level="")
            parent = row.get("parent", "")
            if parent and parent not in valid_codes:
                bad(line, "parent", f"parent {parent} does not exist")
                continue
            values["parent_code"] = parent
        valid_codes.add(code)
        good.append((line, {"code": code, **values}))
    return good, issues, mentioned


@transaction.atomic
def _store_file(spec: CodeFile, good: list[tuple[int, dict[str, Any]]], mentioned: set[str],
                user: Any, reason: str, report: FileReport) -> None:
    from finance.services import save_with_history

    model = spec.model
    by_code = {o.code: o for o in model.objects.all()}  # type: ignore[attr-defined]
    gov = {o.code: o for o in GovEconomicCode.objects.all()} if model is EconomicCode else {}
    for line, values in good:
        values = dict(values)
        parent_code = values.pop("parent_code", "")
        gov_code = values.pop("government_code", None)
        obj = by_code.get(values["code"])
        target = dict(values, active=True)
        target["parent_id"] = by_code[parent_code].pk if parent_code else None
        if gov_code is not None:
            target["government_id"] = gov[gov_code].pk if gov_code else None
        if obj is not None and all(getattr(obj, k) == v for k, v in target.items()):
            report.unchanged += 1
            continue
        is_new = obj is None
        obj = obj or model()
        for k, v in target.items():
            setattr(obj, k, v)
        save_with_history(obj, user=user, reason=f"{reason} ({spec.filename}:{line})")
        by_code[obj.code] = obj
        if is_new:
            report.created += 1
        else:
            report.updated += 1
    # Codes no longer in the catalogue are retired, never deleted (they may be in use).
    for code, obj in sorted(by_code.items(), key=lambda kv: -len(kv[0])):
        if code not in mentioned and obj.active:
            obj.active = False
            save_with_history(obj, user=user, reason=f"{reason} ({spec.filename}: no longer listed)")
            report.retired += 1


def codes_import(*, directory: Path, user: Any = None, reason: str = "import_codes") -> CodesImportReport:
    """Load every known code list found in `directory`. Idempotent: unchanged rows are
    not written (no history). A bad row is reported with file, line and reason and the
    rest of the file still loads."""
    report = CodesImportReport()
    for spec in FILES:
        path = Path(directory) / spec.filename
        fr = FileReport(spec.filename)
        report.files.append(fr)
        if not path.exists():
            fr.skipped = True
            continue
        try:
            header, rows = read_csv(path)
        except (UnicodeDecodeError, csv.Error) as exc:
            report.issues.append(ImportIssue(spec.filename, 1, "-", f"unreadable file: {exc}"))
            fr.skipped = True
            continue
        missing = [c for c in spec.required if c not in header]
        if missing:
            report.issues.append(ImportIssue(spec.filename, 1, ",".join(missing),
                                             f"header lacks column(s) {', '.join(missing)}"))
            fr.skipped = True
            continue
        existing = set(spec.model.objects.filter(active=True).values_list("code", flat=True))  # type: ignore[attr-defined]
        gov_codes = set(GovEconomicCode.objects.filter(active=True).values_list("code", flat=True))
        good, issues, mentioned = _parse_rows(spec, rows, existing, gov_codes)
        report.issues.extend(sorted(issues, key=lambda i: i.line))
        _store_file(spec, good, mentioned, user, reason, fr)
    return report
