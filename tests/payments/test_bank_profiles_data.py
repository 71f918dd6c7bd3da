"""The shipped bank profiles: one per agent bank of the city, usable, different from
each other, restored by `bank_profiles_load` without touching what treasury edited."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from citysim import banks
from payments.models import BankProfile
from payments.profiles import shipped


def test_every_agent_bank_of_the_city_has_its_own_usable_profile(db):  # noqa: ARG001
    by_bank = {p.cnaps: p for p in BankProfile.objects.exclude(cnaps="")}
    assert sorted(by_bank) == sorted(banks.BANKS)
    for p in BankProfile.objects.all():
        assert p.dialect().problems() == [], p.code
    for cnaps, p in by_bank.items():  # the statements each bank says it sends
        sends = {f.split(".")[0] for f in banks.STATEMENTS[cnaps]}
        assert set(p.statement_formats) == sends, p.code


def test_no_two_banks_write_their_result_file_alike(db):  # noqa: ARG001
    shapes = [(p.encoding, p.delimiter, tuple(sorted((k, tuple(v)) for k, v in
                                                     p.result_columns.items())),
               tuple(p.time_formats), tuple(sorted(p.statuses.items())))
              for p in BankProfile.objects.exclude(cnaps="")]
    assert len(set(shapes)) == len(shapes) == 9


@pytest.mark.django_db
def test_a_bad_time_format_is_a_problem():
    p = BankProfile.objects.get(code="icbc-sz")
    for bad in ("%Q", "yyyy-mm-dd", "%Y-%m-%d %"):
        p.time_formats = [bad]
        assert any("time format" in x for x in p.dialect().problems()), bad


@pytest.mark.django_db
def test_the_command_restores_a_missing_profile_and_leaves_an_edited_one(capsys):
    BankProfile.objects.filter(code="ceb-sz").delete()
    edited = BankProfile.objects.get(code="icbc-sz")
    edited.statuses = {**edited.statuses, "交易关闭": "rejected"}
    edited.save()
    call_command("bank_profiles_load")
    assert "1 added, 0 reset" in capsys.readouterr().out
    restored = BankProfile.objects.get(code="ceb-sz")
    assert restored.history.first().history_change_reason == "shipped profile"
    assert BankProfile.objects.get(code="icbc-sz").statuses["交易关闭"] == "rejected"
    call_command("bank_profiles_load", "--reset", "icbc-sz")
    assert "交易关闭" not in BankProfile.objects.get(code="icbc-sz").statuses
    assert BankProfile.objects.count() == len(shipped())
