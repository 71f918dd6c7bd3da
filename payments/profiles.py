"""The bank profiles shipped with the system (payments/data/bank_profiles.json): one per
agent bank of the city, plus the standard one. Loaded by migration 0006 and by
`manage.py bank_profiles_load` (which adds missing profiles and leaves edited ones alone
unless told to reset them)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SHIPPED = Path(__file__).resolve().parent / "data" / "bank_profiles.json"
# a profile's fields and what a shipped row that leaves one out means
DEFAULTS: dict[str, Any] = {
    "name": "", "cnaps": "", "encoding": "auto", "delimiter": ",", "result_columns": {},
    "statement_columns": {}, "time_formats": [], "date_formats": [], "decimal_mark": ".",
    "thousands_sep": ",", "statuses": {}, "direction_words": {}, "statement_formats": [],
    "note": ""}


def shipped() -> list[dict[str, Any]]:
    return json.loads(SHIPPED.read_text(encoding="utf-8"))


def values(row: dict[str, Any]) -> dict[str, Any]:
    return {f: row.get(f, default) for f, default in DEFAULTS.items()}
