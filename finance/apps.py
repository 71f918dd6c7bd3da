"""App config for the ledger core."""
from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _history_manager_class_built_once() -> None:
    """django-simple-history 3.13's `HistoryDescriptor.__get__` builds a new manager
    class (`Manager.from_queryset`) on every access of `Model.history` — about 1 ms, and
    it happens once for every history row written. The class depends only on the
    descriptor, so it is built on first access and kept; each access still gets its own
    manager bound to the model and instance, as before."""
    from simple_history.manager import HistoryDescriptor

    if getattr(HistoryDescriptor, "_class_kept", False):
        return

    def __get__(self: Any, instance: Any, owner: Any) -> Any:  # noqa: N807, ARG001
        cls = self.__dict__.get("_manager_class_built")
        if cls is None:
            cls = self._manager_class_built = self.manager_class.from_queryset(
                self.queryset_class)
        return cls(self.model, instance)

    HistoryDescriptor.__get__ = __get__  # type: ignore[method-assign]
    HistoryDescriptor._class_kept = True  # type: ignore[attr-defined]


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = _("Finance core and ledger")

    def ready(self) -> None:
        from finance import chain  # noqa: F401 - registers EntryMac (the keyed chain)

        _history_manager_class_built_once()
