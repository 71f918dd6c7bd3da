"""Web screens (mounted at the site root): sign-in, the role dashboard, requests."""
from django.contrib.auth import views as auth_views
from django.urls import path

import web.views_budget as budget_views
from web import views, views_banks, views_payees, views_plans, views_public, views_treasury

app_name = "web"
urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(template_name="web/login.html",
                                                         redirect_authenticated_user=True),
         name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("web/", views.dashboard, name="home"),
    path("web/requests/new/", views.request_file, name="request_file"),
    path("web/requests/decide/", views.requests_decide, name="requests_decide"),
    path("web/requests/<str:tracking_id>/", views.request_detail, name="request"),
    path("web/requests/<str:tracking_id>/submit/", views.request_submit, name="request_submit"),
    path("web/requests/<str:tracking_id>/refile/", views.request_refile, name="request_refile"),
    path("web/requests/<str:tracking_id>/withdraw/", views.request_withdraw,
         name="request_withdraw"),
    path("web/requests/<str:tracking_id>/attachments/<int:pk>/", views.request_attachment,
         name="request_attachment"),
    # 收款人: the unit's payee book (web/views_payees.py)
    path("web/payees/", views_payees.payees, name="payees"),
    path("web/payees/new/", views_payees.payee_new, name="payee_new"),
    path("web/payees/bank/", views_payees.payee_bank, name="payee_bank"),
    path("web/payees/<int:pk>/", views_payees.payee_detail, name="payee"),
    path("web/payees/<int:pk>/block/", views_payees.payee_block, name="payee_block"),
    # 用款计划 (web/views_plans.py)
    path("web/plans/", views_plans.plans, name="plans"),
    path("web/treasury/plans/", views_plans.plan_review, name="plan_review"),
    path("web/treasury/plans/approve/", views_plans.plans_approve, name="plans_approve"),
    path("web/treasury/plans/<int:pk>/approve/", views_plans.plan_approve, name="plan_approve"),
    # treasury (web/views_treasury.py)
    path("web/treasury/vouchers/", views_treasury.vouchers, name="treasury_vouchers"),
    path("web/treasury/batches/<int:pk>/", views_treasury.batch_detail, name="treasury_batch"),
    path("web/treasury/batches/<int:pk>/csv/", views_treasury.batch_export, {"fmt": "csv"},
         name="treasury_batch_csv"),
    path("web/treasury/batches/<int:pk>/pain001/", views_treasury.batch_export,
         {"fmt": "pain001"}, name="treasury_batch_pain001"),
    path("web/treasury/batches/<int:pk>/notice/", views_treasury.notice_export,
         name="treasury_notice_csv"),
    path("web/treasury/imports/", views_treasury.imports, name="treasury_imports"),
    path("web/treasury/imports/<int:pk>/", views_treasury.import_detail, name="treasury_import"),
    path("web/treasury/exceptions/", views_treasury.exceptions, name="treasury_exceptions"),
    path("web/treasury/exceptions/<int:pk>/resolve/", views_treasury.exception_resolve,
         name="treasury_exception_resolve"),
    path("web/treasury/exceptions/reconcile/", views_treasury.exceptions_reconcile,
         name="treasury_reconcile"),
    # bank profiles (web/views_banks.py)
    path("web/treasury/banks/", views_banks.bank_profiles, name="treasury_banks"),
    path("web/treasury/banks/new/", views_banks.bank_profile_new, name="treasury_bank_new"),
    path("web/treasury/banks/<slug:code>/", views_banks.bank_profile, name="treasury_bank"),
    # public portal, no login (web/views_public.py)
    path("web/public/", views_public.public_home, name="public_home"),
]

# budget screens (web/views_budget.py)
urlpatterns += [
    path("web/budget/projects/", budget_views.projects, name="budget_projects"),
    path("web/budget/projects/new/", budget_views.project_new, name="budget_project_new"),
    path("web/budget/projects/<int:pk>/", budget_views.project_detail, name="budget_project"),
    path("web/budget/projects/<int:pk>/act/", budget_views.project_act, name="budget_project_act"),
    path("web/budget/plans/", budget_views.plans, name="budget_plans"),
    path("web/budget/plans/new/", budget_views.plan_new, name="budget_plan_new"),
    path("web/budget/plans/<int:pk>/", budget_views.plan_detail, name="budget_plan"),
    path("web/budget/plans/<int:pk>/lines/", budget_views.plan_lines, name="budget_plan_lines"),
    path("web/budget/plans/<int:pk>/template.xlsx", budget_views.plan_template,
         name="budget_plan_template"),
    path("web/budget/plans/<int:pk>/upload/", budget_views.plan_upload, name="budget_plan_upload"),
    path("web/budget/plans/<int:pk>/act/", budget_views.plan_act, name="budget_plan_act"),
    path("web/budget/review/", budget_views.review, name="budget_review"),
    path("web/budget/review/department/", budget_views.department_review,
         name="budget_department_review"),
    path("web/budget/adjustments/", budget_views.adjustments, name="budget_adjustments"),
    path("web/budget/adjustments/new/", budget_views.adjustment_new, name="budget_adjustment_new"),
    path("web/budget/adjustments/<int:pk>/", budget_views.adjustment_detail,
         name="budget_adjustment"),
    path("web/budget/adjustments/<int:pk>/act/", budget_views.adjustment_act,
         name="budget_adjustment_act"),
]

# the bureau's period pages: month close, year-end close, reopenings (web/views_periods.py)
from web import views_periods  # noqa: E402

urlpatterns += [
    path("web/bureau/periods/", views_periods.periods, name="bureau_periods"),
    path("web/bureau/periods/<int:year>/<int:month>/close/", views_periods.month_close,
         name="bureau_month_close"),
    path("web/bureau/periods/<int:year>/<int:month>/reopen/", views_periods.month_reopen,
         name="bureau_month_reopen"),
    path("web/bureau/periods/<int:year>/year-end/", views_periods.year_end,
         name="bureau_year_end"),
    path("web/bureau/periods/<int:year>/year-end/close/", views_periods.year_close,
         name="bureau_year_close"),
    path("web/bureau/periods/<int:year>/year-end/reopen/", views_periods.year_reopen,
         name="bureau_year_reopen"),
]

# a stored bank file with its lines (web/views_treasury.py)
urlpatterns += [
    path("web/treasury/files/<int:pk>/", views_treasury.bank_file, name="treasury_bank_file"),
]

# 合同: a unit's contract register (web/views_contracts.py)
from web import views_contracts  # noqa: E402

urlpatterns += [
    path("web/contracts/", views_contracts.contracts, name="contracts"),
    path("web/contracts/new/", views_contracts.contract_new, name="contract_new"),
    path("web/contracts/<int:pk>/", views_contracts.contract_detail, name="contract"),
    path("web/contracts/<int:pk>/sign/", views_contracts.contract_sign, name="contract_sign"),
    path("web/contracts/<int:pk>/control-override/", views_contracts.contract_control_override,
         name="contract_control_override"),
    path("web/contracts/<int:pk>/close/", views_contracts.contract_close,
         name="contract_close"),
]

# 工资统发: a unit's payroll batches (web/views_payroll.py)
from web import views_payroll  # noqa: E402

urlpatterns += [
    path("web/payroll/", views_payroll.payrolls, name="payrolls"),
    path("web/payroll/<int:pk>/", views_payroll.payroll_detail, name="payroll"),
    path("web/payroll/<int:pk>/act/", views_payroll.payroll_act, name="payroll_act"),
]

# 控制方式: the bureau's control rules and the director's override (web/views_control.py)
from web import views_control  # noqa: E402

urlpatterns += [
    path("web/bureau/control-rules/", views_control.control_rules, name="bureau_control_rules"),
    path("web/bureau/control-rules/<int:pk>/", views_control.control_rule,
         name="bureau_control_rule"),
    path("web/requests/<str:tracking_id>/control-override/",
         views_control.request_control_override, name="request_control_override"),
]

# 绩效: targets, monitoring, self-evaluation and the bureau's review (web/views_performance.py)
from web import views_performance  # noqa: E402

urlpatterns += [
    path("web/budget/projects/<int:pk>/targets/", views_performance.targets,
         name="performance_targets"),
    path("web/budget/projects/<int:pk>/monitoring/", views_performance.monitoring,
         name="performance_monitoring"),
    path("web/budget/projects/<int:pk>/self-evaluation/", views_performance.evaluate,
         name="performance_evaluate"),
    path("web/budget/performance/", views_performance.evaluations, name="performance_evaluations"),
    path("web/budget/performance/<int:pk>/", views_performance.evaluation_detail,
         name="performance_evaluation"),
    path("web/budget/performance/<int:pk>/act/", views_performance.evaluation_act,
         name="performance_evaluation_act"),
]

# 公务卡: official cards, their transactions and repayments (web/views_cards.py)
from web import views_cards  # noqa: E402

urlpatterns += [
    path("web/cards/", views_cards.official_cards, name="official_cards"),
]
