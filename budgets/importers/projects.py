"""Investment projects exported by the development and reform commission's project
system (政府投资项目管理系统) as JSON: parse to dataclasses with (file, record, code,
field, reason) issues; budgets.services.projects_import stores them."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass(frozen=True)
class ProjectIssue:
    """One rejected record: where, which project code, which field, and why."""

    file: str
    record: int  # 1-based position in "projects"
    code: str
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}#{self.record} {self.code or '?'}: {self.field}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "record": self.record, "code": self.code,
                "field": self.field, "reason": self.reason}


@dataclass(frozen=True)
class AnnualPlanRecord:
    year: int
    amount: Decimal
    fund_source: str  # the name as the feed spells it, e.g. 一般公共预算


@dataclass(frozen=True)
class ProjectRecord:
    record: int
    code: str
    name: str
    owner_unit_code: str
    total_investment: Decimal
    annual_plans: tuple[AnnualPlanRecord, ...]
    industry: str = ""
    stage: str = ""
    approval_no: str = ""
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    status: str = ""
    change_note: str = ""


class _Bad(Exception):  # noqa: N818 - internal: one field of one record is unusable
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field, self.reason = field, reason


def _money(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _Bad(name, f"{value!r} is not an amount (expected a string like \"123.45\")")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise _Bad(name, f"{value!r} is not a number") from None
    if not amount.is_finite():
        raise _Bad(name, f"{value!r} is not a number")
    if amount != amount.quantize(Decimal("0.01")):
        raise _Bad(name, f"{value} has more than 2 decimal places")
    if amount < 0:
        raise _Bad(name, f"{value} is negative")
    return amount.quantize(Decimal("0.01"))


def _date(value: Any, name: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise _Bad(name, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _text(raw: dict, name: str, required: bool = False) -> str:
    value = raw.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _Bad(name, f"{value!r} is not text")
    if required and not value.strip():
        raise _Bad(name, "is missing")
    return value.strip()


def _record(n: int, raw: Any) -> ProjectRecord:
    if not isinstance(raw, dict):
        raise _Bad("-", "record is not an object")
    plans = raw.get("annual_plan", [])
    if not isinstance(plans, list):
        raise _Bad("annual_plan", "is not a list")
    parsed = []
    for i, p in enumerate(plans, start=1):
        if not isinstance(p, dict) or not isinstance(p.get("year"), int):
            raise _Bad(f"annual_plan[{i}].year", f"{p!r} has no integer year")
        parsed.append(AnnualPlanRecord(p["year"], _money(p.get("amount"), f"annual_plan[{i}].amount"),
                                       _text(p, "fund_source", required=True)))
    if len({(p.year, p.fund_source) for p in parsed}) != len(parsed):
        raise _Bad("annual_plan", "the same year and fund source appear twice")
    start, end = _date(raw.get("start_date"), "start_date"), _date(raw.get("end_date"), "end_date")
    if start and end and end < start:
        raise _Bad("end_date", f"{end} is before start_date {start}")
    return ProjectRecord(
        record=n, code=_text(raw, "project_code", required=True), name=_text(raw, "name", True),
        owner_unit_code=_text(raw, "owner_unit_code", required=True),
        total_investment=_money(raw.get("approved_total_investment"), "approved_total_investment"),
        annual_plans=tuple(parsed), industry=_text(raw, "industry"), stage=_text(raw, "stage"),
        approval_no=_text(raw, "approval_no"), start_date=start, end_date=end,
        status=_text(raw, "status"), change_note=_text(raw, "change_note"),
    )


def parse_projects(content: bytes, filename: str) -> tuple[list[ProjectRecord], list[ProjectIssue]]:
    """Every good record and an issue for each bad one (a whole-file problem is record 0)."""
    try:
        data = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [], [ProjectIssue(filename, 0, "", "-", f"not a JSON file: {exc}")]
    if not isinstance(data, dict) or not isinstance(data.get("projects"), list):
        return [], [ProjectIssue(filename, 0, "", "projects", "no \"projects\" list")]
    records, issues, seen = [], [], set()
    for n, raw in enumerate(data["projects"], start=1):
        code = raw.get("project_code", "") if isinstance(raw, dict) else ""
        code = code if isinstance(code, str) else str(code)
        try:
            rec = _record(n, raw)
        except _Bad as bad:
            issues.append(ProjectIssue(filename, n, code, bad.field, bad.reason))
            continue
        if rec.code in seen:
            issues.append(ProjectIssue(filename, n, code, "project_code", "appears twice in the file"))
            continue
        seen.add(rec.code)
        records.append(rec)
    return records, issues
