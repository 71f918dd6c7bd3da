"""The history manager class is built once per model (finance.apps), and each access
still gets a manager bound to its model and instance."""
from __future__ import annotations

from finance.models import Organization, Region


class TestHistoryManager:
    def test_the_class_is_built_once_and_managers_stay_bound(self, orgs, user):
        a, b = Organization.objects.order_by("id")[:2]
        assert type(a.history) is type(b.history) is type(Organization.history)
        assert type(Region.history) is not type(Organization.history)
        assert a.history.instance == a and b.history.instance == b
        assert Organization.history.instance is None
        assert set(a.history.values_list("id", flat=True)) == {a.pk}
        assert Organization.history.count() >= 2
