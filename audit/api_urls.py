"""REST API of the audit app (mounted under /api/audit/)."""
from django.urls import path

from audit import api

urlpatterns = [
    path("trace/", api.TraceView.as_view(), name="api-audit-trace"),
    path("entries/<int:pk>/", api.EntryView.as_view(), name="api-audit-entry"),
    path("history/<str:label>/<str:pk>/", api.HistoryAsOfView.as_view(), name="api-audit-history"),
    path("history/<str:label>/<str:pk>/changes/", api.HistoryChangesView.as_view(),
         name="api-audit-history-changes"),
    path("alerts/", api.AlertList.as_view(), name="api-audit-alerts"),
    path("alerts/export/", api.AlertExport.as_view(), name="api-audit-alerts-export"),
    path("alerts/<int:pk>/<str:action>/", api.AlertTransition.as_view(),
         name="api-audit-alert-transition"),
]
