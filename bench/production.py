"""The settings the benches run with: production's, as the peer (bench/peer_hordak.py)
always ran."""
from __future__ import annotations

import os


def production_settings() -> None:
    """DEBUG=0 before Django is set up: with DEBUG on, Django logs every SQL statement with
    its parameters interpolated (about 0.3 ms of CPU per posting, 10–40 % of a city-year
    month's work, a 5,000-value IN list formatted for the log). BENCH_DEBUG=1 measures the
    development settings instead. DEBUG=0 requires a SECRET_KEY: a bench-only one."""
    os.environ["DEBUG"] = os.environ.get("BENCH_DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
