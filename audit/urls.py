"""Pages of the audit app (mounted under /audit/)."""
from django.urls import path

from audit import views

app_name = "audit"
urlpatterns = [
    path("", views.trace_view, name="trace"),
    path("trace/", views.trace_view, name="trace-query"),
    path("entries/<int:pk>/", views.entry_view, name="entry"),
    path("history/<str:label>/<str:pk>/", views.history_view, name="history"),
    path("alerts/", views.alerts_view, name="alerts"),
]
