"""绩效 lifecycle (issue 22): scoring by the rule of budgets.performance worked by hand,
mid-year monitoring beside the ledger, the bureau's review, the 项目支出绩效自评表 read back
from the final-account Excel, and last year's grade beside next year's filing."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from django.urls import reverse
from django.utils import translation

from budgets import errors, performance, services
from budgets.validation import PlanLineInput
from finance import labels
from finance.errors import NotPermitted
from finance.ledger import entry_post
from tests.helpers import commit_lines, dims, indicator_approve, pay_lines

CODE = "440300101-XM09"
MID = dt.datetime(2026, 7, 5, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
END = dt.datetime(2027, 1, 15, 10, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.mark.parametrize(("weight", "cmp", "target", "actual", "score"), [
    ("40", "ge", "100", "100", "40.00"),  # met: full weight
    ("30", "ge", "95", "76", "24.00"),  # 30 × 76/95 = 30 × 0.8
    ("30", "ge", "95", "120", "30.00"),  # over-achieved: capped at the weight
    ("20", "le", "2", "1.8", "20.00"),  # ≤ met: full weight
    ("20", "le", "2", "2.5", "16.00"),  # ≤ missed: 20 × 2/2.5
    ("10", "eq", "100", "90", "9.00"),  # = missed by 10 %: 10 × (1 − 10/100)
])
def test_target_score_by_hand(weight, cmp, target, actual, score):  # noqa: ANN001
    assert performance.target_score(weight=D(weight), comparison=cmp, target=D(target),
                                    actual=D(actual)) == D(score)


def test_execution_score_and_grades_by_hand():
    assert performance.execution_score(budget=D("200000.00"), spent=D("190000.00")) == D("9.50")
    assert performance.execution_score(budget=D("100.00"), spent=D("120.00")) == D("10.00")
    assert [performance.grade_of(D(x)) for x in ("93.5", "90", "89.99", "80", "79.99", "60",
                                                 "59.99")] == ["优", "优", "良", "良", "中", "中", "差"]


def test_free_text_targets_are_read():
    assert performance.target_parse("≥95%") == ("ge", D("95"), "%")
    assert performance.target_parse("不超过30天") == ("le", D("30"), "天")
    assert performance.target_parse("显著提升") == ("ge", None, "")
    assert [performance.class_guess(n) for n in ("服务对象满意度", "社会影响", "受益人数")] == [
        "satisfaction", "benefit_social", "output_quantity"]


@pytest.fixture
def project(city, filers, reviewers, user):  # noqa: ANN001, ARG001
    """A project of unit 440300101 with three targets (weights 40/30/20), in the library;
    an indicator of 200,000.00 on it, 40,000.00 paid on 15 May and 150,000.00 on 20
    November."""
    p = services.project_create(
        unit_code="440300101", code=CODE, name="教学设备更新", category="specific",
        total_amount=D("200000.00"), annual_plans=[(2026, "1", D("200000.00"))],
        targets=[services.TargetInput("新增设备台数", "100", "台", "output_quantity", "ge", D(40)),
                 services.TargetInput("设备完好率", "95", "%", "output_quality", "ge", D(30)),
                 services.TargetInput("单台采购成本", "≤2", "万元", "output_cost", "", D(20))],
        user=user, submit=True)
    services.project_review(project=p, user=reviewers["440300100"])
    p = services.project_accept(project=p, user=reviewers["440300100"])
    d = dims(project=CODE)
    indicator_approve(D("200000.00"), d)
    for amount, on in (("40000.00", dt.date(2026, 5, 15)), ("150000.00", dt.date(2026, 11, 20))):
        entry_post(lines=commit_lines(D(amount), d), description="申请", user=user, on=on,
                   kind="commit")
        entry_post(lines=pay_lines(D(amount), d), description="支付", user=user, on=on,
                   kind="payment")
    return p


def _targets(p):  # noqa: ANN001, ANN202
    return list(p.targets.order_by("id"))


def test_targets_filed_with_class_comparison_and_weight(project):  # noqa: ANN001
    assert [(t.name, t.indicator_class, t.comparison, t.target_value, t.weight)
            for t in _targets(project)] == [
        ("新增设备台数", "output_quantity", "ge", D("100"), D("40")),
        ("设备完好率", "output_quality", "ge", D("95"), D("30")),
        ("单台采购成本", "output_cost", "le", D("2"), D("20"))]  # ≤ read from "≤2"


def test_weights_not_summing_to_90_are_refused(city, user):  # noqa: ANN001, ARG001
    with pytest.raises(errors.ProjectInvalid, match="sum to 80"):
        services.project_create(
            unit_code="440300101", code="X-1", name="x", category="specific", total_amount=1,
            targets=[services.TargetInput("a", "1", weight=D(40)),
                     services.TargetInput("b", "1", weight=D(40))], user=user)


def test_monitoring_flags_a_lagging_target_and_spending_apart_from_output(project, user,
                                                                         client):  # noqa: ANN001
    t1, t2, t3 = _targets(project)
    report = performance.progress_report(
        project=project, year=2026, on=dt.date(2026, 6, 30), user=user, as_of=MID,
        achieved={t1.pk: ("20", "到货延迟"), t2.pk: ("90", ""), t3.pk: ("1.9", "")})
    m = performance.monitoring(report=report)
    # 30 June is day 181 of 365: 181/365 = 49.59 %
    assert m.time_share == D("49.59")
    # paid by 30 June 40,000.00 of 200,000.00 = 20.00 %
    assert (m.budget, m.spent, m.execution_rate) == (D("200000.00"), D("40000.00"), D("20.00"))
    # 20/100 = 20.00 % (lags 29.59 > 20: flagged); 90/95 = 94.74 %; the ≤ target has no share
    assert [(r.share, r.lagging) for r in m.rows] == [(D("20.00"), True), (D("94.74"), False),
                                                      (None, False)]
    # output progress weighted: (20.00 × 40 + 94.74 × 30) / 70 = 3642.20 / 70 = 52.03
    assert m.output_progress == D("52.03")
    assert m.deviations == [
        "“新增设备台数”: 20.00% done, 49.59% of the year gone",
        "execution 20.00% and output progress 52.03% are 32.03 points apart"]  # 52.03 − 20.00
    client.force_login(user)  # the project page shows them, in Chinese
    with translation.override("zh-hans"):
        page = client.get(reverse("web:budget_project", args=[project.pk]),
                          HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "预算执行率 20.00% 与产出进度 52.03% 相差 32.03 个百分点" in page


def _evaluate(project, user, t1_actual="100", hour=0):  # noqa: ANN001, ANN202
    t1, t2, t3 = _targets(project)
    return performance.self_evaluation_submit(
        project=project, year=2026, user=user, as_of=END + dt.timedelta(hours=hour), summary="完成年度目标",
        actuals={t1.pk: (t1_actual, ""), t2.pk: ("76", "部分设备待修"), t3.pk: ("1.8", "")})


def test_self_evaluation_scored_and_reviewed_by_the_bureau(project, user, approver, reviewer):  # noqa: ANN001
    e = _evaluate(project, user, t1_actual="90")
    # 40 × 90/100 = 36 + 30 × 76/95 = 24 + ≤ met 20 + execution 10 × 190,000/200,000 = 9.5
    assert [x.score for x in e.lines.order_by("target_id")] == [D("36.00"), D("24.00"), D("20.00")]
    assert (e.spent, e.execution_score, e.total_score, e.grade) == (
        D("190000.00"), D("9.50"), D("89.50"), "良")
    for who in (user, reviewer):  # the filer and the department may not decide it
        with pytest.raises(NotPermitted):
            performance.self_evaluation_approve(evaluation=e, user=who)
    with pytest.raises(errors.ReasonRequired):
        performance.self_evaluation_return(evaluation=e, user=approver, reason=" ")
    e = performance.self_evaluation_return(evaluation=e, user=approver, reason="设备台数与验收单不符",
                                           as_of=END + dt.timedelta(hours=1))
    assert (e.status, e.return_reason) == ("returned", "设备台数与验收单不符")
    e = _evaluate(project, user, hour=2)  # corrected: 40 + 24 + 20 + 9.5 = 93.5
    assert (e.total_score, e.grade, e.status) == (D("93.50"), "优", "submitted")
    e = performance.self_evaluation_approve(evaluation=e, user=approver, comment="同意",
                                            as_of=END + dt.timedelta(hours=3))
    assert e.status == "approved"
    steps = [s.action for s in e_steps(e)]
    assert steps == ["submit self-evaluation", "return self-evaluation", "submit self-evaluation",
                     "approve self-evaluation"]
    with translation.override("zh-hans"):
        assert [labels.action_label(a) for a in steps[1:]] == [
            "退回绩效自评", "提交绩效自评", "审核通过绩效自评"]


def e_steps(e):  # noqa: ANN001, ANN201
    from budgets import selectors

    return selectors.plan_steps(document=e).order_by("at", "id")


def test_the_self_evaluation_table_is_published_with_the_final_accounts(project, user, approver,
                                                                        tmp_path):  # noqa: ANN001
    from reports.services import disclosure_export

    performance.self_evaluation_approve(evaluation=_evaluate(project, user), user=approver)
    result = disclosure_export(year=2026, out=tmp_path, departments=["440300100"])
    assert result["failures"] == []
    wb = openpyxl.load_workbook(tmp_path / "440300100" / "final" / "2026_440300100_final.xlsx")
    assert wb.sheetnames[-1] == "F10"
    rows = [[c for c in r] for r in wb["F10"].iter_rows(min_row=1, values_only=True)]
    assert rows[0][0] == "项目支出绩效自评表"
    # the project row: 200,000.00 and 190,000.00 yuan in 万元, 95 %, 9.5 of 10, 93.5 优
    assert rows[3] == [CODE, "教学设备更新", "深圳市第一中学", 20, 19, "95", "预算执行率", None,
                       None, "10", "9.5", "93.5 优"]
    assert [r[1:] for r in rows[4:]] == [
        ["  新增设备台数", None, None, None, "产出指标", "数量指标", "≥100台", "100台", "40", "40",
         None],
        ["  设备完好率", None, None, None, "产出指标", "质量指标", "≥95%", "76%", "30", "24", None],
        ["  单台采购成本", None, None, None, "产出指标", "成本指标", "≤2万元", "1.8万元", "20", "20",
         None]]
    budgets_2026 = [x for x in (tmp_path / "440300100" / "budget").iterdir() if x.suffix == ".xlsx"]
    assert "F10" not in openpyxl.load_workbook(budgets_2026[0]).sheetnames  # finals only


def test_next_years_filing_shows_last_years_grade(project, user, approver, client):  # noqa: ANN001
    t1, t2, t3 = _targets(project)
    client.force_login(user)  # the unit's self-evaluation form
    response = client.post(reverse("web:performance_evaluate", args=[project.pk]), {
        "year": "2026", f"value_{t1.pk}": "100", f"value_{t2.pk}": "76", f"value_{t3.pk}": "1.8"})
    e = performance.evaluation_of(project=project, year=2026)
    assert response.status_code == 302 and e.total_score == D("93.50")  # 40 + 24 + 20 + 9.5
    performance.self_evaluation_approve(evaluation=e, user=approver)
    plan = services.plan_create(unit_code="440300101", year=2027, user=user)
    services.plan_lines_save(plan=plan, user=user, lines=[
        PlanLineInput(CODE, "2050203", "31002", "1", D("180000.00"), D("200000.00"))])
    client.force_login(user)
    with translation.override("zh-hans"):
        page = client.get(reverse("web:budget_plan", args=[plan.pk]),
                          HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "2026年绩效自评" in page and "93.5" in page and "优" in page


def test_demo_fill_reports_evaluates_and_approves_once(project, user, approver):  # noqa: ANN001
    filers = {"440300101": user}
    assert performance.performance_demo_fill(year=2026, filers=filers, reviewer=approver) == {
        "reports": 1, "evaluations": 1, "approved": 1}
    e = performance.evaluation_of(project=project, year=2026, approved=True)
    assert e is not None and e.execution_score == D("9.50")  # 190,000 of 200,000 paid
    assert performance.performance_demo_fill(year=2026, filers=filers, reviewer=approver) == {
        "reports": 0, "evaluations": 0, "approved": 0}


def test_the_targets_form_saves_90_points_and_refuses_80(city, user, client):  # noqa: ANN001, ARG001
    p = services.project_create(unit_code="440300101", code="D-1", name="草稿", category="specific",
                                total_amount=D("1.00"), user=user)
    url = reverse("web:performance_targets", args=[p.pk])
    row = {"name_0": "受益学生", "indicator_class_0": "output_quantity", "comparison_0": "ge",
           "target_value_0": "1200", "measure_unit_0": "人", "weight_0": "50",
           "name_1": "家长满意度", "indicator_class_1": "satisfaction", "comparison_1": "ge",
           "target_value_1": "90", "measure_unit_1": "%", "weight_1": "30", "rows": "8"}
    client.force_login(user)
    with translation.override("zh-hans"):
        page = client.post(url, row, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "分值合计为 80" in page and not p.targets.exists()  # 50 + 30 = 80, nothing saved
    assert client.post(url, {**row, "weight_1": "40"}).status_code == 302  # 50 + 40 = 90
    assert list(p.targets.values_list("name", "weight")) == [("受益学生", D("50")),
                                                             ("家长满意度", D("40"))]
