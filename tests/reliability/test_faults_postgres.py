"""Faults on PostgreSQL: the connection of a posting killed while it holds locks, and
backup → restore into a new database → verify_ledger clean with every balance equal."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from decimal import Decimal

import psycopg
import pytest
from django.db import InterfaceError, OperationalError, connection, connections

from finance import selectors
from finance.ledger import entry_post
from finance.models import Entry
from tests.helpers import ON, YEAR, commit_lines, pay_lines

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _run(cmd: list[str], **kw: object) -> subprocess.CompletedProcess:
    """psql / pg_dump / pg_restore / manage.py with arguments built here, never from input."""
    return subprocess.run(cmd, **kw)  # noqa: S603, PLW1510


def raw() -> psycopg.Connection:
    s = connection.settings_dict
    return psycopg.connect(host=s["HOST"] or "127.0.0.1", port=s["PORT"] or 5432,
                           user=s["USER"], password=s["PASSWORD"] or None, dbname=s["NAME"],
                           autocommit=True)


class TestConnectionDroppedMidPosting:
    def test_a_posting_killed_while_it_holds_its_locks_leaves_nothing_and_the_retry_posts_once(
            self, ledger, user):
        before_available = selectors.balance(account="9101", year=YEAR)
        before_number = Entry.objects.order_by("-number").values_list("number", flat=True)[0]
        outcome: dict[str, object] = {}

        def post() -> None:
            try:
                with connection.cursor() as cur:
                    cur.execute("SELECT pg_backend_pid()")
                    outcome["pid"] = cur.fetchone()[0]
                entry_post(lines=commit_lines(Decimal("250.00")), description="申请 killed",
                           user=user, on=ON, idempotency_key="rel:killed:1")
                outcome["result"] = "posted"
            except (OperationalError, InterfaceError) as exc:
                outcome["result"] = type(exc).__name__
            finally:
                connections.close_all()

        blocker = raw()
        blocker.execute("BEGIN")
        # the sequence row is taken last: the posting has moved its balances and waits here
        blocker.execute("SELECT * FROM finance_vouchersequence WHERE fiscal_year = %s FOR UPDATE",
                        [YEAR])
        worker = threading.Thread(target=post)
        worker.start()
        killer = raw()
        for _ in range(200):
            pid = outcome.get("pid")
            if pid and killer.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND wait_event_type = "
                    "'Lock'", [pid]).fetchone()[0]:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the posting never reached the voucher-sequence lock")
        # it holds the balance row of 9101 by now: a reader sees the committed value only
        killer.execute("SELECT pg_terminate_backend(%s)", [outcome["pid"]])
        worker.join(10)
        blocker.execute("ROLLBACK")
        blocker.close()
        killer.close()

        assert outcome["result"] in ("OperationalError", "InterfaceError")
        assert not Entry.objects.filter(idempotency_key="rel:killed:1").exists()
        assert selectors.balance(account="9101", year=YEAR) == before_available
        assert selectors.balance(account="9201", year=YEAR) == Decimal("0.00")

        retried = entry_post(lines=commit_lines(Decimal("250.00")), description="申请 killed",
                             user=user, on=ON, idempotency_key="rel:killed:1")
        again = entry_post(lines=commit_lines(Decimal("250.00")), description="申请 killed",
                           user=user, on=ON, idempotency_key="rel:killed:1")
        assert again.pk == retried.pk
        assert retried.number == before_number + 1  # no gap where the killed posting was
        assert selectors.balance(account="9101", year=YEAR) == before_available - Decimal("250.00")
        assert selectors.ledger_verify().ok


class TestBackupAndRestore:
    def test_a_restored_dump_verifies_clean_with_every_balance_equal(self, ledger, user):
        entry_post(lines=commit_lines(Decimal("300.00")), description="申请", user=user, on=ON)
        entry_post(lines=pay_lines(Decimal("120.50")), description="支付", user=user, on=ON)
        s = connection.settings_dict
        src, dst = s["NAME"], f"{s['NAME']}_restored"
        host = ["-h", s["HOST"] or "127.0.0.1", "-U", s["USER"] or "postgres"]
        env = {**os.environ, "PGPASSWORD": s["PASSWORD"] or ""}
        _run(["psql", *host, "-qc", f"DROP DATABASE IF EXISTS {dst}", "postgres"],
                       check=True, env=env)
        _run(["psql", *host, "-qc", f"CREATE DATABASE {dst}", "postgres"], check=True,
                       env=env)
        try:
            dump = _run(["pg_dump", *host, "-Fc", src], check=True, env=env,
                                  capture_output=True).stdout
            _run(["pg_restore", *host, "-d", dst, "--no-owner"], input=dump,
                           check=True, env=env)
            url = (f"postgres://{s['USER'] or 'postgres'}@{s['HOST'] or '127.0.0.1'}:"
                   f"{s['PORT'] or 5432}/{dst}")
            verify = _run([".venv/bin/python", "manage.py", "verify_ledger"],
                                    env={**env, "DATABASE_URL": url}, capture_output=True,
                                    text=True, check=False)
            assert verify.returncode == 0, verify.stderr
            assert "ledger OK" in verify.stdout
            q = ("SELECT account_id, dim_key, debit_fen, credit_fen FROM finance_balance "
                 "ORDER BY account_id, dim_key")
            with raw() as a:
                original = a.execute(q).fetchall()
            with psycopg.connect(url) as b:
                restored = b.execute(q).fetchall()
                restored_entries = b.execute("SELECT count(*), max(number) FROM finance_entry"
                                             ).fetchone()
            assert restored == original and len(original) > 0
            assert restored_entries == (Entry.objects.count(),
                                        Entry.objects.order_by("-number")[0].number)
        finally:
            _run(["psql", *host, "-qc", f"DROP DATABASE IF EXISTS {dst}", "postgres"],
                           check=False, env=env)
