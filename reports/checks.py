"""Cross-table checks of a disclosure set, run before publishing (and blocking it):
totals tie across tables, 类/款/项 rows equal the sum of their children, columns add up,
and the "三公" figures agree with the basic-expenditure economic lines."""
from __future__ import annotations

from dataclasses import dataclass

from finance.models import fen_to_decimal
from reports.tables import SANGONG, Figure, Table


@dataclass(frozen=True)
class CheckFailure:
    check: str
    where: str
    expected: int  # fen
    actual: int  # fen

    def __str__(self) -> str:
        return (f"{self.check} at {self.where}: expected {fen_to_decimal(self.expected)}, "
                f"found {fen_to_decimal(self.actual)}")


def tables_check(tables: list[Table]) -> list[CheckFailure]:
    """Every failure found in a set of tables (empty list: the set may be published)."""
    out: list[CheckFailure] = []
    for t in tables:
        out += _tree(t) + _columns(t) + _sums(t)
    by = {t.code: t for t in tables}
    out += _ties(by)
    return out


def _tree(t: Table) -> list[CheckFailure]:
    if not t.tree:
        return []
    out = []
    amount_cols = [c.key for c in t.columns if c.amount]
    rows = [r for r in t.rows if not r.total]
    total = next((r for r in t.rows if r.total), None)
    # a row's parent is the nearest row above it with a lower level (rows are sorted by code)
    children: dict[str, list] = {"total": []}
    stack: list = []
    for r in rows:
        while stack and (stack[-1].level >= r.level
                         or not str(r.cells["code"]).startswith(str(stack[-1].cells["code"]))):
            stack.pop()
        children.setdefault(stack[-1].key if stack else "total", []).append(r)
        stack.append(r)
    for key, kids in children.items():
        parent = total if key == "total" else next(r for r in rows if r.key == key)
        if parent is None:
            continue
        where = f"{t.code} 合计" if key == "total" else f"{t.code} {parent.cells['code']}"
        for c in amount_cols:
            expected = sum(_fen(k, c) for k in kids)
            if _fen(parent, c) != expected:
                out.append(CheckFailure("类/款/项 sum", f"{where} [{c}]", expected,
                                        _fen(parent, c)))
    return out


def _fen(row: object, column: str) -> int:
    cell = row.cells.get(column)  # type: ignore[attr-defined]
    return cell.fen if isinstance(cell, Figure) else 0


def _columns(t: Table) -> list[CheckFailure]:
    out = []
    for row in t.rows:
        for total, parts in t.col_sums:
            expected = sum(sign * _fen(row, c) for sign, c in parts)
            if _fen(row, total) != expected:
                out.append(CheckFailure("column sum", f"{t.code} {row.key} [{total}]",
                                        expected, _fen(row, total)))
    return out


def _sums(t: Table) -> list[CheckFailure]:
    out = []
    for total, items in t.sum_checks:
        expected = sum(t.value(i) for i in items)
        if t.value(total) != expected:
            out.append(CheckFailure("total row", f"{t.code} {total}", expected, t.value(total)))
    return out


def _ties(by: dict[str, Table]) -> list[CheckFailure]:
    """(left, right) pairs that must be equal: (table, row or name, column or None)."""
    pairs: list[tuple[tuple[str, str, str | None], tuple[str, str, str | None]]] = []
    if "B1" in by:
        pairs += [(("B1", "income_total", None), ("B1", "expense_total", None)),
                  (("B1", "expense_total", None), ("B3", "total", "total")),
                  (("B1", "income_total", None), ("B2", "total", "total"))]
        pairs += [(("B1", f"fund{f}", None), ("B2", "total", f"fund{f}")) for f in "12345"]
        pairs += [(("B4", "income_total", None), ("B4", "expense_total", None)),
                  (("B4", "fund1", None), ("B5", "total", "total")),
                  (("B4", "fund2", None), ("B8", "total", "total")),
                  (("B6", "total", "total"), ("B5", "total", "basic"))]
        pairs += _sangong_pairs("B7", "B6")
    if "F1" in by:
        pairs += [(("F1", "income_grand_total", None), ("F1", "expense_grand_total", None)),
                  (("F1", "income_year_total", None), ("F2", "total", "total")),
                  (("F1", "rev_grant", None), ("F2", "total", "grant")),
                  (("F1", "expense_year_total", None), ("F3", "total", "total")),
                  (("F4", "income_grand_total", None), ("F4", "expense_grand_total", None)),
                  (("F4", "expense_f1", None), ("F5", "total", "total")),
                  (("F4", "expense_f2", None), ("F8", "total", "exp_total")),
                  (("F4", "expense_f3", None), ("F9", "total", "exp_total")),
                  (("F4", "income_f2", None), ("F8", "total", "revenue")),
                  (("F4", "income_f3", None), ("F9", "total", "revenue")),
                  (("F6", "total", "total"), ("F5", "total", "basic"))]
        pairs += _sangong_pairs("F7", "F6")
    out = []
    for left, right in pairs:
        if left[0] not in by or right[0] not in by:
            continue
        a, b = _get(by, left), _get(by, right)
        if a != b:
            out.append(CheckFailure("tables tie", f"{_label(left)} = {_label(right)}", b, a))
    return out


def _sangong_pairs(sangong: str, basic: str) -> list:
    return [((sangong, "total", key), (basic, f"economic:{code}", "total"))
            for key, code in SANGONG.items()]


def _get(by: dict[str, Table], ref: tuple[str, str, str | None]) -> int:
    table, row, column = ref
    return by[table].value(row) if column is None else by[table].fen(row, column)


def _label(ref: tuple[str, str, str | None]) -> str:
    return f"{ref[0]}.{ref[1]}" + (f"[{ref[2]}]" if ref[2] else "")
