"""公务卡 page: each role's answer, a unit's cards seen by its people only, the overdue
mark, the treasury's upload and the filer's repayment of chosen transactions (the services
are tested in tests/payments/test_official_cards.py)."""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from payments import services as pay
from payments.models import CardTransaction
from payments.services import cards
from tests.helpers import YEAR, dims
from tests.payments.test_official_cards import CARD_FILE, ICBC_NANSHAN

pytestmark = pytest.mark.django_db
# the permission matrix of this page (tests/web/test_permissions.py's registry)
ROLES = ["anonymous", "filer", "head", "other_filer", "dept", "reviewer", "office", "auditor"]
LOGIN, A = 302, 200
PAGES = {
    "/web/cards/": [LOGIN, A, A, A, A, A, A, A],
}


@pytest.fixture
def card_world(world, user):  # noqa: ANN001
    """张伟's card of U1 registered by its filer; the pages file today, not in March: no
    plan control for the fund source."""
    pay.fund_source_plan_control_set(fund_source=dims().fund_source, enabled=False, user=user,
                                     reason="test: filed today, not in March")
    world.card = cards.official_card_save(unit=world.orgs["u1"], holder="张伟",
                                          number="6222024000011112222", cnaps=ICBC_NANSHAN,
                                          user=world.people.filer, reason="新办公务卡")
    return world


def test_each_role_gets_the_expected_answer_and_sees_only_its_units_cards(card_world):  # noqa: ANN001
    wrong = []
    for i, role in enumerate(ROLES):
        c = Client()
        if role != "anonymous":
            c.force_login(getattr(card_world.people, role))
        for url, answers in PAGES.items():
            r = c.get(url)
            if r.status_code != answers[i]:
                wrong.append(f"{role} {url}: {r.status_code}, expected {answers[i]}")
            elif r.status_code == 200 and role == "other_filer" and "2222" in r.content.decode():
                wrong.append("other_filer sees U1's card")
    assert wrong == []


def test_upload_mark_overdue_and_repay_through_the_page(card_world):  # noqa: ANN001
    w = card_world
    treasury = Client(headers={"accept-language": "zh-hans"})
    treasury.force_login(w.people.reviewer)
    r = treasury.post("/web/cards/", {"action": "upload", "file": SimpleUploadedFile(
        "GSK_202603.csv", CARD_FILE, content_type="text/csv")}, follow=True)
    html = r.content.decode()
    assert "GSK_202603.csv:5: currency" in html and "GSK_202603.csv:6: card" in html
    assert CardTransaction.objects.count() == 3

    filer = Client(headers={"accept-language": "zh-hans"})
    filer.force_login(w.people.filer)
    html = filer.get(f"/web/cards/?year={YEAR}").content.decode()
    # posted in March, the page's today is later: the two charges are overdue, the refund
    # owes nothing
    assert html.count('class="overdue table-danger"') == 2
    assert "6222024000011112222" in html  # the unit's filer sees the number in full
    # 356.00 − 200.00 = 156.00 within U1's 1,000.00 − 120.50 = 879.50
    chosen = CardTransaction.objects.filter(reference__in=["GS202603010001", "GS202603050003"])
    r = filer.post(f"/web/cards/?year={YEAR}", {
        "action": "repay", "indicator": dims().key(YEAR), "purpose": "",
        "tx": [str(t.pk) for t in chosen]}, follow=True)
    assert r.status_code == 200
    matched = CardTransaction.objects.filter(status="matched")
    assert sorted(matched.values_list("reference", flat=True)) == [
        "GS202603010001", "GS202603050003"]
    assert matched.first().request.amount == Decimal("156.00")
    head = Client()
    head.force_login(w.people.head)
    assert "6222 **** **** 2222" in head.get("/web/cards/").content.decode()
