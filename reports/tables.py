"""Report tables built from ledger facts: the final-account statements (决算) of a unit,
a department or a region (the city consolidating its districts), and the eight budget
and nine final-account disclosure tables of a department (预决算公开), in the layout the
public expects (Chinese headers, merged header cells, 万元 with two decimals, totals).

Amounts are integer fen inside (exact); `to_wan` rounds only for display. Every amount
cell is a `Figure` with a trace reference (reports.trace)."""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

from finance import chart
from finance.measures import COMBINED, PERSONNEL_ECONOMIC, PREFIX, SANGONG, value_matcher
from reports.selectors import (
    EXECUTION_MEASURES,
    ExecutionReport,
    Figure,
    MasterData,
    Scope,
    ledger_facts,
    scope_filter,
    scope_units,
)

WAN = Decimal(1_000_000)  # fen per 万元
CENT = Decimal("0.01")
PERSONNEL = PERSONNEL_ECONOMIC  # 人员经费: 工资福利支出, 对个人和家庭的补助
FUND_NAMES = {"1": "一般公共预算", "2": "政府性基金预算", "3": "国有资本经营预算",
              "4": "财政专户管理资金", "5": "单位资金"}


def to_wan(fen: int) -> Decimal:
    """Fen to 万元 with two decimals (ROUND_HALF_UP), for display only."""
    return (Decimal(fen) / WAN).quantize(CENT, rounding=ROUND_HALF_UP)


# ------------------------------------------------------------------ structure
@dataclass(frozen=True)
class Column:
    key: str
    label: str
    amount: bool = True


@dataclass
class Row:
    key: str
    cells: dict[str, str | Figure]
    level: int = 0
    total: bool = False


@dataclass
class Table:
    code: str
    title: str
    columns: list[Column]
    header: list[list[tuple[str, int, int]]]  # rows of (text, colspan, rowspan)
    rows: list[Row]
    subtitle: str = ""
    unit_label: str = "单位：万元"
    in_wan: bool = True  # False: amounts shown in 元 (execution report)
    tree: str = ""  # "function"/"economic": rows form a 类/款/项 code tree
    col_sums: list[tuple[str, list[tuple[int, str]]]] = field(default_factory=list)
    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    sum_checks: list[tuple[str, list[str]]] = field(default_factory=list)

    def display(self, fen: int) -> Decimal:
        return to_wan(fen) if self.in_wan else (Decimal(fen) / 100).quantize(CENT)

    def row(self, key: str) -> Row | None:
        index = {r.key: r for r in self.rows}  # rows may be edited between calls
        return index.get(key)

    def fen(self, row_key: str, col_key: str) -> int:
        row = self.row(row_key)
        cell = row.cells.get(col_key) if row else None
        return cell.fen if isinstance(cell, Figure) else 0

    def value(self, name: str) -> int:
        return self.fen(*self.names[name])

    def figures(self) -> Iterator[tuple[Row, Column, Figure]]:
        for row in self.rows:
            for col in self.columns:
                cell = row.cells.get(col.key)
                if isinstance(cell, Figure):
                    yield row, col, cell


# ------------------------------------------------------------------ fact sets
_DIMS = ("account", "function", "economic", "fund_source", "basic")
_TAIL_KEYS = ("function", "economic", "fund_source", "basic")  # after the scope, in KEYS order


class FactSet:
    """The facts of one scope collapsed to (measure, account, function, economic, fund
    source, basic) → fen; answers figures and per-code sums with one pass each."""

    def __init__(self, items: list[tuple], *, year: int, scope: Scope, master: MasterData,
                 as_of: date | None = None, upto: int | None = None) -> None:
        self.items = items
        self.by_measure: dict[str, list[tuple]] = defaultdict(list)
        for it in items:
            self.by_measure[it[0]].append(it)
        self.year, self.scope, self.master, self.as_of = year, scope, master, as_of
        self.upto = upto
        self._cache: dict[tuple, dict[str, int]] = {}
        self._fixed: tuple[str, str] | None = None
        self._present: dict[int, set] = {}

    @classmethod
    def from_facts(cls, facts: pd.DataFrame, **kwargs: object) -> FactSet:
        if facts.empty:
            return cls([], **kwargs)  # type: ignore[arg-type]
        g = facts.groupby(["measure", *_DIMS], sort=False)["amount"].sum()
        items = [(*k, int(v)) for k, v in g.items() if v]
        return cls(items, **kwargs)  # type: ignore[arg-type]

    def trace(self, measure: str, **filters: str) -> str:
        """Same string as trace_ref(...) (a test checks it), built from pre-joined fixed
        parts: a disclosure of 300 departments writes a quarter of a million of them."""
        if self._fixed is None:
            head = (f";year={self.year}" + (f";upto={self.upto}" if self.upto is not None else "")
                    + (f";as_of={self.as_of.isoformat()}" if self.as_of else ""))
            scope = "".join(f";{k}={v}" for k, v in self.scope.trace_dims().items())
            self._fixed = (head, scope)
        head, scope = self._fixed
        account = filters.get("account")
        tail = "".join(f";{k}={filters[k]}" for k in _TAIL_KEYS if filters.get(k))
        return (f"{PREFIX}measure={measure}{head}" + (f";account={account}" if account else "")
                + scope + tail)

    def by_code(self, measure: str, dim: str | None, **filters: str) -> dict[str, int]:
        """Sums per code of `dim` (or under key '' when dim is None)."""
        key = (measure, dim, tuple(sorted(filters.items())))
        if key in self._cache:
            return self._cache[key]
        signs = dict(COMBINED.get(measure, ((measure, 1),)))
        # each filter becomes the set of values it accepts among the values present
        accept: list[tuple[int, set]] = []
        for name, value in filters.items():
            idx = _DIMS.index(name) + 1
            present = self._values(idx)
            m = value_matcher(value)
            accept.append((idx, {v for v in present if m(v)}))
        pos = _DIMS.index(dim) + 1 if dim else None
        out: dict[str, int] = defaultdict(int)
        for base, sign in signs.items():
            for it in self.by_measure.get(base, ()):
                for idx, ok in accept:
                    if it[idx] not in ok:
                        break
                else:
                    out[it[pos] if pos else ""] += sign * it[-1]
        self._cache[key] = dict(out)
        return self._cache[key]

    def _values(self, idx: int) -> set:
        if idx not in self._present:
            self._present[idx] = {it[idx] for it in self.items}
        return self._present[idx]

    def figure(self, measure: str, **filters: str) -> Figure:
        return Figure(self.by_code(measure, None, **filters).get("", 0),
                      self.trace(measure, **filters))


# ------------------------------------------------------------------ builders
@dataclass(frozen=True)
class Col:
    key: str
    label: str
    measure: str
    filters: tuple[tuple[str, str], ...] = ()


def col(key: str, label: str, measure: str, **filters: str) -> Col:
    return Col(key, label, measure, tuple(sorted(filters.items())))


_LEVELS = {"function": (3, 5, 7), "economic": (3, 5)}


def tree_table(fs: FactSet, *, code: str, title: str, dim: str, cols: list[Col],
               header: list[list[tuple[str, int, int]]],
               col_sums: list[tuple[str, list[tuple[int, str]]]] | None = None) -> Table:
    """Rows are the 类/款/项 codes of `dim` that carry any amount, with a totals row."""
    levels = _LEVELS[dim]
    rolled: dict[str, dict[str, int]] = {}
    prefixes: set[str] = set()
    for c in cols:
        acc: dict[str, int] = defaultdict(int)
        for leaf, fen in fs.by_code(c.measure, dim, **dict(c.filters)).items():
            if fen and leaf:
                for n in levels:
                    if len(leaf) >= n:
                        acc[leaf[:n]] += fen
                        prefixes.add(leaf[:n])
        rolled[c.key] = acc
    names = fs.master.names[dim]
    rows = [Row("total", {"code": "", "name": "合计",
                          **{c.key: fs.figure(c.measure, **dict(c.filters)) for c in cols}},
                total=True)]
    for prefix in sorted(prefixes):
        level = levels.index(len(prefix)) if len(prefix) in levels else len(levels) - 1
        is_leaf = len(prefix) == levels[-1]
        cells: dict[str, str | Figure] = {"code": prefix, "name": names.get(prefix, "")}
        for c in cols:
            fen = rolled[c.key].get(prefix, 0)
            own = prefix if is_leaf else prefix + "*"
            flt = {**dict(c.filters), dim: _intersect(dict(c.filters).get(dim), own)}
            cells[c.key] = Figure(fen, fs.trace(c.measure, **flt))
        rows.append(Row(f"{dim}:{prefix}", cells, level=level))
    columns = [Column("code", "科目编码", False), Column("name", "科目名称", False),
               *[Column(c.key, c.label) for c in cols]]
    return Table(code, title, columns, header, rows, tree=dim, col_sums=col_sums or [])


def _intersect(column_value: str | None, row_value: str) -> str:
    """The codes both a column filter and a row (code or `prefix*`) select, as a trace
    value; `~` when nothing can match."""
    if column_value is None:
        return row_value
    row_prefix = row_value.endswith("*")
    p = row_value.rstrip("*")
    out = []
    for item in column_value.split(","):
        if item == "-":
            continue
        if item.endswith("*"):
            x = item[:-1]
            if p.startswith(x):
                out.append(row_value)
            elif row_prefix and x.startswith(p):
                out.append(item)
        elif (item.startswith(p) if row_prefix else item == p):
            out.append(item)
    return ",".join(dict.fromkeys(out)) or "~"


def summary_table(fs: FactSet, *, code: str, title: str, income: list[Col],
                  expense: list[Col], income_label: str = "收入", expense_label: str = "支出",
                  sum_checks: list[tuple[str, list[str]]] | None = None) -> Table:
    """Two-sided 收支总表: income items beside expenditure items."""
    rows: list[Row] = []
    names: dict[str, tuple[str, str]] = {}
    for i in range(max(len(income), len(expense))):
        cells: dict[str, str | Figure] = {}
        total = False
        for side, items in (("in", income), ("out", expense)):
            if i < len(items):
                c = items[i]
                cells[f"{side}_item"] = c.label
                cells[f"{side}_amount"] = fs.figure(c.measure, **dict(c.filters))
                names[c.key] = (f"r{i}", f"{side}_amount")
                total = total or c.key.endswith("total")
        rows.append(Row(f"r{i}", cells, total=total))
    columns = [Column("in_item", "项目", False), Column("in_amount", "金额"),
               Column("out_item", "项目", False), Column("out_amount", "金额")]
    header = [[(income_label, 2, 1), (expense_label, 2, 1)],
              [("项目", 1, 1), ("金额", 1, 1), ("项目", 1, 1), ("金额", 1, 1)]]
    return Table(code, title, columns, header, rows, names=names, sum_checks=sum_checks or [])


def _function_classes(fs: FactSet, measure: str, **filters: str) -> list[Col]:
    sums = fs.by_code(measure, "function", **filters)
    classes = sorted({code[:3] for code, fen in sums.items() if fen and code})
    names = fs.master.names["function"]
    return [col(f"func:{c}", names.get(c, c), measure, function=c + "*", **filters)
            for c in classes]


def _three_col_header(first: str = "合计") -> list[list[tuple[str, int, int]]]:
    return [[("科目编码", 1, 2), ("科目名称", 1, 2), (first, 1, 2), ("基本支出", 1, 2),
             ("项目支出", 1, 2)], []]


def _sangong(fs: FactSet, code: str, title: str, measure: str) -> Table:
    base = {"fund_source": "1", "basic": "1"}
    items = {k: fs.figure(measure, economic=v, **base) for k, v in SANGONG.items()}
    allcodes = ",".join(SANGONG.values())
    cells: dict[str, str | Figure] = {
        "total": fs.figure(measure, economic=allcodes, **base),
        "abroad": items["abroad"],
        "car": fs.figure(measure, economic=f"{SANGONG['car_buy']},{SANGONG['car_run']}", **base),
        "car_buy": items["car_buy"], "car_run": items["car_run"], "hosting": items["hosting"],
    }
    columns = [Column("total", "合计"), Column("abroad", "因公出国（境）费"),
               Column("car", "小计"), Column("car_buy", "公务用车购置费"),
               Column("car_run", "公务用车运行费"), Column("hosting", "公务接待费")]
    header = [[("合计", 1, 2), ("因公出国（境）费", 1, 2), ("公务用车购置及运行费", 3, 1),
               ("公务接待费", 1, 2)],
              [("小计", 1, 1), ("公务用车购置费", 1, 1), ("公务用车运行费", 1, 1)]]
    return Table(code, title, columns, header, [Row("total", cells, total=True)],
                 col_sums=[("total", [(1, "abroad"), (1, "car"), (1, "hosting")]),
                           ("car", [(1, "car_buy"), (1, "car_run")])])


# ------------------------------------------------------------------ budget set (8)
def budget_tables(fs: FactSet) -> list[Table]:
    """预算公开: the eight standard tables of a department, from approved + adjusted
    indicators (measure `budget`)."""
    m = "budget"
    funds = [col(f"fund{f}", FUND_NAMES[f] + ("拨款收入" if f in "123" else "收入"), m,
                 fund_source=f) for f in "12345"]
    b1 = summary_table(
        fs, code="B1", title="部门收支总表",
        income=[*funds, col("income_total", "本年收入合计", m)],
        expense=[*_function_classes(fs, m), col("expense_total", "本年支出合计", m)],
        sum_checks=[("income_total", [c.key for c in funds])])
    b1.sum_checks.append(("expense_total", [k for k in b1.names if k.startswith("func:")]))
    b2 = tree_table(
        fs, code="B2", title="部门收入总表", dim="function",
        cols=[col("total", "合计", m)] + [col(f"fund{f}", FUND_NAMES[f], m, fund_source=f)
                                          for f in "12345"],
        header=[[("科目编码", 1, 2), ("科目名称", 1, 2), ("合计", 1, 2), ("财政拨款收入", 3, 1),
                 ("财政专户管理资金", 1, 2), ("单位资金", 1, 2)],
                [("一般公共预算", 1, 1), ("政府性基金预算", 1, 1), ("国有资本经营预算", 1, 1)]],
        col_sums=[("total", [(1, f"fund{f}") for f in "12345"])])
    b3 = tree_table(fs, code="B3", title="部门支出总表", dim="function",
                    cols=[col("total", "合计", m), col("basic", "基本支出", m, basic="1"),
                          col("project", "项目支出", m, basic="0")],
                    header=_three_col_header(),
                    col_sums=[("total", [(1, "basic"), (1, "project")])])
    grant = [col(f"fund{f}", FUND_NAMES[f] + "拨款收入", m, fund_source=f) for f in "123"]
    b4 = summary_table(
        fs, code="B4", title="财政拨款收支总表",
        income=[*grant, col("income_total", "本年收入合计", m, fund_source="1,2,3")],
        expense=[*_function_classes(fs, m, fund_source="1,2,3"),
                 col("expense_total", "本年支出合计", m, fund_source="1,2,3")],
        sum_checks=[("income_total", [c.key for c in grant])])
    b4.sum_checks.append(("expense_total", [k for k in b4.names if k.startswith("func:")]))
    b5 = tree_table(
        fs, code="B5", title="一般公共预算支出表", dim="function",
        cols=[col("total", "合计", m, fund_source="1"),
              col("basic", "小计", m, fund_source="1", basic="1"),
              col("personnel", "人员经费", m, fund_source="1", basic="1", economic=PERSONNEL),
              col("public", "公用经费", m, fund_source="1", basic="1",
                  economic=_NON_PERSONNEL),
              col("project", "项目支出", m, fund_source="1", basic="0")],
        header=[[("科目编码", 1, 2), ("科目名称", 1, 2), ("合计", 1, 2), ("基本支出", 3, 1),
                 ("项目支出", 1, 2)],
                [("小计", 1, 1), ("人员经费", 1, 1), ("公用经费", 1, 1)]],
        col_sums=[("total", [(1, "basic"), (1, "project")]),
                  ("basic", [(1, "personnel"), (1, "public")])])
    b6 = _basic_by_economic(fs, "B6", "一般公共预算基本支出表", m)
    b7 = _sangong(fs, "B7", '一般公共预算"三公"经费支出表', m)
    b8 = tree_table(fs, code="B8", title="政府性基金预算支出表", dim="function",
                    cols=[col("total", "合计", m, fund_source="2"),
                          col("basic", "基本支出", m, fund_source="2", basic="1"),
                          col("project", "项目支出", m, fund_source="2", basic="0")],
                    header=_three_col_header(),
                    col_sums=[("total", [(1, "basic"), (1, "project")])])
    return [b1, b2, b3, b4, b5, b6, b7, b8]


# 公用经费: every economic class except the personnel ones
_NON_PERSONNEL = "302*,304*,305*,306*,307*,309*,310*,311*,312*,313*,399*,-"


def _basic_by_economic(fs: FactSet, code: str, title: str, m: str) -> Table:
    return tree_table(
        fs, code=code, title=title, dim="economic",
        cols=[col("total", "合计", m, fund_source="1", basic="1"),
              col("personnel", "人员经费", m, fund_source="1", basic="1", economic=PERSONNEL),
              col("public", "公用经费", m, fund_source="1", basic="1", economic=_NON_PERSONNEL)],
        header=[[("经济分类科目编码", 1, 1), ("经济分类科目名称", 1, 1), ("合计", 1, 1),
                 ("人员经费", 1, 1), ("公用经费", 1, 1)]],
        col_sums=[("total", [(1, "personnel"), (1, "public")])])


# ------------------------------------------------------------------ final set (9)
def _grant_fund_table(fs: FactSet, code: str, title: str, fund: str) -> Table:
    return tree_table(
        fs, code=code, title=title, dim="function",
        cols=[col("opening", "年初结转和结余", "opening", fund_source=fund),
              col("revenue", "本年收入", "revenue", fund_source=fund),
              col("exp_total", "小计", "expenditure", fund_source=fund),
              col("exp_basic", "基本支出", "expenditure", fund_source=fund, basic="1"),
              col("exp_project", "项目支出", "expenditure", fund_source=fund, basic="0"),
              col("closing", "年末结转和结余", "carryover", fund_source=fund)],
        header=[[("科目编码", 1, 2), ("科目名称", 1, 2), ("年初结转和结余", 1, 2),
                 ("本年收入", 1, 2), ("本年支出", 3, 1), ("年末结转和结余", 1, 2)],
                [("小计", 1, 1), ("基本支出", 1, 1), ("项目支出", 1, 1)]],
        col_sums=[("exp_total", [(1, "exp_basic"), (1, "exp_project")]),
                  ("closing", [(1, "opening"), (1, "revenue"), (-1, "exp_total")])])


def final_tables(fs: FactSet) -> list[Table]:
    """决算公开: the nine standard tables of a department, from the budget accounting
    book (revenue 6xxx, expenditure 7xxx, opening 8xxx balances; closing entries left
    out so the year's flows show after the year-end close)."""
    e = "expenditure"
    inc = [col("rev_grant", "财政拨款收入", "revenue", account=chart.FISCAL_APPROPRIATION_REVENUE),
           col("rev_business", "事业收入", "revenue", account=chart.BUSINESS_BUDGET_REVENUE),
           col("rev_other", "其他收入", "revenue", account=chart.OTHER_BUDGET_REVENUE)]
    f1 = summary_table(
        fs, code="F1", title="收入支出决算总表",
        income=[*inc, col("income_year_total", "本年收入合计", "revenue"),
                col("opening", "年初结转和结余", "opening"),
                col("income_grand_total", "总计", "funds")],
        expense=[*_function_classes(fs, e), col("expense_year_total", "本年支出合计", e),
                 col("closing", "年末结转和结余", "carryover"),
                 col("expense_grand_total", "总计", "funds")],
        sum_checks=[("income_year_total", [c.key for c in inc]),
                    ("income_grand_total", ["income_year_total", "opening"]),
                    ("expense_grand_total", ["expense_year_total", "closing"])])
    f1.sum_checks.append(("expense_year_total", [k for k in f1.names if k.startswith("func:")]))
    f2 = tree_table(
        fs, code="F2", title="收入决算表", dim="function",
        cols=[col("total", "本年收入合计", "revenue"),
              col("grant", "财政拨款收入", "revenue", account=chart.FISCAL_APPROPRIATION_REVENUE),
              col("business", "事业收入", "revenue", account=chart.BUSINESS_BUDGET_REVENUE),
              col("other", "其他收入", "revenue", account=chart.OTHER_BUDGET_REVENUE)],
        header=[[("科目编码", 1, 1), ("科目名称", 1, 1), ("本年收入合计", 1, 1),
                 ("财政拨款收入", 1, 1), ("事业收入", 1, 1), ("其他收入", 1, 1)]],
        col_sums=[("total", [(1, "grant"), (1, "business"), (1, "other")])])
    f3 = tree_table(fs, code="F3", title="支出决算表", dim="function",
                    cols=[col("total", "本年支出合计", e), col("basic", "基本支出", e, basic="1"),
                          col("project", "项目支出", e, basic="0")],
                    header=_three_col_header("本年支出合计"),
                    col_sums=[("total", [(1, "basic"), (1, "project")])])
    g_in = [col(f"income_f{f}", FUND_NAMES[f] + "财政拨款", "revenue", fund_source=f)
            for f in "123"]
    g_out = [col(f"expense_f{f}", FUND_NAMES[f] + "财政拨款", e, fund_source=f) for f in "123"]
    f4 = summary_table(
        fs, code="F4", title="财政拨款收入支出决算总表",
        income=[*g_in, col("income_year_total", "本年收入合计", "revenue", fund_source="1,2,3"),
                col("opening", "年初财政拨款结转和结余", "opening", fund_source="1,2,3"),
                col("income_grand_total", "总计", "funds", fund_source="1,2,3")],
        expense=[*g_out, col("expense_year_total", "本年支出合计", e, fund_source="1,2,3"),
                 col("closing", "年末财政拨款结转和结余", "carryover", fund_source="1,2,3"),
                 col("expense_grand_total", "总计", "funds", fund_source="1,2,3")],
        sum_checks=[("income_year_total", [c.key for c in g_in]),
                    ("expense_year_total", [c.key for c in g_out]),
                    ("income_grand_total", ["income_year_total", "opening"]),
                    ("expense_grand_total", ["expense_year_total", "closing"])])
    f5 = tree_table(fs, code="F5", title="一般公共预算财政拨款支出决算表", dim="function",
                    cols=[col("total", "合计", e, fund_source="1"),
                          col("basic", "基本支出", e, fund_source="1", basic="1"),
                          col("project", "项目支出", e, fund_source="1", basic="0")],
                    header=_three_col_header(),
                    col_sums=[("total", [(1, "basic"), (1, "project")])])
    f6 = _basic_by_economic(fs, "F6", "一般公共预算财政拨款基本支出决算表", e)
    f7 = _sangong(fs, "F7", '一般公共预算财政拨款"三公"经费支出决算表', e)
    f8 = _grant_fund_table(fs, "F8", "政府性基金预算财政拨款收入支出决算表", "2")
    f9 = _grant_fund_table(fs, "F9", "国有资本经营预算财政拨款收入支出决算表", "3")
    return [f1, f2, f3, f4, f5, f6, f7, f8, f9]


# ------------------------------------------------------------------ statements
def statement_tables(fs: FactSet) -> list[Table]:
    """决算报表 of a unit, department or region: 收入支出决算总表, 财政拨款收入支出决算总表,
    一般公共预算财政拨款支出决算表 by function and by economic class, basic expenditure,
    三公, and the financial report's 资产负债表 and 收入费用表."""
    f = {t.code: t for t in final_tables(fs)}
    e = "expenditure"
    by_econ = tree_table(
        fs, code="S1", title="一般公共预算财政拨款支出决算表（按经济分类）", dim="economic",
        cols=[col("total", "合计", e, fund_source="1"),
              col("basic", "基本支出", e, fund_source="1", basic="1"),
              col("project", "项目支出", e, fund_source="1", basic="0")],
        header=[[("经济分类科目编码", 1, 1), ("经济分类科目名称", 1, 1), ("合计", 1, 1),
                 ("基本支出", 1, 1), ("项目支出", 1, 1)]],
        col_sums=[("total", [(1, "basic"), (1, "project")])])
    return [f["F1"], f["F4"], f["F5"], by_econ, f["F6"], f["F7"], balance_sheet(fs),
            income_statement(fs)]


def _account_rows(fs: FactSet, measure: str, prefixes: str) -> list[Col]:
    sums = fs.by_code(measure, "account", account=prefixes)
    names = fs.master.names["account"]
    return [col(f"acc:{a}", f"{a} {names.get(a, '')}", measure, account=a)
            for a in sorted(sums) if sums[a]]


def balance_sheet(fs: FactSet) -> Table:
    """资产负债表 (financial accounting, balances at year end)."""
    assets = _account_rows(fs, "balance", "1*")
    liab = _account_rows(fs, "balance", "2*")
    net = _account_rows(fs, "balance", "3*")
    return summary_table(
        fs, code="S2", title="资产负债表", income_label="资产", expense_label="负债和净资产",
        income=[*assets, col("assets_total", "资产总计", "balance", account="1*")],
        expense=[*liab, col("liab_total", "负债合计", "balance", account="2*"), *net,
                 col("unclosed", "本期盈余（未结转）", "unclosed_surplus"),
                 col("net_total", "净资产合计（不含未结转盈余）", "balance", account="3*")],
        sum_checks=[("assets_total", [c.key for c in assets]),
                    ("liab_total", [c.key for c in liab]),
                    ("net_total", [c.key for c in net]),
                    ("assets_total", ["liab_total", "net_total", "unclosed"])])


def income_statement(fs: FactSet) -> Table:
    """收入费用表 (financial accounting, the year's flows before closing)."""
    rev = _account_rows(fs, "fin_revenue", "4*")
    exp = _account_rows(fs, "fin_expense", "5*")
    return summary_table(
        fs, code="S3", title="收入费用表", income_label="收入", expense_label="费用",
        income=[*rev, col("revenue_total", "本期收入合计", "fin_revenue"),
                col("surplus", "本期盈余", "surplus")],
        expense=[*exp, col("expense_total", "本期费用合计", "fin_expense")],
        sum_checks=[("revenue_total", [c.key for c in rev]),
                    ("expense_total", [c.key for c in exp])])


# ------------------------------------------------------------------ entry points
def fact_set(*, year: int, scope: Scope, as_of: date | None = None,
             master: MasterData | None = None) -> FactSet:
    master = master or MasterData.load()
    units = scope_units(master, scope.kind, [scope.code])
    facts = scope_filter(ledger_facts(year=year, as_of=as_of, master=master, units=units),
                         scope, master)
    return FactSet.from_facts(facts, year=year, scope=scope, master=master, as_of=as_of)


def department_fact_sets(*, year: int, departments: list[str] | None = None,
                         master: MasterData | None = None,
                         upto: int | None = None) -> dict[str, FactSet]:
    """Fact sets of every department in one pass (one SQL GROUP BY, one pandas groupby);
    `upto`: the ledger as it stood after entry number `upto` of the year (stamped on every
    figure's reference)."""
    master = master or MasterData.load()
    units = scope_units(master, "department", departments) if departments is not None else None
    facts = ledger_facts(year=year, master=master, units=units, upto=upto)
    if departments is not None:
        facts = facts[facts["department"].isin(departments)]
    facts = facts[facts["department"] != ""]
    out: dict[str, FactSet] = {}
    if facts.empty:
        return {d: FactSet([], year=year, scope=Scope("department", d), master=master,
                           upto=upto) for d in departments or []}
    g = facts.groupby(["department", "measure", *_DIMS], sort=False)["amount"].sum()
    per: dict[str, list[tuple]] = defaultdict(list)
    for key, v in g.items():
        if v:
            per[key[0]].append((*key[1:], int(v)))
    for dept in sorted(set(per) | set(departments or [])):
        out[dept] = FactSet(per.get(dept, []), year=year, scope=Scope("department", dept),
                            master=master, upto=upto)
    return out


# ------------------------------------------------------------ execution output
_MEASURE_LABELS = {"approved": "年初批复", "adjusted": "调整", "committed": "已冻结(在途)",
                   "paid": "已支付", "available": "可用指标"}
_DIM_LABELS = {"region": "区划", "department": "部门", "unit": "单位", "function": "功能分类",
               "economic": "经济分类", "fund_source": "资金性质"}


def execution_table(report: ExecutionReport, *, scope_label: str = "") -> Table:
    """The execution report as a renderable table (amounts in 元); `scope_label` names
    the scope for people (440300010 深圳市教育局) instead of department:440300010."""
    columns = []
    for g in report.group_by:
        columns += [Column(g, _DIM_LABELS[g] + "编码", False),
                    Column(f"{g}_name", _DIM_LABELS[g], False)]
    columns += [Column(m, _MEASURE_LABELS[m]) for m in EXECUTION_MEASURES]
    columns.append(Column("rate", "执行率", False))
    rows = []
    for r in [*report.rows, report.total]:
        cells: dict = {}
        for g in report.group_by:
            cells[g] = r.keys.get(g, "")
            cells[f"{g}_name"] = r.labels.get(g, "")
        if r is report.total and report.group_by:
            cells[f"{report.group_by[0]}_name"] = "合计"
        cells.update(r.figures)
        cells["rate"] = f"{r.rate * 100:.2f}%" if r.rate is not None else "—"
        rows.append(Row("total" if r is report.total else "|".join(r.keys.values()), cells,
                        total=r is report.total))
    header = [[(c.label, 1, 1) for c in columns]]
    return Table("E1", f"{report.year}年预算执行情况表", columns, header, rows,
                 subtitle=f"范围：{scope_label or report.scope}" + (f"　截至 {report.as_of}" if report.as_of else ""),
                 unit_label="单位：元", in_wan=False)
