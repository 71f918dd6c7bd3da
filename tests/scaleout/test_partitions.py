"""finance_line partitioned by fiscal year on PostgreSQL (issue 23, finance/partitions.py):
the table as migration 0012 leaves it, postings landing in their year's partition, the
year-opening service making the next one, the DEFAULT partition catching a year without
one (and `ledger_partitions --create` moving its rows out), the unique (entry, seq) still
enforced, `verify_ledger --year` reading one partition and finding a tampered line in it,
and a closed year's partition moved to another tablespace. PostgreSQL only: SQLite keeps
one plain table (these tests are skipped there)."""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import pwd
import shutil
import tempfile
import uuid
from decimal import Decimal

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from finance import partitions, selectors, services
from finance.ledger import entry_post
from finance.models import Entry, FiscalYear
from tests.helpers import ON, approve_lines, commit_lines, dims, pay_lines

pytestmark = pytest.mark.postgres
D = Decimal


@pytest.fixture(autouse=True)
def partitioned(db, settings):  # noqa: ANN001, ARG001
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (SQLite keeps one plain finance_line)")
    if not settings.LEDGER_PARTITIONS:
        pytest.skip("the test database was migrated with LEDGER_PARTITIONS=0 (plain table)")


def _rows(table: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM ONLY "{table}"')  # noqa: S608 (our table names)
        return cur.fetchone()[0]


def _partition_names() -> list[str]:
    with connection.cursor() as cur:
        cur.execute("SELECT inhrelid::regclass::text FROM pg_inherits "
                    "WHERE inhparent = 'finance_line'::regclass ORDER BY 1")
        return [r[0] for r in cur.fetchall()]


def _tamper(sql: str, params: list) -> None:
    """Raw SQL with the immutability triggers switched off, as an attacker with DB access."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(sql, params)


@pytest.fixture
def posted(ledger, user):  # noqa: ANN001
    """2026 (opened by the fixture through fiscal_year_open): the 1,000.00 approval of
    `ledger` (2 lines), a 500.00 approval on the second unit (2), a commitment of 120.50
    (2) and its payment (6): 4 entries, 12 lines."""
    entry_post(lines=approve_lines(D("500.00"), dims(unit="440300102")), description="批复2",
               user=user, on=ON)
    entry_post(lines=commit_lines(D("120.50")), description="申请", user=user,
               on=dt.date(2026, 4, 2))
    entry_post(lines=pay_lines(D("120.50")), description="支付", user=user, on=dt.date(2026, 4, 9))
    return user


class TestTheTable:
    def test_finance_line_is_partitioned_by_list_of_year(self, db):  # noqa: ANN001, ARG002
        with connection.cursor() as cur:
            cur.execute("""
                SELECT p.partstrat, a.attname FROM pg_partitioned_table p
                JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
                WHERE p.partrelid = 'finance_line'::regclass""")
            assert cur.fetchall() == [("l", "year")]
            cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = 'finance_line'::regclass ORDER BY conname")
            found = dict(cur.fetchall())
            cur.execute("SELECT tgname FROM pg_trigger WHERE tgrelid = 'finance_line'::regclass "
                        "AND NOT tgisinternal")
            triggers = [r[0] for r in cur.fetchall()]
        # the keys carry the partition key; every check and foreign key is kept by name
        # (the one foreign key: the entry's; the codes have none, finance.models.Line)
        assert found["finance_line_pkey"] == "PRIMARY KEY (id, year)"
        assert found["line_unique_seq"] == "UNIQUE (entry_id, seq, year)"
        assert "credit_fen = 0" in found["line_one_positive_side"]
        fks = sorted(d.split("REFERENCES ")[1].split("(")[0] for d in found.values()
                     if d.startswith("FOREIGN KEY"))
        assert fks == ["finance_entry"]
        assert triggers == ["finance_line_immutable"]
        assert "finance_line_default" in _partition_names()

    def test_the_immutability_trigger_guards_every_partition(self, ledger):  # noqa: ANN001, ARG002
        with pytest.raises(IntegrityError, match="immutable"), transaction.atomic(), \
                connection.cursor() as cur:
            cur.execute("UPDATE finance_line_2026 SET debit_fen = debit_fen + 1")


class TestConversion:
    def test_both_ways_with_rows_keep_ids_amounts_keys_and_verify(self, posted, user):  # noqa: ANN001
        """What migration 0012 does to a ledger that has lines (the test database is
        migrated empty): back to a plain table and partitioned again, in this transaction."""
        with connection.cursor() as cur:
            cur.execute("SELECT id, entry_id, seq, debit_fen, credit_fen FROM finance_line "
                        "ORDER BY id")
            before = cur.fetchall()
        assert len(before) == 12

        assert partitions.line_table_unpartition(connection)
        assert not partitions.line_table_partitioned()
        with connection.cursor() as cur:
            cur.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE "
                        "conrelid = 'finance_line'::regclass AND contype IN ('p', 'u')")
            assert dict(cur.fetchall()) == {"finance_line_pkey": "PRIMARY KEY (id)",
                                            "line_unique_seq": "UNIQUE (entry_id, seq)"}
            cur.execute("SELECT id, entry_id, seq, debit_fen, credit_fen FROM finance_line "
                        "ORDER BY id")
            assert cur.fetchall() == before

        assert partitions.line_table_partition(connection)
        assert partitions.line_table_partitioned()
        assert _partition_names() == ["finance_line_2026", "finance_line_default"]
        assert _rows("finance_line_2026") == 12
        with connection.cursor() as cur:
            cur.execute("SELECT id, entry_id, seq, debit_fen, credit_fen FROM finance_line "
                        "ORDER BY id")
            assert cur.fetchall() == before
        assert selectors.ledger_verify().ok
        e = entry_post(lines=approve_lines(D("1.00")), description="之后", user=user, on=ON)
        assert min(e.lines.values_list("id", flat=True)) > before[-1][0]


class TestPostingAndYears:
    def test_a_posting_lands_in_its_years_partition(self, posted):  # noqa: ANN001, ARG002
        assert _rows("finance_line_2026") == 12
        assert _rows("finance_line_default") == 0
        with connection.cursor() as cur:
            cur.execute("SELECT DISTINCT tableoid::regclass::text FROM finance_line")
            assert cur.fetchall() == [("finance_line_2026",)]

    def test_opening_a_year_creates_its_partition_once(self, ledger, user):  # noqa: ANN001
        assert "finance_line_2027" not in _partition_names()
        services.fiscal_year_open(year=2027, user=user)
        services.fiscal_year_open(year=2027, user=user)  # idempotent
        assert _partition_names().count("finance_line_2027") == 1
        entry_post(lines=approve_lines(D("80.00")), description="2027 批复", user=user,
                   on=dt.date(2027, 1, 5))
        assert _rows("finance_line_2027") == 2
        assert _rows("finance_line_2026") == 2  # the fixture's approval stays where it was

    def test_default_partition_catches_a_year_without_one_and_create_moves_it(
            self, ledger, user, settings):  # noqa: ANN001
        settings.LEDGER_PARTITIONS = False  # the service then makes no partition
        services.fiscal_year_open(year=2028, user=user)
        settings.LEDGER_PARTITIONS = True
        assert "finance_line_2028" not in _partition_names()
        e = entry_post(lines=approve_lines(D("3.00")), description="2028 批复", user=user,
                       on=dt.date(2028, 2, 1))
        assert _rows("finance_line_default") == 2
        ids = sorted(Entry.objects.get(pk=e.pk).lines.values_list("id", flat=True))

        call_command("ledger_partitions", "--create", "2028", stdout=io.StringIO())

        assert "finance_line_2028" in _partition_names()
        assert _rows("finance_line_default") == 0 and _rows("finance_line_2028") == 2
        # the same rows (ids and amounts), and the ledger still verifies
        assert sorted(Entry.objects.get(pk=e.pk).lines.values_list("id", flat=True)) == ids
        assert selectors.ledger_verify(year=2028).ok
        # the default partition is attached again with the immutability trigger enabled
        with connection.cursor() as cur:
            cur.execute("SELECT tgenabled FROM pg_trigger WHERE tgname = "
                        "'finance_line_immutable' AND tgrelid = 'finance_line_default'::regclass")
            assert cur.fetchall() == [("O",)]

    def test_unique_entry_seq_still_refuses_a_duplicate(self, ledger):  # noqa: ANN001, ARG002
        with pytest.raises(IntegrityError, match=r"Key \(entry_id, seq, year\)=.* already exists"), \
                transaction.atomic(), \
                connection.cursor() as cur:
            cur.execute("INSERT INTO finance_line (entry_id, seq, book, account_id, year, "
                        "region_id, unit_id, function_id, economic_id, fund_source_id, "
                        "project_code, debit_fen, credit_fen) "
                        "SELECT entry_id, seq, book, account_id, year, region_id, unit_id, "
                        "function_id, economic_id, fund_source_id, project_code, debit_fen, "
                        "credit_fen FROM finance_line WHERE seq = 1")

    def test_new_ids_continue_after_the_existing_ones(self, posted, user):  # noqa: ANN001
        before = max(Entry.objects.get(description="支付").lines.values_list("id", flat=True))
        e = entry_post(lines=approve_lines(D("1.00")), description="再批复", user=user, on=ON)
        assert min(e.lines.values_list("id", flat=True)) > before


class TestVerifyPerPartition:
    def test_verify_year_reads_only_that_years_partition(self, posted, user):  # noqa: ANN001
        services.fiscal_year_open(year=2027, user=user)
        entry_post(lines=approve_lines(D("9.00")), description="2027", user=user,
                   on=dt.date(2027, 1, 5))
        ids = list(Entry.objects.filter(fiscal_year=2026).values_list("id", flat=True))
        # the planner is told the partitions' sizes, as after autovacuum's ANALYZE
        with connection.cursor() as cur:
            cur.execute("ANALYZE finance_line")
        plan = selectors.verify_lines(2026, ids).explain()
        assert "finance_line_2026" in plan
        assert "finance_line_2027" not in plan and "finance_line_default" not in plan
        totals = selectors._line_totals(2026)
        assert sum(t["d"] for t in totals) == 100000 + 50000 + 12050 + 3 * 12050
        from finance.models import Line
        plan = Line.objects.filter(year=2026).values("account_id").explain()
        assert "finance_line_2027" not in plan and "finance_line_default" not in plan
        # without the year every partition is read (so the assertions above can fail)
        plan = Line.objects.filter(entry_id__in=ids).explain()
        assert "finance_line_2027" in plan and "finance_line_default" in plan

    def test_verify_ledger_year_passes_then_names_a_tampered_line(self, posted):  # noqa: ANN001
        out = io.StringIO()
        call_command("verify_ledger", "--year", "2026", stdout=out)
        target = Entry.objects.get(description="批复2")
        _tamper("UPDATE finance_line_2026 SET debit_fen = debit_fen + 100 "
                "WHERE entry_id = %s AND seq = 1", [target.pk])
        result = selectors.ledger_verify(year=2026)
        assert not result.ok
        assert (result.first_broken.fiscal_year, result.first_broken.number) == (2026, target.number)
        reasons = [p.reason for p in result.problems if p.number == target.number]
        assert "book indicator does not balance: debit 501.00 credit 500.00" in reasons
        assert "content does not match its hash (a line or field was changed)" in reasons
        with pytest.raises(CommandError, match="ledger verification failed"):
            call_command("verify_ledger", "--year", "2026", stdout=out, stderr=out)

    def test_trace_reads_one_partition(self, posted, user):  # noqa: ANN001
        services.fiscal_year_open(year=2027, user=user)
        fen, n = selectors.figure_fen("tr:v1:measure=paid;year=2026")
        assert (fen, n) == (12050, 1)  # paid = the payment's one Dr 9301 line
        plan = selectors.figure_lines("tr:v1:measure=paid;year=2026").explain()
        assert "finance_line_2026" in plan
        assert "finance_line_2027" not in plan and "finance_line_default" not in plan


# ---------------------------------------------------------------- tablespaces
@pytest.fixture(scope="module")
def tablespace(django_db_setup, django_db_blocker):  # noqa: ANN001, ARG001
    """A tablespace in a temporary directory owned by the postgres OS user, made and
    dropped through its own autocommit connection (CREATE/DROP TABLESPACE cannot run in
    the test's transaction); module-scoped so it is dropped after every test's rollback."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    db = connection.settings_dict
    if (db.get("HOST") or "") not in ("", "127.0.0.1", "localhost"):
        pytest.skip("the server is not on this machine: it cannot reach a local directory")
    try:
        owner = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres OS user to own the tablespace directory")
    if os.geteuid() not in (0, owner.pw_uid):
        pytest.skip("cannot give the directory to the postgres OS user (not root)")
    path = tempfile.mkdtemp(prefix="sf-ts-")
    os.chown(path, owner.pw_uid, owner.pw_gid)
    name = f"sf_cold_{uuid.uuid4().hex[:8]}"
    info = dict(host=db.get("HOST") or "127.0.0.1", port=db.get("PORT") or 5432,
                user=db.get("USER") or "postgres", password=db.get("PASSWORD") or None,
                dbname="postgres", autocommit=True)
    with psycopg.connect(**info) as admin:
        try:
            admin.execute(f"CREATE TABLESPACE {name} LOCATION '{path}'")
        except psycopg.Error as exc:
            shutil.rmtree(path, ignore_errors=True)
            pytest.skip(f"the server cannot make a tablespace in {path}: {exc}")
    yield name
    with psycopg.connect(**info) as admin:
        admin.execute(f"DROP TABLESPACE IF EXISTS {name}")
    with contextlib.suppress(OSError):
        shutil.rmtree(path)


@pytest.fixture
def closed_2025(ledger, user):  # noqa: ANN001
    """2025 opened through the service, one approval posted in it, then marked closed (as
    reports' year-end close leaves it: is_closed, recorded with history)."""
    services.fiscal_year_open(year=2025, user=user)
    entry_post(lines=approve_lines(D("70.00")), description="2025 批复", user=user,
               on=dt.date(2025, 5, 6))
    fy = FiscalYear.objects.get(year=2025)
    fy.is_closed = True
    services.save_with_history(fy, user=user, reason="year-end close (test set-up)")
    return fy


class TestTablespace:
    def test_a_closed_years_partition_moves_and_the_open_year_is_refused(
            self, tablespace, closed_2025):  # noqa: ANN001, ARG002
        out = io.StringIO()
        call_command("ledger_partitions", "--tablespace", tablespace, "--year", "2025",
                     stdout=out)
        with connection.cursor() as cur:
            cur.execute("SELECT c.relname, t.spcname FROM pg_class c "
                        "JOIN pg_tablespace t ON t.oid = c.reltablespace "
                        "WHERE t.spcname = %s ORDER BY c.relname", [tablespace])
            moved = cur.fetchall()
        names = [r[0] for r in moved]
        assert "finance_line_2025" in names
        assert "finance_line_2025_pkey" in names  # its indexes go along
        assert not any(n.startswith(("finance_line_2026", "finance_line_default")) for n in names)
        # the moved year still reads and verifies
        assert _rows("finance_line_2025") == 2
        assert selectors.ledger_verify(year=2025).ok
        listing = _call("ledger_partitions")
        assert "finance_line_2025" in listing and tablespace in listing

        with pytest.raises(CommandError, match="fiscal year 2026 is open"):
            call_command("ledger_partitions", "--tablespace", tablespace, "--year", "2026",
                         stdout=out)
        with pytest.raises(CommandError, match="fiscal year 2031 is unknown"):
            call_command("ledger_partitions", "--tablespace", tablespace, "--year", "2031",
                         stdout=out)

    def test_an_unknown_tablespace_is_refused(self, closed_2025):  # noqa: ANN001, ARG002
        with pytest.raises(CommandError, match="no tablespace named"):
            call_command("ledger_partitions", "--tablespace", "no_such_space", "--year", "2025",
                         stdout=io.StringIO())


def _call(*args: str) -> str:
    buf = io.StringIO()
    call_command(*args, stdout=buf)
    return buf.getvalue()
