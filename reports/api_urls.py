"""REST API of the reports app (mounted under /api/reports/)."""
from django.urls import path

from reports import api

urlpatterns = [
    path("execution/", api.ExecutionReportAPI.as_view(), name="api-reports-execution"),
    path("trace/", api.TraceAPI.as_view(), name="api-reports-trace"),
    path("close/month/", api.MonthCloseAPI.as_view(), name="api-reports-month-close"),
    path("close/year/", api.YearCloseAPI.as_view(), name="api-reports-year-close"),
    path("close/year/reopen/", api.YearReopenAPI.as_view(), name="api-reports-year-reopen"),
    path("disclosure-sets/", api.DisclosureSetsAPI.as_view(), name="api-reports-sets"),
    path("public-sets/", api.PublicSetsAPI.as_view(), name="api-reports-public-sets"),
    path("disclosure-sets/<int:pk>/approve/", api.DisclosureApproveAPI.as_view(),
         name="api-reports-set-approve"),
    path("disclosure-sets/<int:pk>/confidentiality/", api.DisclosureConfidentialityAPI.as_view(),
         name="api-reports-set-confidentiality"),
    path("disclosure-sets/<int:pk>/sign/", api.DisclosureSignAPI.as_view(),
         name="api-reports-set-sign"),
    path("disclosure-sets/<int:pk>/publish/", api.DisclosurePublishAPI.as_view(),
         name="api-reports-set-publish"),
]
