"""The Excel filing template (填报模板) of a unit's budget plan: generate it with the
unit's library projects and drop-down code lists, and read a filled one back with
errors named by cell (`Plan!C12: economic code 30299x does not exist`)."""
from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.datavalidation import DataValidation

from budgets import errors
from budgets.models import BudgetPlan, Project
from budgets.validation import PlanLineInput, Problem, leaf_codes

SHEET = "Plan"
CODES = "Codes"
META = "Meta"
MARK = "smart-finance budget plan template v1"
FIRST_ROW = 3
MAX_INFLATED = 50 * 1024 * 1024  # a filled template inflates to well under 1 MB
ROWS = 500  # rows offered with drop-downs
COLUMNS = {"project": "A", "function": "B", "economic": "C", "fund_source": "D",
           "amount": "E", "last_year_amount": "F"}
HEADERS = ["project code 项目编码", "function code 功能分类", "economic code 经济分类",
           "fund source 资金性质", "amount 金额", "last year 上年数", "project name 项目名称"]


def plan_template_build(*, plan: BudgetPlan) -> bytes:
    """A workbook with the plan's current lines, drop-downs for project, function,
    economic and fund source codes (from a hidden code sheet), and the unit and year
    in a hidden sheet so the file cannot be read into another plan."""
    unit = plan.unit
    projects = list(Project.objects.filter(unit=unit, status=Project.Status.IN_LIBRARY)
                    .order_by("code").values_list("code", "name"))
    lists = {"project": [c for c, _ in projects], "function": leaf_codes("function"),
             "economic": leaf_codes("economic"), "fund_source": leaf_codes("fund_source")}
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["A1"] = f"{unit.code} {unit.name} — {plan.year} budget plan 预算编制表"
    ws["A1"].font = Font(bold=True)
    for col, text in enumerate(HEADERS, start=1):
        ws.cell(row=2, column=col, value=text).font = Font(bold=True)
    names = dict(projects)
    lines = plan.lines.select_related("project", "function", "economic", "fund_source").order_by("id")
    for row, line in enumerate(lines, start=FIRST_ROW):
        values = [line.project.code, line.function.code, line.economic.code,
                  line.fund_source.code, line.amount, line.last_year_amount,
                  names.get(line.project.code, line.project.name)]
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row=row, column=col, value=value)
            cell.number_format = "#,##0.00" if isinstance(value, Decimal) else "@"
    for col, width in zip("ABCDEFG", (28, 14, 14, 12, 16, 16, 40), strict=True):
        ws.column_dimensions[col].width = width

    codes = wb.create_sheet(CODES)
    for col, (kind, values) in enumerate(lists.items(), start=1):
        codes.cell(row=1, column=col, value=kind)
        for r, value in enumerate(values, start=2):
            codes.cell(row=r, column=col, value=value).number_format = "@"
        letter = "ABCD"[col - 1]
        last = max(len(values) + 1, 2)
        dv = DataValidation(type="list", formula1=f"={CODES}!${letter}$2:${letter}${last}",
                            allow_blank=True, showErrorMessage=True,
                            error=f"choose a {kind.replace('_', ' ')} code from the list")
        ws.add_data_validation(dv)
        dv.add(f"{COLUMNS[kind]}{FIRST_ROW}:{COLUMNS[kind]}{FIRST_ROW + ROWS}")
    amounts = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0",
                             allow_blank=True, showErrorMessage=True,
                             error="amounts are numbers ≥ 0 with at most 2 decimals")
    ws.add_data_validation(amounts)
    amounts.add(f"E{FIRST_ROW}:F{FIRST_ROW + ROWS}")
    codes.sheet_state = "hidden"

    meta = wb.create_sheet(META)
    for r, (key, value) in enumerate((("template", MARK), ("unit", unit.code),
                                      ("year", str(plan.year))), start=1):
        meta.cell(row=r, column=1, value=key)
        meta.cell(row=r, column=2, value=value).number_format = "@"
    meta.sheet_state = "veryHidden"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@dataclass
class TemplateRead:
    lines: list[PlanLineInput]
    rows: list[int]  # the sheet row of each line

    def where(self, index: int) -> str:
        return f"{SHEET}!A{self.rows[index]}"

    def problems_error(self, problems: list[Problem]) -> errors.TemplateInvalid:
        return errors.TemplateInvalid([
            f"{SHEET}!{COLUMNS[p.field]}{self.rows[p.index]}: {p.reason}" for p in problems
        ])


def _code(value: Any) -> str:
    """Codes are text; a spreadsheet may have turned 30201 into a number."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def plan_template_read(*, plan: BudgetPlan, content: bytes) -> TemplateRead:
    """The lines of a filled template; refuses a file of another unit or year."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
        if inflated > MAX_INFLATED:  # a zip bomb: refuse before openpyxl inflates it
            raise errors.TemplateUnreadable(
                reason=f"the file inflates to {inflated:,} bytes, too large (limit {MAX_INFLATED:,})")
        wb = load_workbook(io.BytesIO(content), data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, OSError,
            ValueError, TypeError, EOFError, zlib.error, ElementTree.ParseError,
            NotImplementedError, RuntimeError) as exc:
        # NotImplementedError / RuntimeError: zipfile on an unsupported compression method
        # or zip version, patched data, or an encrypted member (found by atheris, issue 9)
        raise errors.TemplateUnreadable(reason=str(exc) or type(exc).__name__) from None
    if SHEET not in wb.sheetnames or META not in wb.sheetnames:
        raise errors.TemplateUnreadable(reason=f"sheets {SHEET} and {META} are required")
    meta = {str(r[0]): _code(r[1]) for r in wb[META].iter_rows(min_row=1, max_col=2, values_only=True)
            if r[0] is not None}
    if meta.get("template") != MARK:
        raise errors.TemplateUnreadable(reason="the template marker is missing")
    if (meta.get("unit"), meta.get("year")) != (plan.unit.code, str(plan.year)):
        raise errors.TemplateOtherPlan(template_unit=meta.get("unit"), template_year=meta.get("year"),
                                       unit=plan.unit.code, year=plan.year)
    lines, rows = [], []
    ws = wb[SHEET]
    for row_no, row in enumerate(ws.iter_rows(min_row=FIRST_ROW, max_col=6, values_only=True),
                                 start=FIRST_ROW):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in row):
            continue
        project, function, economic, fund, amount, last = row
        lines.append(PlanLineInput(project=_code(project), function=_code(function),
                                   economic=_code(economic), fund_source=_code(fund),
                                   amount=amount, last_year_amount=last))
        rows.append(row_no)
    return TemplateRead(lines, rows)


