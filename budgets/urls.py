"""Pages of the budgets app."""
from django.urls import path

from budgets import views

app_name = "budgets"
urlpatterns = [
    path("units/<str:code>/indicators/", views.unit_indicators_view, name="unit_indicators"),
]
