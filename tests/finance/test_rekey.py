"""`manage.py ledger_rekey` (issue 20): every MAC under the old key is moved to the new
one after being verified under the old key; a ledger rekeyed verifies with the new key
alone; anything tampered is refused, named, and keeps its old MAC (re-MACing it would
launder the tampering). SQLite and PostgreSQL; the rewrite-and-rechain case needs the
PostgreSQL superuser's tools (triggers off)."""
from __future__ import annotations

import datetime as dt
import os
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from audit import services
from audit.models import HistorySeal
from finance import selectors
from finance import services as finance_services
from finance.chain import Anchor, EntryMac, anchors_append, anchors_read, entries_rekey, ledger_keys
from finance.ids import make_uscc
from finance.models import Entry, Organization
from tests.audit.conftest import budget, people, request_and_pay  # noqa: F401 - fixtures
from tests.audit.test_tamper_keyed import K1, K2, _raise_amount, _rechain
from tests.helpers import sealed_under_the_key_now_set

D = Decimal
LATER = timezone.now() + dt.timedelta(days=1)


def _use_keys(spec: str) -> None:
    os.environ["LEDGER_KEYS"] = spec
    ledger_keys.cache_clear()


@pytest.fixture(autouse=True)
def keyed(db):  # noqa: ANN001, ARG001
    old = os.environ.get("LEDGER_KEYS")
    _use_keys(f"k1:{K1}")
    sealed_under_the_key_now_set()  # the installation has always had k1
    yield
    if old is None:
        os.environ.pop("LEDGER_KEYS", None)
    else:
        os.environ["LEDGER_KEYS"] = old
    ledger_keys.cache_clear()


@pytest.fixture
def keyed_ledger(budget):  # noqa: F811

    """Entries 1-10 under k1 (approvals and three payments), the bureau renamed twice,
    all history sealed under k1; then k2 added as the signing key (k1 still verifies)
    and one more payment posted and sealed under k2."""
    who = budget
    for amount in (D("10.00"), D("20.00"), D("30.00")):
        request_and_pay(who, amount)
    for name in ("深圳市财政局（新）", "深圳市财政局"):
        finance_services.organization_upsert(
            code="440300001", name=name, kind="bureau", region_code="440300",
            uscc=make_uscc("440300", 1), user=who["filer"], reason="rename")
    services.history_seal(as_of=LATER)
    _use_keys(f"k2:{K2},k1:{K1}")
    request_and_pay(who, D("40.00"))
    services.history_seal(as_of=LATER + dt.timedelta(minutes=1))
    assert selectors.ledger_verify().ok
    assert EntryMac.objects.filter(key_id="k2").count() == 2
    return who


def _k1_items() -> tuple[int, int]:
    return (EntryMac.objects.filter(key_id="k1").count(),
            HistorySeal.objects.filter(chain_hash__startswith="k1:").count())


class TestRekey:
    def test_a_rekeyed_ledger_verifies_with_only_the_new_key(self, keyed_ledger, capsys,
                                                             tmp_path):
        entries_k1, seals_k1 = _k1_items()
        assert entries_k1 > 0 and seals_k1 > 0
        # an anchor written when entry 10 (MACed with k1) was the head
        e10 = Entry.objects.get(number=10)
        mac10 = EntryMac.objects.get(entry=e10)
        anchor_file = anchors_append([Anchor(2026, 10, e10.hash, mac10.mac, "k1", "2026-06-15")],
                                     tmp_path / "anchors.jsonl")
        call_command("ledger_rekey", "--from", "k1", "--batch", "3")
        out = capsys.readouterr().out
        assert f"entries: {entries_k1} under 'k1' checked, {entries_k1} rekeyed to 'k2', 0 refused" in out
        assert "history finance.organization:" in out and "nothing refused" in out
        assert _k1_items() == (0, 0)
        _use_keys(f"k2:{K2}")  # k1 dropped
        result = selectors.ledger_verify(anchors=anchors_read(anchor_file))
        assert result.ok, [str(p) for p in result.problems]
        assert result.anchors_checked == 1  # same hash, new MAC under k2: a rekey, not a rewrite
        assert result.checked["sealed history rows"] == HistorySeal.objects.count()
        # postings and seals after the rekey go on the same way
        request_and_pay(keyed_ledger, D("50.00"))
        services.history_seal(as_of=LATER + dt.timedelta(minutes=2))
        assert selectors.ledger_verify().ok

    def test_a_second_run_finds_nothing_and_a_dry_run_changes_nothing(self, keyed_ledger, capsys):
        before = list(EntryMac.objects.order_by("entry_id").values_list("key_id", "mac"))
        seals = list(HistorySeal.objects.order_by("id").values_list("prev_hash", "chain_hash"))
        call_command("ledger_rekey", "--from", "k1", "--dry-run")
        assert "would rekey" in capsys.readouterr().out
        assert list(EntryMac.objects.order_by("entry_id").values_list("key_id", "mac")) == before
        assert list(HistorySeal.objects.order_by("id")
                    .values_list("prev_hash", "chain_hash")) == seals
        call_command("ledger_rekey", "--from", "k1", "--to", "k2")
        capsys.readouterr()
        call_command("ledger_rekey", "--from", "k1", "--to", "k2")  # again: nothing left
        out = capsys.readouterr().out
        assert "entries: 0 under 'k1' checked, 0 rekeyed to 'k2', 0 refused" in out
        assert "history" not in out  # no table holds a k1 seal any more

    def test_an_interrupted_run_is_resumed(self, keyed_ledger):
        total = EntryMac.objects.filter(key_id="k1").count()
        calls = []

        def stop_after_two_batches(line: str) -> None:
            calls.append(line)
            if len(calls) == 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            entries_rekey(old="k1", new="k2", batch=2, progress=stop_after_two_batches)
        assert EntryMac.objects.filter(key_id="k1").count() == total - 4  # 2 batches committed
        assert selectors.ledger_verify().ok  # a half-rekeyed ledger verifies with both keys
        result = entries_rekey(old="k1", new="k2", batch=2)
        assert (result.checked, result.rekeyed, result.refused) == (total - 4, total - 4, 0)
        assert not EntryMac.objects.filter(key_id="k1").exists()

    def test_a_tampered_entry_is_refused_and_named(self, keyed_ledger, capsys):
        target = Entry.objects.get(number=6)
        mac = EntryMac.objects.get(entry=target)
        EntryMac.objects.filter(pk=mac.pk).update(mac="0" * 64)  # a forged MAC
        with pytest.raises(CommandError, match="1 item.* do not verify under key 'k1'"):
            call_command("ledger_rekey", "--from", "k1", "--batch", "4")
        err = capsys.readouterr().err
        assert (f"REFUSED entry 2026-6 (id {target.pk}): keyed MAC does not match") in err
        assert EntryMac.objects.get(entry=target).key_id == "k1"  # left as it was
        assert _k1_items() == (1, 0)
        _use_keys(f"k2:{K2}")
        result = selectors.ledger_verify()
        assert [str(p) for p in result.problems] == [
            f"entry 2026-6 (id {target.pk}): keyed MAC made with key id 'k1', which is not "
            "configured here"]

    def test_a_tampered_history_row_is_refused_and_named(self, keyed_ledger, capsys):
        hm = Organization.history.model
        row = Organization.history.filter(name="深圳市财政局（新）").get()
        hm.objects.filter(history_id=row.history_id).update(name="深圳市财政局（改）")
        with pytest.raises(CommandError, match="do not verify"):
            call_command("ledger_rekey", "--from", "k1")
        err = capsys.readouterr().err
        assert (f"REFUSED history finance.organization row {row.history_id}: row content does "
                "not match its seal (changed)") in err
        table = hm._meta.db_table
        assert HistorySeal.objects.get(table=table, history_id=row.history_id) \
            .chain_hash.startswith("k1:")
        assert _k1_items() == (0, 1)
        _use_keys(f"k2:{K2}")
        result = selectors.ledger_verify()
        assert {p.where for p in result.problems} == {
            f"history finance.organization row {row.history_id}"}

    def test_keys_must_be_configured(self, keyed_ledger):
        with pytest.raises(CommandError, match="'k9' is not configured"):
            call_command("ledger_rekey", "--from", "k9")
        with pytest.raises(CommandError, match="same key id"):
            call_command("ledger_rekey", "--from", "k2")


@pytest.mark.postgres
class TestRekeyAgainstTheSuperuser:
    def test_a_rewritten_and_rechained_ledger_is_refused_from_the_rewrite_on(
            self, keyed_ledger, capsys):
        target = Entry.objects.get(number=6)
        _raise_amount(target, 100_000)
        _rechain(2026)  # every hash and the head recomputed without the key
        with pytest.raises(CommandError, match="do not verify under key 'k1'"):
            call_command("ledger_rekey", "--from", "k1")
        err = capsys.readouterr().err
        k1_numbers = sorted(Entry.objects.filter(keyed_mac__key_id="k1")
                            .values_list("number", flat=True))
        # entries 6-10 (k1) refused and named; the k2 ones were never under k1
        assert k1_numbers == [6, 7, 8, 9, 10]
        for n in k1_numbers:
            e = Entry.objects.get(number=n)
            assert f"REFUSED entry 2026-{n} (id {e.pk}): keyed MAC does not match" in err
        _use_keys(f"k2:{K2}")
        result = selectors.ledger_verify()
        assert result.first_broken.number == 6
        assert {p.number for p in result.problems} == set(
            Entry.objects.filter(number__gte=6).values_list("number", flat=True))
