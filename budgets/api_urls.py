"""REST API of the budgets app (mounted under /api/budgets/)."""
from django.urls import path

from budgets import api

urlpatterns = [
    path("project-imports/", api.ProjectImportUpload.as_view(), name="budgets-project-imports"),
    path("plans/<int:pk>/transitions/", api.PlanTransition.as_view(), name="budgets-plan-transition"),
    path("plans/<int:pk>/template/", api.PlanTemplate.as_view(), name="budgets-plan-template"),
    path("units/<str:code>/indicators/", api.UnitIndicators.as_view(), name="budgets-unit-indicators"),
    path("indicators/history/", api.IndicatorHistory.as_view(), name="budgets-indicator-history"),
]
