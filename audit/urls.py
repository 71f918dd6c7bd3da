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

# 序时进度: execution pace alerts and their loop (audit/pace_views.py; web.policy opens
# them to the people of an organization and the city level, scoped in the views)
from audit import pace_views  # noqa: E402

urlpatterns += [
    path("pace/", pace_views.pace_alerts, name="pace_alerts"),
    path("pace/<int:pk>/", pace_views.pace_alert, name="pace_alert"),
    path("pace/<int:pk>/act/", pace_views.pace_alert_act, name="pace_alert_act"),
]
