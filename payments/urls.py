"""Pages of the payments app (mounted under /payments/)."""
from django.urls import path

from payments import views

app_name = "payments"
urlpatterns = [
    path("trace/<str:tracking_id>/", views.request_trace_view, name="trace"),
    path("exceptions/", views.exceptions_view, name="exceptions"),
]
