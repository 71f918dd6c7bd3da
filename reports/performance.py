"""项目支出绩效自评表: the approved performance self-evaluations of a department's projects
(budgets.performance), published with its final-account set (issue 22).

One row per project — budget and spending as ledger figures with their trace references
(the indicator book's `budget` and `paid` of the project, as the set's ledger stood), the
execution rate and its score out of 10, the total and the grade — followed by one row per
target: class, name, target and actual value, weight (分值) and score. The scores are
those the bureau approved; the table is left out of a set with no approved
self-evaluation."""
from __future__ import annotations

from decimal import Decimal

from budgets import performance
from budgets.models import PerformanceTarget
from finance.measures import trace_ref
from finance.selectors import figure_of
from reports.selectors import Figure
from reports.tables import Column, FactSet, Row, Table

CODE = "F10"
TITLE = "项目支出绩效自评表"
_CLASS = {  # 一级指标 / 二级指标 as the national table names them
    "output_quantity": ("产出指标", "数量指标"), "output_quality": ("产出指标", "质量指标"),
    "output_timeliness": ("产出指标", "时效指标"), "output_cost": ("产出指标", "成本指标"),
    "benefit_economic": ("效益指标", "经济效益指标"), "benefit_social": ("效益指标", "社会效益指标"),
    "benefit_ecological": ("效益指标", "生态效益指标"),
    "benefit_sustainable": ("效益指标", "可持续影响指标"),
    "satisfaction": ("满意度指标", "服务对象满意度指标"),
}
_CMP = dict(PerformanceTarget.Comparison.choices)


def _num(x: Decimal | None) -> str:
    return "" if x is None else f"{x.normalize():f}"


def self_evaluation_tables(fs: FactSet) -> list[Table]:
    """The department's 项目支出绩效自评表 for the fact set's year ([] when none approved)."""
    if fs.scope.kind != "department":
        return []
    evaluations = list(performance.approved_evaluations(department_code=fs.scope.code,
                                                        year=fs.year))
    if not evaluations:
        return []
    columns = [Column("code", "项目编码", False), Column("name", "项目名称 / 三级指标", False),
               Column("unit", "实施单位", False), Column("budget", "全年预算数"),
               Column("spent", "全年执行数"), Column("level1", "执行率(%) / 一级指标", False),
               Column("level2", "二级指标", False), Column("target", "年度指标值", False),
               Column("actual", "实际完成值", False), Column("weight", "分值", False),
               Column("score", "得分", False), Column("grade", "评价等级", False)]
    rows: list[Row] = []
    for e in evaluations:
        p = e.project
        figures = {}
        for key, measure in (("budget", "budget"), ("spent", "paid")):
            ref = trace_ref(measure=measure, year=fs.year, upto=fs.upto,
                            department=fs.scope.code, project=p.code)
            figures[key] = Figure(fen=figure_of(ref), trace=ref)
        rate = (e.spent / e.budget * 100).quantize(Decimal("0.01")) if e.budget else None
        rows.append(Row(key=p.code, cells={
            "code": p.code, "name": p.name, "unit": p.unit.name, **figures,
            "level1": _num(rate), "level2": "预算执行率", "weight": "10",
            "score": _num(e.execution_score), "grade": f"{_num(e.total_score)} {e.grade}"}))
        for line in e.lines.all():
            t = line.target
            level1, level2 = _CLASS.get(t.indicator_class, ("", ""))
            rows.append(Row(key=f"{p.code}/{t.pk}", level=1, cells={
                "code": "", "name": t.name, "level1": level1, "level2": level2,
                "target": f"{_CMP.get(t.comparison, '')}{_num(t.target_value)}{t.measure_unit}",
                "actual": f"{_num(line.actual)}{t.measure_unit}", "weight": _num(t.weight),
                "score": _num(line.score)}))
    header = [[(c.label, 1, 1) for c in columns]]
    return [Table(code=CODE, title=TITLE, columns=columns, header=header, rows=rows)]
