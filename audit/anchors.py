"""Anchors: the ledger's chain heads written where the database's superuser cannot
rewrite them — an append-only file beside the media (MEDIA_ROOT/anchors/), every
published disclosure manifest, and the printed verify report. `verify_ledger
--anchors FILE...` checks the chain against each one (finance.selectors)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from finance.chain import Anchor, anchor_file_path, anchors_append, anchors_read
from finance.selectors import chain_heads


def ledger_anchor(*, day: dt.date | None = None, path: Path | None = None) -> list[Anchor]:
    """Append each year's chain head (at the close of `day`, default today) to the
    anchor file, unless the file's last anchor of that year already names that head.
    Returns the anchors written."""
    path = path or anchor_file_path()
    last: dict[int, Anchor] = {}
    if path.exists():
        for a in anchors_read(path):
            last[a.year] = a
    new = [h for h in chain_heads(day=day)
           if (h.year not in last or (last[h.year].number, last[h.year].hash) != (h.number, h.hash))]
    if new:
        anchors_append(new, path)
    return new
