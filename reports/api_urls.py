"""REST API of the reports app (mounted under /api/reports/)."""
from django.urls import path

from reports import api

urlpatterns = [
    path("execution/", api.ExecutionReportAPI.as_view(), name="api-reports-execution"),
    path("trace/", api.TraceAPI.as_view(), name="api-reports-trace"),
]
