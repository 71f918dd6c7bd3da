"""REST API of the payments app (mounted under /api/payments/)."""
urlpatterns: list = []
