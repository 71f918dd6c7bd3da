"""Issue 20: tamper evidence against the database's own superuser. Each attack is done
as that superuser would (raw SQL, triggers off), with the project's own code for every
hash it can recompute; the ledger key (LEDGER_KEYS) is not in the database, so the
keyed MACs and seals give the rewrite away, and the anchors give away what MACs cannot
(a chain cut back). verify_ledger names every broken item and exits non-zero."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
from collections import defaultdict
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone

from audit import anchors, seals, services
from audit.models import HistorySeal
from finance import selectors
from finance import services as finance_services
from finance.chain import EntryMac, anchors_read, entry_mac, ledger_keys
from finance.ids import make_uscc
from finance.ledger import canonical_content, chain_hash, sha256
from finance.models import Entry, Line, Organization
from tests.audit.conftest import request_and_pay
from tests.helpers import sealed_under_the_key_now_set

D = Decimal
LATER = timezone.now() + dt.timedelta(days=1)
K1 = base64.b64encode(b"k1: the city's ledger secret, 32B").decode()
K2 = base64.b64encode(b"k2: the rotated ledger secret 32B").decode()


@pytest.fixture(autouse=True)
def keyed(db):  # noqa: ANN001, ARG001
    """The ledger key of the test, set before anything is posted; restored after. The
    installation has always had it (`sealed_under_the_key_now_set`)."""
    old = os.environ.get("LEDGER_KEYS")
    os.environ["LEDGER_KEYS"] = f"k1:{K1}"
    ledger_keys.cache_clear()
    sealed_under_the_key_now_set()
    yield
    if old is None:
        os.environ.pop("LEDGER_KEYS", None)
    else:
        os.environ["LEDGER_KEYS"] = old
    ledger_keys.cache_clear()


def _use_keys(spec: str) -> None:
    os.environ["LEDGER_KEYS"] = spec
    ledger_keys.cache_clear()


def _tamper(sql: str, params: list | None = None) -> None:
    """Raw SQL with the immutability triggers switched off, as the database superuser."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SET LOCAL session_replication_role = replica")
        cur.execute(sql, params or [])


@pytest.fixture
def posted(budget, orgs):
    """Three payments (entries 5-10) and the bureau renamed twice, all history sealed."""
    for amount in (D("10.00"), D("20.00"), D("30.00")):
        request_and_pay(budget, amount)
    for name in ("深圳市财政局（新）", "深圳市财政局"):
        finance_services.organization_upsert(
            code="440300001", name=name, kind="bureau", region_code="440300",
            uscc=make_uscc("440300", 1), user=budget["filer"], reason="rename")
    services.history_seal(as_of=LATER)
    assert selectors.ledger_verify().ok
    return budget


# ------------------------------------------------------------- the attacker's tools
_BALANCES_FROM_LINES = """
UPDATE finance_balance b SET debit_fen = t.d, credit_fen = t.c FROM (
  SELECT l.account_id, concat_ws('|', l.year, coalesce(r.code, ''), coalesce(u.code, ''),
         coalesce(f.code, ''), coalesce(e.code, ''), coalesce(s.code, ''), l.project_code) AS k,
         sum(l.debit_fen) AS d, sum(l.credit_fen) AS c
  FROM finance_line l
  LEFT JOIN finance_region r ON r.id = l.region_id
  LEFT JOIN finance_organization u ON u.id = l.unit_id
  LEFT JOIN finance_functioncode f ON f.id = l.function_id
  LEFT JOIN finance_economiccode e ON e.id = l.economic_id
  LEFT JOIN finance_fundsource s ON s.id = l.fund_source_id
  GROUP BY 1, 2) t
WHERE b.account_id = t.account_id AND b.dim_key = t.k
"""


def _content_hash(entry: Entry) -> str:
    """The entry's content hash from its stored lines, as verify_ledger computes it."""
    lines = []
    for ln in Line.objects.filter(entry=entry).order_by("seq").select_related(
            "account", "region", "unit", "function", "economic", "fund_source"):
        key = "|".join((str(ln.year), *[getattr(getattr(ln, n), "code", "") or "" for n in
                                         ("region", "unit", "function", "economic",
                                          "fund_source")], ln.project_code))
        lines.append((ln.seq, ln.book, ln.account.code, key, ln.debit_fen, ln.credit_fen))
    source = (f"{entry.source_type.app_label}.{entry.source_type.model}:{entry.source_id}"
              if entry.source_type_id else "")
    return sha256(canonical_content(
        year=entry.fiscal_year, date=entry.date.isoformat(), description=entry.description,
        kind=entry.kind, source=source, tracking_id=entry.tracking_id,
        reverses=(f"{entry.reverses.fiscal_year}-{entry.reverses.number}"
                  if entry.reverses_id else ""), lines=lines))


def _rechain(year: int, *, mac_key: tuple[str, bytes] | None = None, mac_from: int = 1) -> None:
    """Recompute every content hash, every chain hash and the sequence head with the
    project's own functions; with `mac_key`, also every MAC from entry `mac_from` on
    with that key."""
    prev = sha256(f"{'0' * 64}|smart-finance|{year}")
    last = None
    for e in Entry.objects.filter(fiscal_year=year).order_by("number"):
        content = _content_hash(e)
        new = chain_hash(prev_hash=prev, number=e.number, content_hash=content,
                         posted_by=e.posted_by_id, posted_at=e.posted_at)
        _tamper("UPDATE finance_entry SET content_hash = %s, prev_hash = %s, hash = %s "
                "WHERE id = %s", [content, prev, new, e.pk])
        if mac_key is not None and e.number >= mac_from:
            kid, key = mac_key
            mac = hmac.new(key, f"{kid}|{year}|{e.number}|{new}".encode(),
                           hashlib.sha256).hexdigest()
            _tamper("UPDATE finance_entrymac SET key_id = %s, mac = %s WHERE entry_id = %s",
                    [kid, mac, e.pk])
        last, prev = (e.number, prev), new
    _tamper("UPDATE finance_vouchersequence SET last_number = %s, last_hash = %s, "
            "prev_hash = %s WHERE fiscal_year = %s", [last[0], prev, last[1], year])
    _tamper(_BALANCES_FROM_LINES)


def _raise_amount(entry: Entry, fen: int) -> None:
    """Both sides of the entry's first two lines raised: it still balances."""
    _tamper("UPDATE finance_line SET debit_fen = debit_fen + %s WHERE entry_id = %s AND seq = 1",
            [fen, entry.pk])
    _tamper("UPDATE finance_line SET credit_fen = credit_fen + %s WHERE entry_id = %s "
            "AND seq = 2", [fen, entry.pk])


def _reasons(result: selectors.VerifyResult) -> dict[str, list[str]]:
    by: dict[str, list[str]] = defaultdict(list)
    for p in result.problems:
        key = f"{p.fiscal_year}-{p.number}" if p.number is not None and not p.where else p.where
        by[key].append(p.reason)
    return by


# ------------------------------------------------------------------ the attacks
@pytest.mark.postgres
class TestEachAttackIsNamed:
    def test_changed_line(self, posted, capsys):
        target = Entry.objects.get(number=6)
        _tamper("UPDATE finance_line SET project_code = 'X' WHERE entry_id = %s AND seq = 1",
                [target.pk])
        with pytest.raises(CommandError, match="ledger verification failed"):
            call_command("verify_ledger")
        err = capsys.readouterr().err
        assert f"FIRST BROKEN: entry 2026-6 (id {target.pk}): content does not match" in err

    def test_deleted_line(self, posted):
        target = Entry.objects.get(number=10)  # a payment: six lines
        _tamper("DELETE FROM finance_line WHERE entry_id = %s AND seq IN (5, 6)", [target.pk])
        problem = selectors.ledger_verify().first_broken
        assert (problem.number, problem.entry_id) == (10, target.pk)
        assert "content does not match" in problem.reason

    def test_forged_balanced_entry(self, posted):
        last = Entry.objects.order_by("-number").first()
        # a balanced copy of the last payment chained onto it with the project's own
        # formula, the sequence head moved: only the missing MAC can tell
        new_hash = chain_hash(prev_hash=last.hash, number=last.number + 1,
                              content_hash=last.content_hash, posted_by=last.posted_by_id,
                              posted_at=last.posted_at)
        _tamper("INSERT INTO finance_entry (fiscal_year, number, date, month, description, kind, "
                "source_type_id, source_id, tracking_id, content_hash, prev_hash, hash, "
                "posted_by_id, posted_at) SELECT fiscal_year, number + 1, date, month, "
                "description, kind, source_type_id, source_id, tracking_id, content_hash, hash, "
                "%s, posted_by_id, posted_at FROM finance_entry WHERE id = %s",
                [new_hash, last.pk])
        added = Entry.objects.get(number=last.number + 1)
        _tamper("INSERT INTO finance_line (entry_id, seq, book, account_id, year, region_id, "
                "unit_id, function_id, economic_id, fund_source_id, project_code, debit_fen, "
                "credit_fen) SELECT %s, seq, book, account_id, year, region_id, unit_id, "
                "function_id, economic_id, fund_source_id, project_code, debit_fen, credit_fen "
                "FROM finance_line WHERE entry_id = %s", [added.pk, last.pk])
        _tamper("UPDATE finance_vouchersequence SET last_number = %s, last_hash = %s, "
                "prev_hash = %s", [added.number, new_hash, last.hash])
        _tamper(_BALANCES_FROM_LINES)
        result = selectors.ledger_verify()
        assert [str(p) for p in result.problems] == [
            f"entry 2026-{added.number} (id {added.pk}): has no keyed MAC "
            "(written outside the posting service)"]

    def test_edited_balance_is_named_by_year_account_and_dimensions(self, posted, capsys):
        from finance.models import Balance

        target = Balance.objects.select_related("account").filter(
            dim_key__contains="|440300101|2050203|").order_by("id").first()
        _tamper("UPDATE finance_balance SET debit_fen = debit_fen + 1 WHERE id = %s", [target.pk])
        result = selectors.ledger_verify()
        assert len(result.problems) == 1
        problem = result.problems[0]
        assert problem.fiscal_year == 2026
        name = (f"balance 2026 account {target.account.code} [region=440300, unit=440300101, "
                "function=2050203")
        assert problem.where.startswith(name), problem.where
        with pytest.raises(CommandError):
            call_command("verify_ledger")
        assert f"FIRST BROKEN: {name}" in capsys.readouterr().err

    def test_swapped_amounts_inside_an_entry(self, posted):
        target = Entry.objects.get(number=6)  # a payment: six lines
        # the debit and the credit amount of its first two lines swapped: still balanced
        _tamper("UPDATE finance_line SET debit_fen = credit_fen, credit_fen = debit_fen "
                "WHERE entry_id = %s AND seq IN (1, 2)", [target.pk])
        _tamper(_BALANCES_FROM_LINES)
        problem = selectors.ledger_verify().first_broken
        assert (problem.number, problem.entry_id) == (6, target.pk)
        assert "content does not match" in problem.reason

    def test_edited_sealed_history_row(self, posted, capsys):
        row = Organization.history.filter(name="深圳市财政局（新）").get()
        _tamper("UPDATE finance_historicalorganization SET name = %s WHERE history_id = %s",
                ["深圳市财政局（改）", row.history_id])
        with pytest.raises(CommandError):
            call_command("verify_ledger")
        assert (f"FIRST BROKEN: history finance.organization row {row.history_id}: "
                "row content does not match its seal (changed)") in capsys.readouterr().err


@pytest.mark.postgres
class TestRewriteAndRechain:
    def test_ledger_rewritten_and_rechained_is_caught_by_the_macs(self, posted, capsys):
        target = Entry.objects.get(number=6)
        _raise_amount(target, 100_000)
        _rechain(2026)
        result = selectors.ledger_verify()
        by = _reasons(result)
        # every unkeyed check passes now — content, links, head, balances …
        assert all("keyed MAC does not match" in r for rs in by.values() for r in rs), by
        # … and every entry from the rewritten one on is named, the first first
        last = Entry.objects.order_by("-number").first().number
        assert sorted(by, key=lambda k: int(k.split("-")[1])) == [
            f"2026-{n}" for n in range(6, last + 1)]
        assert (result.first_broken.number, result.first_broken.entry_id) == (6, target.pk)
        with pytest.raises(CommandError, match=f"{last - 5} problem"):
            call_command("verify_ledger")
        assert f"FIRST BROKEN: entry 2026-6 (id {target.pk}): keyed MAC" in capsys.readouterr().err

    def test_history_rewritten_and_resealed_is_caught_by_the_keyed_seals(self, posted):
        hm = Organization.history.model
        table = hm._meta.db_table
        row = Organization.history.filter(name="深圳市财政局（新）").get()
        _tamper(f"UPDATE {table} SET name = %s WHERE history_id = %s",  # noqa: S608
                ["深圳市财政局（改）", row.history_id])
        # re-seal from the edited row on with the project's code and a guessed key
        columns = seals._columns(hm)
        seal_rows = list(HistorySeal.objects.filter(table=table, history_id__gte=row.history_id)
                         .order_by("history_id"))
        prev = seal_rows[0].prev_hash
        guess = b"smart-finance-development-only-ledger-key-not-secret"
        for seal in seal_rows:
            values = hm.objects.filter(history_id=seal.history_id).values_list(*columns).get()
            rh = seals.row_hash(columns, values)
            mac = hmac.new(guess, f"k1|history|{table}|{prev}|{seal.history_id}|{rh}".encode(),
                           hashlib.sha256).hexdigest()
            new = f"k1:{mac[:61]}"
            _tamper("UPDATE audit_historyseal SET row_hash = %s, prev_hash = %s, "
                    "chain_hash = %s WHERE id = %s", [rh, prev, new, seal.pk])
            prev = new
        result = selectors.ledger_verify()
        wheres = [p.where for p in result.problems]
        assert wheres == [f"history finance.organization row {s.history_id}" for s in seal_rows]
        assert result.first_broken.reason == (
            "seal chain is broken (a seal was removed, changed or forged)")


@pytest.mark.postgres
class TestStolenDatabaseWithoutTheKey:
    @pytest.mark.parametrize(("kid", "key"), [
        ("dev", b"smart-finance-development-only-ledger-key-not-secret"),  # the public key
        ("k1", b"a guess at the city's ledger key!"),  # the right id, the wrong secret
    ])
    def test_cannot_forge_a_chain_that_verifies(self, posted, kid, key):
        target = Entry.objects.get(number=4)
        _raise_amount(target, 500_000)
        _rechain(2026, mac_key=(kid, key), mac_from=4)  # every hash and MAC from 4 on redone
        result = selectors.ledger_verify()
        assert not result.ok
        assert (result.first_broken.number, result.first_broken.entry_id) == (4, target.pk)
        expected = ("which is not configured here" if kid == "dev"
                    else "keyed MAC does not match")
        assert expected in result.first_broken.reason
        assert result.problems_found == Entry.objects.count() - 3  # entries 4.. all named


@pytest.mark.postgres
class TestAnchors:
    def test_a_cut_back_ledger_passes_the_macs_but_not_the_anchor_file(self, posted, tmp_path):
        path = tmp_path / "anchors.jsonl"
        written = anchors.ledger_anchor(path=path)
        assert [(a.year, a.number) for a in written] == [(2026, 10)]
        assert anchors.ledger_anchor(path=path) == []  # nothing new: nothing appended
        # the superuser deletes the last payment and rewinds the sequence head
        last = Entry.objects.get(number=10)
        _tamper("DELETE FROM finance_line WHERE entry_id = %s", [last.pk])
        _tamper("DELETE FROM finance_entrymac WHERE entry_id = %s", [last.pk])
        _tamper("DELETE FROM finance_entry WHERE id = %s", [last.pk])
        _tamper("UPDATE finance_vouchersequence SET last_number = 9, last_hash = prev_hash, "
                "prev_hash = (SELECT prev_hash FROM finance_entry WHERE number = 9)")
        _tamper(_BALANCES_FROM_LINES)
        assert selectors.ledger_verify().ok  # consistent, every MAC genuine
        result = selectors.ledger_verify(anchors=anchors_read(path))
        assert [str(p) for p in result.problems] == [
            f"anchor {path}:1 (entry 2026-10, day {written[0].day}): the anchored entry is "
            "missing (ledger cut back)"]

    def test_the_printed_report_and_a_manifest_are_anchors(self, posted, tmp_path, capsys):
        call_command("verify_ledger")
        report = tmp_path / "verify.txt"
        report.write_text(capsys.readouterr().out, encoding="utf-8")
        manifest = tmp_path / "manifest.json"
        manifest.write_text(json.dumps({"files": [], "ledger_anchors": [
            a.as_dict() for a in selectors.chain_heads()]}), encoding="utf-8")
        call_command("verify_ledger", "--anchors", str(report), str(manifest))
        assert "2 anchors" in capsys.readouterr().out
        # a rewrite after the report: even with the MACs (a stolen key), the anchors differ
        target = Entry.objects.get(number=10)
        _raise_amount(target, 100)
        kid, key = "k1", base64.b64decode(K1)
        _rechain(2026, mac_key=(kid, key))
        assert selectors.ledger_verify().ok  # the key was stolen: the MACs are genuine
        with pytest.raises(CommandError, match="2 problem"):
            call_command("verify_ledger", "--anchors", str(report), str(manifest))
        err = capsys.readouterr().err
        assert f"FIRST BROKEN: anchor {report}:" in err and "(chain rewritten after the anchor)" in err
        assert f"anchor {manifest} (manifest)" in err


class TestKeys:
    def test_rotation_keeps_old_entries_verifying(self, budget):
        assert set(EntryMac.objects.values_list("key_id", flat=True)) == {"k1"}
        _use_keys(f"k2:{K2},k1:{K1}")  # k2 is new and signs; k1 still verifies
        request_and_pay(budget, D("12.34"))
        assert EntryMac.objects.filter(key_id="k2").count() == 2
        assert selectors.ledger_verify().ok
        _use_keys(f"k2:{K2}")  # k1 dropped: its entries and seals can no longer be checked
        result = selectors.ledger_verify()
        assert result.problems_found == (EntryMac.objects.filter(key_id="k1").count()
                                         + HistorySeal.objects.filter(
                                             chain_hash__startswith="k1:").count())
        assert "key id 'k1', which is not configured here" in result.first_broken.reason

    def test_the_mac_is_the_documented_hmac(self, budget):
        e = Entry.objects.order_by("number").first()
        stored = EntryMac.objects.get(entry=e)
        mac = hmac.new(base64.b64decode(K1), f"k1|{e.fiscal_year}|{e.number}|{e.hash}".encode(),
                       hashlib.sha256).hexdigest()
        assert (stored.key_id, stored.mac) == ("k1", mac)
        assert entry_mac(year=e.fiscal_year, number=e.number, entry_hash=e.hash) == ("k1", mac)

    def test_a_bad_key_setting_is_refused(self):
        from django.core.exceptions import ImproperlyConfigured

        for spec in ("nocolon", "k1:not-base64!", f"k1:{base64.b64encode(b'short').decode()}"):
            _use_keys(spec)
            with pytest.raises(ImproperlyConfigured):
                ledger_keys()

    def test_a_key_file(self, tmp_path):
        path = tmp_path / "ledger.keys"
        path.write_text(f"# newest first\nk3:{K2}\nk1:{K1}\n", encoding="utf-8")
        os.environ.pop("LEDGER_KEYS")
        os.environ["LEDGER_KEY_FILE"] = str(path)
        try:
            ledger_keys.cache_clear()
            keys = ledger_keys()
            assert (keys.signing, sorted(keys.by_id)) == ("k3", ["k1", "k3"])
        finally:
            os.environ.pop("LEDGER_KEY_FILE")


class TestEveryBrokenItem:
    def test_verification_goes_on_past_a_broken_entry_with_a_limit(self, budget, capsys):
        for amount in ("1.00", "2.00", "3.00"):
            request_and_pay(budget, D(amount))
        # two entries without their MACs (any database, no trigger to switch off)
        ids = list(Entry.objects.filter(number__in=(4, 8)).values_list("pk", flat=True))
        EntryMac.objects.filter(entry_id__in=ids).delete()
        result = selectors.ledger_verify()
        assert [(p.number, p.reason) for p in result.problems] == [
            (4, "has no keyed MAC (written outside the posting service)"),
            (8, "has no keyed MAC (written outside the posting service)")]
        assert result.entries_checked == Entry.objects.count()
        with pytest.raises(CommandError, match="2 problem"):
            call_command("verify_ledger", "--limit", "1")
        err = capsys.readouterr().err
        assert "FIRST BROKEN: entry 2026-4" in err and "and 1 more" in err
