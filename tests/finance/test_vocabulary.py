"""One idea, one place: the shared words of the domain are finance's, and the apps do not
spell them again (docs/ARCHITECTURE.md, "The vocabulary"). These checks read the source."""
from __future__ import annotations

import csv
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("finance", "budgets", "payments", "audit", "reports", "web", "citysim", "config",
        "bench")


def sources(*, allow: tuple[str, ...] = ()) -> list[Path]:
    out = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if "/migrations/" in rel or rel in allow:
                continue
            out.append(path)
    return out


def account_codes() -> set[str]:
    with open(ROOT / "finance/data/codes/accounts.csv", encoding="utf-8") as f:
        return {row["code"] for row in csv.DictReader(f)}


class TestOneVocabulary:
    def test_no_account_code_literal_outside_the_chart_module(self):
        codes = "|".join(sorted(account_codes()))
        pattern = re.compile(rf"""(["'])({codes})\1""")
        found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
                 for p in sources(allow=("finance/chart.py",))
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line)]
        assert found == []

    def test_entry_kinds_are_named_by_the_chart(self):
        kinds = "approval|adjustment|virement|commit|payment|reversal|closing|carry_forward|opening"
        pattern = re.compile(rf"""(kind|entry__kind)\s*=\s*["']({kinds})["']""")
        found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()}"
                 for p in sources(allow=("finance/chart.py",))
                 # models name their own kinds; bench scripts query entries in raw SQL
                 if not p.name.startswith("models") and "bench" not in p.parts
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if pattern.search(line)]
        assert found == []

    def test_the_tuple_the_measures_and_the_reference_format_are_defined_once(self):
        checks = {
            r"^class Dims\b": "finance/dimensions.py",
            r"""["']tr:v1:["']""": "finance/measures.py",
            r"^(BASE_MEASURES|COMBINED|_MEASURES|_COMBINED)\s*[:=]": "finance/measures.py",
            r"""\.split\(["']\|["']\)""": "finance/dimensions.py",  # parsing a tuple key
            r"^class ProjectCategory\b": "finance/dimensions.py",
        }
        for pattern, home in checks.items():
            rx = re.compile(pattern, re.M)
            where = {p.relative_to(ROOT).as_posix() for p in sources()
                     if rx.search(p.read_text(encoding="utf-8"))}
            assert where <= {home}, (pattern, where)


class TestEntryKinds:
    def test_an_entry_of_a_kind_the_chart_does_not_name_is_refused(self, ledger, user):  # noqa: ANN001, ARG002
        import datetime as dt
        from decimal import Decimal

        import pytest

        from finance import errors
        from finance.ledger import entry_post
        from finance.models import Entry
        from tests.helpers import commit_lines

        before = Entry.objects.count()
        with pytest.raises(errors.UnknownEntryKind) as exc:
            entry_post(lines=commit_lines(Decimal("1.00")), description="x", user=user,
                       on=dt.date(2026, 3, 1), kind="pay")
        assert "'pay'" in str(exc.value) and "payment" in str(exc.value)
        assert Entry.objects.count() == before
