"""REST API of the audit app (mounted under /api/audit/)."""
urlpatterns: list = []
