"""Loading code lists: idempotent, bad rows reported with file/line/reason, retire not delete."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from finance.importers.codes import codes_import
from finance.models import Account, EconomicCode, FunctionCode, Region
from tests.conftest import CODES_DIR, SAMPLES


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    d = tmp_path / "codes"
    shutil.copytree(CODES_DIR, d)
    return d


class TestCodesImport:
    def test_loads_the_shared_sample_format(self, db):
        report = codes_import(directory=SAMPLES / "classification")
        assert FunctionCode.objects.count() == 54
        assert FunctionCode.objects.get(code="2010101").parent.code == "20101"
        assert Account.objects.get(code="8101").normal_side == "credit"
        # the samples carry no government economic list, so the mapping cannot resolve:
        # every department row is reported, none is half-loaded
        assert {i.file for i in report.issues} == {"economic_codes_department.csv"}
        assert len(report.issues) == 37
        assert report.issues[0].reason == "government economic code 501 does not exist"
        assert EconomicCode.objects.count() == 0

    def test_loads_shipped_lists_with_mapping_and_control_accounts(self, codes):
        assert EconomicCode.objects.get(code="30212").government.code == "50207"
        avail = Account.objects.get(code="9101")
        assert (avail.book, avail.must_not_go_negative) == ("indicator", True)
        assert Region.objects.filter(level="district").count() == 11

    def test_second_run_changes_nothing_and_adds_no_history(self, codes):
        before = FunctionCode.history.count()
        report = codes_import(directory=CODES_DIR)
        assert report.total("created") == report.total("updated") == report.total("retired") == 0
        assert report.total("unchanged") == codes.total("created")
        assert FunctionCode.history.count() == before

    def test_bad_rows_are_reported_and_the_rest_loads(self, db, code_dir):
        path = code_dir / "function_codes.csv"
        text = path.read_text(encoding="utf-8")
        text += ("2010x01,坏代码,项,20101\n"        # not digits
                 "2059999,孤儿,项,20599\n"          # parent missing
                 "20109,,款,201\n"                 # no name
                 "2010102,重复,项,20101\n"          # duplicate
                 "301999,长度不对,项,30199\n"        # 6 digits for 项
                 "2080599,有效新代码,项,20805\n")    # good
        path.write_text(text, encoding="utf-8")
        report = codes_import(directory=code_dir)
        got = [(i.file, i.line, i.field) for i in report.issues]
        assert got == [
            ("function_codes.csv", 56, "code"),
            ("function_codes.csv", 57, "parent"),
            ("function_codes.csv", 58, "name"),
            ("function_codes.csv", 59, "code"),
            ("function_codes.csv", 60, "code"),
        ]
        assert "parent 20599 does not exist" in str(report.issues[1])
        assert "appears twice" in report.issues[3].reason
        assert FunctionCode.objects.filter(code="2080599", active=True).exists()
        assert FunctionCode.objects.count() == 55

    def test_codes_missing_from_the_file_are_retired_not_deleted(self, codes, code_dir, user):
        path = code_dir / "economic_codes_department.csv"
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(ln for ln in lines if not ln.startswith("30202,")) + "\n",
                        encoding="utf-8")
        report = codes_import(directory=code_dir, user=user, reason="2027 catalogue")
        assert report.total("retired") == 1
        code = EconomicCode.objects.get(code="30202")
        assert code.active is False
        last = code.history.first()
        assert last.history_user == user
        assert last.history_change_reason == "2027 catalogue (economic_codes_department.csv: no longer listed)"

    def test_changed_name_is_updated_with_history(self, codes, code_dir, user):
        path = code_dir / "function_codes.csv"
        path.write_text(path.read_text(encoding="utf-8").replace("2010101,行政运行", "2010101,行政运行（新）"),
                        encoding="utf-8")
        report = codes_import(directory=code_dir, user=user, reason="rename")
        assert report.total("updated") == 1
        code = FunctionCode.objects.get(code="2010101")
        assert code.name == "行政运行（新）"
        assert [h.name for h in code.history.all()[:2]] == ["行政运行（新）", "行政运行"]
        assert code.history.first().history_change_reason == "rename (function_codes.csv:4)"

    def test_gbk_file_and_missing_column(self, db, code_dir):
        (code_dir / "fund_sources.csv").write_bytes("code,name\n1,一般公共预算\n".encode("gbk"))
        (code_dir / "revenue_codes.csv").write_text("code,title\n101,x\n", encoding="utf-8")
        report = codes_import(directory=code_dir)
        assert [str(i) for i in report.issues] == [
            "revenue_codes.csv:1: name,level,parent: header lacks column(s) name, level, parent"]
        assert list(report.files[1].__dict__.values())[1:5] == [1, 0, 0, 0]

    def test_command_prints_file_line_reason_and_fails(self, db, code_dir, capsys):
        (code_dir / "accounts.csv").write_text(
            "code,name,book,category,normal_side\n1001,库存现金,financial,asset,debit\n"
            "1002,银行存款,cash,asset,debit\n", encoding="utf-8")
        with pytest.raises(CommandError, match="1 row"):
            call_command("import_codes", str(code_dir))
        err = capsys.readouterr().err
        assert f"{code_dir / 'accounts.csv'}:3: book: book 'cash' is not one of" in err
        assert Account.objects.filter(code="1001").exists()
