"""Web screens (mounted at the site root): sign-in, the role dashboard, requests."""
from django.contrib.auth import views as auth_views
from django.urls import path

from web import views

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
]
