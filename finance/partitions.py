"""The ledger's lines partitioned by fiscal year on PostgreSQL (issue 23).

`finance_line` is `PARTITION BY LIST (year)`: one partition per fiscal year
(`finance_line_<year>`) and a DEFAULT partition (`finance_line_default`) that catches a
year without its own partition, so a posting never fails for a missing partition.
Django's model state is unchanged (migration 0012 only runs SQL): the table keeps every
column, check constraint, index, foreign key and the immutability trigger, under the
same names; the primary key becomes (id, year) and the unique (entry_id, seq) becomes
(entry_id, seq, year), as PostgreSQL requires the partition key in every unique key
(`id` stays unique through its identity sequence; `year` always equals the entry's
fiscal year, so (entry_id, seq) is still unique). SQLite, and PostgreSQL migrated with
LEDGER_PARTITIONS=0, keep a plain table; every function here then does nothing.

Nothing references finance_line, which is what makes this possible; finance_entry and
the history tables are not partitioned (docs/OPERATIONS.md "Ledger partitions" says
why). Keep the conversion functions stable: migration 0012 calls them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection as default_connection

LINE_TABLE = "finance_line"
LINE_KEY = "year"


class PartitionError(Exception):
    """A partition operation refused (unknown year, open year, no such tablespace …)."""


@dataclass(frozen=True)
class Partition:
    name: str
    year: int | None  # None: the DEFAULT partition
    rows: int | None  # None when not counted
    bytes: int  # table, indexes and TOAST
    tablespace: str  # "" = the database's default tablespace


def _q(name: str) -> str:
    """A quoted identifier (names here are ours: table names and digits)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise PartitionError(f"not a plain identifier: {name!r}")
    return f'"{name}"'


def year_partition_name(year: int, table: str = LINE_TABLE) -> str:
    return f"{table}_{int(year)}"


def default_partition_name(table: str = LINE_TABLE) -> str:
    return f"{table}_default"


def is_partitioned(cur: Any, table: str = LINE_TABLE) -> bool:
    """True on PostgreSQL when `table` is a partitioned table (pg_partitioned_table)."""
    if getattr(getattr(cur, "db", None), "vendor", "postgresql") != "postgresql":
        return False
    cur.execute("SELECT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = "
                "to_regclass(%s))", [table])
    return bool(cur.fetchone()[0])


def line_table_partitioned(connection: Any = None) -> bool:
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        return is_partitioned(cur)


def partitions(cur: Any, table: str = LINE_TABLE, *, count: bool = True) -> list[Partition]:
    """The partitions of `table`, by year (the DEFAULT partition last), with exact row
    counts (`count=False`: not counted), total size in bytes and tablespace."""
    cur.execute("""
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid), pg_total_relation_size(c.oid),
               COALESCE(t.spcname, '')
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
        WHERE i.inhparent = to_regclass(%s)""", [table])
    found = []
    for name, bound, size, space in cur.fetchall():
        m = re.search(r"IN \('?(\d+)'?\)", bound or "")
        rows = None
        if count:
            cur.execute(f"SELECT count(*) FROM {_q(name)}")  # noqa: S608 (our identifier)
            rows = cur.fetchone()[0]
        found.append(Partition(name, int(m.group(1)) if m else None, rows, size, space))
    return sorted(found, key=lambda p: (p.year is None, p.year or 0, p.name))


def partition_of_year(cur: Any, year: int, table: str = LINE_TABLE) -> str | None:
    """The name of the partition made for `year` (not the default one), or None."""
    for p in partitions(cur, table, count=False):
        if p.year == int(year):
            return p.name
    return None


# ------------------------------------------------------------ a new year's partition
def year_partition_ensure(year: int, *, connection: Any = None, table: str = LINE_TABLE,
                          ) -> bool:
    """Give `year` its own partition if the table is partitioned and the year has none
    (idempotent; returns True when one was made). Rows of that year already caught by
    the DEFAULT partition move into the new one in the same transaction (same ids, same
    values; the rows are moved, not changed). Called by `fiscal_year_open` and
    `ledger_partitions --create`. Takes an ACCESS EXCLUSIVE lock on finance_line for the
    moment of the CREATE (a few milliseconds, once a year)."""
    connection = connection or default_connection
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        if not is_partitioned(cur, table) or partition_of_year(cur, year, table):
            return False
        name = year_partition_name(year, table)
        default = default_partition_name(table)
        cur.execute("SELECT to_regclass(%s) IS NOT NULL", [default])
        has_default = cur.fetchone()[0]
        waiting = 0
        if has_default:
            cur.execute(f"SELECT count(*) FROM {_q(default)} WHERE {LINE_KEY} = %s",  # noqa: S608
                        [int(year)])
            waiting = cur.fetchone()[0]
        if not waiting:
            cur.execute(f"CREATE TABLE IF NOT EXISTS {_q(name)} PARTITION OF {_q(table)} "
                        f"FOR VALUES IN ({int(year)})")
            return True
        _move_out_of_default(cur, year, table)
        return True


def _move_out_of_default(cur: Any, year: int, table: str) -> None:
    """The DEFAULT partition holds rows of `year`: detach it, create the year's partition,
    copy the rows there, remove them from the detached table (its immutability trigger
    went with the detach), attach it back. All in the caller's transaction."""
    name = year_partition_name(year, table)
    default = default_partition_name(table)
    cols = ", ".join(_q(c) for c in _columns(cur, table))
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks on the moved rows
    cur.execute(f"ALTER TABLE {_q(table)} DETACH PARTITION {_q(default)}")
    cur.execute(f"CREATE TABLE {_q(name)} PARTITION OF {_q(table)} FOR VALUES IN ({int(year)})")
    cur.execute(f"INSERT INTO {_q(table)} ({cols}) SELECT {cols} FROM {_q(default)} "  # noqa: S608
                f"WHERE {LINE_KEY} = %s", [int(year)])
    moved = cur.rowcount
    cur.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = to_regclass(%s) "
                "AND NOT tgisinternal", [default])
    left = [r[0] for r in cur.fetchall()]  # a trigger the detach left on the table
    for trigger in left:
        cur.execute(f"ALTER TABLE {_q(default)} DISABLE TRIGGER {_q(trigger)}")
    cur.execute(f"DELETE FROM {_q(default)} WHERE {LINE_KEY} = %s", [int(year)])  # noqa: S608
    if cur.rowcount != moved:
        raise PartitionError(f"moved {moved} rows of {year} but removed {cur.rowcount}")
    for trigger in left:
        cur.execute(f"ALTER TABLE {_q(default)} ENABLE TRIGGER {_q(trigger)}")
    cur.execute(f"ALTER TABLE {_q(table)} ATTACH PARTITION {_q(default)} DEFAULT")


# ------------------------------------------------------------ cheaper storage
def year_partition_set_tablespace(*, year: int, tablespace: str, connection: Any = None,
                                  table: str = LINE_TABLE) -> list[str]:
    """Move a CLOSED year's partition and its indexes to `tablespace` (ALTER … SET
    TABLESPACE: the partition is rewritten under an ACCESS EXCLUSIVE lock, so reads of
    that year wait for the move). Refuses an open or unknown year and the DEFAULT
    partition. Returns the relations moved."""
    from finance.models import FiscalYear

    connection = connection or default_connection
    if connection.vendor != "postgresql":
        raise PartitionError("tablespaces need PostgreSQL")
    fy = FiscalYear.objects.filter(year=year).first()
    if fy is None or not fy.is_closed:
        raise PartitionError(f"fiscal year {year} is {'open' if fy else 'unknown'}: only a "
                             "closed year's partition is moved (its rows no longer change)")
    with connection.cursor() as cur:
        if not is_partitioned(cur, table):
            raise PartitionError(f"{table} is not partitioned (migrated with LEDGER_PARTITIONS=0)")
        name = partition_of_year(cur, year, table)
        if name is None:
            raise PartitionError(f"{table} has no partition for {year}")
        cur.execute("SELECT 1 FROM pg_tablespace WHERE spcname = %s", [tablespace])
        if cur.fetchone() is None:
            raise PartitionError(f"no tablespace named {tablespace!r}")
        # rows written earlier in this transaction leave deferred FK checks pending, which
        # ALTER TABLE refuses: check them now
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute(f"ALTER TABLE {_q(name)} SET TABLESPACE {_q(tablespace)}")
        moved = [name]
        cur.execute("SELECT c.relname FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid "
                    "WHERE x.indrelid = to_regclass(%s) ORDER BY c.relname", [name])
        for (index,) in cur.fetchall():
            cur.execute(f"ALTER INDEX {_q(index)} SET TABLESPACE {_q(tablespace)}")
            moved.append(index)
        return moved


# ------------------------------------------------------------ conversion (migration 0012)
def _columns(cur: Any, table: str) -> list[str]:
    cur.execute("SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum", [table])
    return [r[0] for r in cur.fetchall()]


def _constraints(cur: Any, table: str) -> list[tuple[str, str, str]]:
    """(name, type p/u/f, definition) of the table's own key and foreign-key constraints
    (check constraints travel with CREATE TABLE … LIKE … INCLUDING CONSTRAINTS)."""
    cur.execute("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = to_regclass(%s) AND contype IN ('p', 'u', 'f') "
                "AND conparentid = 0 ORDER BY contype DESC, conname", [table])
    return cur.fetchall()


def _indexes(cur: Any, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX …) of the indexes that back no constraint."""
    cur.execute("""
        SELECT c.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x
        JOIN pg_class c ON c.oid = x.indexrelid
        WHERE x.indrelid = to_regclass(%s)
          AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                          WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid)
        ORDER BY c.relname""", [table])
    return cur.fetchall()


def _triggers(cur: Any, table: str) -> list[tuple[str, str]]:
    cur.execute("SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
                "WHERE tgrelid = to_regclass(%s) AND NOT tgisinternal AND tgparentid = 0 "
                "ORDER BY tgname", [table])
    return cur.fetchall()


def _key_columns(definition: str) -> list[str]:
    m = re.match(r"(PRIMARY KEY|UNIQUE) \((.*)\)", definition)
    if not m:
        raise PartitionError(f"cannot read the key {definition!r}")
    return [c.strip() for c in m.group(2).split(",")]


def _rebuild(cur: Any, table: str, *, partitioned: bool, years: list[int]) -> None:
    """Copy `table` into a new table (partitioned by LIST (year) or plain), swap the
    names, and put back every key, foreign key, index and trigger under its old name."""
    cur.execute("SET CONSTRAINTS ALL IMMEDIATE")  # DROP TABLE refuses pending FK checks
    cur.execute(f"LOCK TABLE {_q(table)} IN ACCESS EXCLUSIVE MODE")
    constraints = _constraints(cur, table)
    indexes = _indexes(cur, table)
    triggers = _triggers(cur, table)
    for name, definition in indexes:
        if "UNIQUE" in definition.split(" ON ")[0] and partitioned:
            raise PartitionError(f"unique index {name} cannot be kept on a partitioned table "
                                 "unless it holds the year: make it a constraint first")
    new = f"{table}_rebuilt"
    cols = ", ".join(_q(c) for c in _columns(cur, table))
    cur.execute(f"CREATE TABLE {_q(new)} (LIKE {_q(table)} INCLUDING DEFAULTS INCLUDING "
                f"IDENTITY INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS)"
                + (f" PARTITION BY LIST ({LINE_KEY})" if partitioned else ""))
    if partitioned:
        for year in sorted(set(years)):
            cur.execute(f"CREATE TABLE {_q(year_partition_name(year, table))} PARTITION OF "
                        f"{_q(new)} FOR VALUES IN ({int(year)})")
        cur.execute(f"CREATE TABLE {_q(default_partition_name(table))} PARTITION OF {_q(new)} "
                    "DEFAULT")
    cur.execute(f"INSERT INTO {_q(new)} ({cols}) SELECT {cols} FROM {_q(table)}")  # noqa: S608
    cur.execute(f"DROP TABLE {_q(table)}")  # its partitions, indexes, trigger, sequence go too
    cur.execute(f"ALTER TABLE {_q(new)} RENAME TO {_q(table)}")
    cur.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    seq = cur.fetchone()[0]
    if seq:  # the identity's sequence keeps the old name and continues after the copied ids
        cur.execute(f"ALTER SEQUENCE {seq} RENAME TO {_q(table + '_id_seq')}")
        cur.execute(f"SELECT setval(%s, COALESCE((SELECT max(id) FROM {_q(table)}), 0) + 1, "  # noqa: S608
                    "false)", [f"{table}_id_seq"])
    for name, kind, definition in constraints:
        if kind in ("p", "u"):
            # forwards: the year joins the key (last); backwards: it leaves it
            columns = [c for c in _key_columns(definition) if c != LINE_KEY]
            if partitioned:
                columns.append(LINE_KEY)
            words = "PRIMARY KEY" if kind == "p" else "UNIQUE"
            definition = f"{words} ({', '.join(columns)})"
        cur.execute(f"ALTER TABLE {_q(table)} ADD CONSTRAINT {_q(name)} {definition}")
    for _name, definition in indexes:
        cur.execute(definition.replace(" ON ONLY ", " ON "))
    for _name, definition in triggers:
        cur.execute(definition)
    cur.execute(f"ANALYZE {_q(table)}")


def _years_known(cur: Any, table: str) -> list[int]:
    cur.execute(f"SELECT DISTINCT {LINE_KEY} FROM {_q(table)} "  # noqa: S608
                "UNION SELECT year FROM finance_fiscalyear "
                "UNION SELECT fiscal_year FROM finance_vouchersequence")
    return [int(r[0]) for r in cur.fetchall()]


def line_table_partition(connection: Any, *, force: bool = False) -> bool:
    """Make finance_line partitioned by fiscal year (a partition for every year with
    lines, a fiscal year or a voucher sequence, plus DEFAULT), keeping its rows and ids.
    PostgreSQL only; honours LEDGER_PARTITIONS unless `force`. True if converted."""
    if connection.vendor != "postgresql" or not (force or settings.LEDGER_PARTITIONS):
        return False
    with connection.cursor() as cur:
        if is_partitioned(cur):
            return False
        _rebuild(cur, LINE_TABLE, partitioned=True, years=_years_known(cur, LINE_TABLE))
        return True


def line_table_unpartition(connection: Any) -> bool:
    """Back to one plain finance_line (primary key (id), unique (entry_id, seq))."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cur:
        if not is_partitioned(cur):
            return False
        _rebuild(cur, LINE_TABLE, partitioned=False, years=[])
        return True
