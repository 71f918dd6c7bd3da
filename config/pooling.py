"""Database options behind a connection pooler (issue 23).

DATABASE_POOLER=pgbouncer-transaction: Django connects to PgBouncer in transaction mode,
where consecutive transactions of one Django connection may run on different server
connections. Nothing may outlive a transaction on the server, so:
- no server-side cursors (`QuerySet.iterator()` would DECLARE a cursor WITH HOLD that the
  next transaction cannot see): DISABLE_SERVER_SIDE_CURSORS;
- no prepared statements: psycopg's server-side binding off (client-side binding, one
  simple query each) and its automatic preparing off (`prepare_threshold` None);
- persistent Django connections are fine (the pooler holds the server ones).
Applied to every PostgreSQL database of settings.DATABASES; see docs/OPERATIONS.md."""
from __future__ import annotations

POOLERS = ("", "none", "pgbouncer-session", "pgbouncer-transaction")


def pooled(db: dict, pooler: str) -> dict:
    """`db` (one settings.DATABASES entry) with the options `pooler` needs."""
    if pooler not in POOLERS:
        raise ValueError(f"DATABASE_POOLER={pooler!r}: one of {', '.join(p for p in POOLERS if p)}")
    if pooler != "pgbouncer-transaction" or db.get("ENGINE") != "django.db.backends.postgresql":
        return db
    return {**db, "DISABLE_SERVER_SIDE_CURSORS": True,
            "OPTIONS": {**db.get("OPTIONS", {}), "server_side_binding": False,
                        "prepare_threshold": None}}
