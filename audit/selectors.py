"""Reads of the audit app: history as of a moment and between two, traces of figures,
alerts, and the access log."""
from __future__ import annotations

from audit.history import record_as_of, record_changes
from audit.seals import history_models
from audit.trace import (
    MEASURES,
    trace,
    trace_query,
    trace_ref,
    trace_ref_parse,
    trace_resolve,
    trace_run,
)

__all__ = [
    "MEASURES", "history_models", "record_as_of", "record_changes", "trace", "trace_query",
    "trace_ref", "trace_ref_parse", "trace_resolve", "trace_run",
]
